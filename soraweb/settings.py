"""soraweb settings: one module, read from the environment.

The defaults are an embedded single-machine setup (SQLite, django-q2's ORM broker, local media,
the built-in relay simulator when no provider is configured). Production pieces are switched on
by environment variables; see the configuration table in README.md.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

from soraweb.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("SORAWEB_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data dir."""
    key = env_str("SORAWEB_SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("SORAWEB_DEBUG", False)
ALLOWED_HOSTS = env_list("SORAWEB_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("SORAWEB_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_q",
    "soraweb.videos",
    "soraweb.simulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "soraweb.urls"
WSGI_APPLICATION = "soraweb.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "soraweb.videos.context_processors.studio",
            ],
        },
    },
]


# --- Database -----------------------------------------------------------------------------------


def _database_from_url(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme in {"postgres", "postgresql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": env_int("SORAWEB_DB_CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
        }
    if parts.scheme == "sqlite":
        return _sqlite(Path(unquote(parts.path)))
    raise ValueError(
        f"DATABASE_URL: unsupported scheme {parts.scheme!r} (use postgres:// or sqlite://)"
    )


def _sqlite(path: Path) -> dict:
    # WAL lets the web server read while the worker writes; IMMEDIATE takes the write lock at
    # BEGIN so two writers queue on the busy timeout instead of failing with "database is
    # locked" halfway through a transaction (django-q2's ORM broker loses results otherwise).
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


DATABASE_URL = env_str("DATABASE_URL")
DATABASES = {
    "default": _database_from_url(DATABASE_URL)
    if DATABASE_URL
    else _sqlite(DATA_DIR / "db.sqlite3")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- Background work (django-q2) ----------------------------------------------------------------

# A chat-completions generation streams for up to ~10 minutes inside one task, so a task may run
# 15 minutes; `retry` must be above `timeout` or a slow task would be handed to a second worker.
Q_CLUSTER = {
    "name": "soraweb",
    "workers": env_int("SORAWEB_WORKERS", 4),
    "timeout": 900,
    "retry": 960,
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 500,
    "ack_failures": True,
    "orm": "default",
    "poll": 0.2,
    "label": "Background tasks",
}
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = REDIS_URL
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }


# --- Auth -----------------------------------------------------------------------------------------

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "videos:studio"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]


# --- Internationalisation ----------------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "soraweb" / "locale"]
TIME_ZONE = env_str("SORAWEB_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True


# --- Static and media ----------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(exist_ok=True)
# Serve straight from the source folders until collectstatic has been run (development, tests).
WHITENOISE_USE_FINDERS = not any(STATIC_ROOT.iterdir())
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = Path(env_str("SORAWEB_MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "/media/"  # never served directly: videos go through a login-checked view

# Uploaded reference images are read in memory up to this size, then Django spools to disk.
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024


# --- soraweb --------------------------------------------------------------------------------------

# The provider configured by environment. When no base URL is given, the built-in simulator is
# the provider and every page says so.
SORAWEB_PROVIDER_BASE_URL = env_str("SORAWEB_PROVIDER_BASE_URL")
SORAWEB_PROVIDER_API_KEY = env_str("SORAWEB_PROVIDER_API_KEY")
SORAWEB_PROVIDER_FORMAT = env_str("SORAWEB_PROVIDER_FORMAT", "unified")
SORAWEB_PROVIDER_WEBHOOK_SECRET = env_str("SORAWEB_PROVIDER_WEBHOOK_SECRET")
# Seconds to wait for a provider's answer (a chat stream: between two chunks).
SORAWEB_PROVIDER_CONNECT_TIMEOUT = env_float("SORAWEB_PROVIDER_CONNECT_TIMEOUT", 5.0)
SORAWEB_PROVIDER_READ_TIMEOUT = env_float("SORAWEB_PROVIDER_READ_TIMEOUT", 30.0)
SORAWEB_PROVIDER_STREAM_TIMEOUT = env_float("SORAWEB_PROVIDER_STREAM_TIMEOUT", 120.0)
SORAWEB_SIMULATOR_PORT = env_int("SORAWEB_SIMULATOR_PORT", 8001)
SORAWEB_SIMULATOR_URL = env_str(
    "SORAWEB_SIMULATOR_URL", f"http://127.0.0.1:{SORAWEB_SIMULATOR_PORT}/v1"
)

# How long the adaptive poll loop keeps running inside one task before handing over to the next
# scheduled run (seconds); 0 makes it a single pass (tests).
SORAWEB_POLL_LOOP_SECONDS = env_float("SORAWEB_POLL_LOOP_SECONDS", 50.0)
# Start the poll loop as soon as a job is accepted (else it waits for the minute schedule).
SORAWEB_KICK_POLL_LOOP = env_bool("SORAWEB_KICK_POLL_LOOP", True)
# A job still "submitting" this long after its last sign of life was interrupted mid-create
# (worker killed). Must exceed the provider read timeout; chat streams renew it as they go.
SORAWEB_SUBMIT_LEASE_SECONDS = env_int("SORAWEB_SUBMIT_LEASE_SECONDS", 60)
# Archiving renews its lease every few megabytes, so this only bounds a stall.
SORAWEB_ARCHIVE_LEASE_SECONDS = env_int("SORAWEB_ARCHIVE_LEASE_SECONDS", 90)
SORAWEB_MAX_VIDEO_BYTES = env_int("SORAWEB_MAX_VIDEO_BYTES", 1024 * 1024 * 1024)
SORAWEB_MAX_IMAGE_BYTES = env_int("SORAWEB_MAX_IMAGE_BYTES", 10 * 1024 * 1024)
SORAWEB_MAX_IMAGE_PIXELS = env_int("SORAWEB_MAX_IMAGE_PIXELS", 40_000_000)
# Public origin of this site, used to hand providers fetchable URLs of reference images. Empty:
# images are sent inline as data: URLs.
SORAWEB_PUBLIC_URL = env_str("SORAWEB_PUBLIC_URL")


# --- Logging: never log secrets; request bodies and headers are not logged at all ------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("SORAWEB_LOG_LEVEL", "INFO")},
    "loggers": {
        "django_q": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}
