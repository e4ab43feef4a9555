"""soraweb settings: one module, read from the environment.

The defaults are an embedded single-machine setup (SQLite, django-q2's ORM broker, local media,
the built-in relay simulator when no provider is configured). Production pieces are switched on
by environment variables; see the configuration table in README.md.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from soraweb.env import LIVE_STREAMS_DEFAULT, env_bool, env_float, env_int, env_list, env_str
from soraweb.logs import logging_config
from soraweb.security import csp_policy, s3_origins

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("SORAWEB_DATA_DIR", str(BASE_DIR / "var"))).resolve()


def _private_dir(path: Path) -> Path:
    """Create ``path`` readable by this account only (0o700); an existing one is left alone."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


# The database, the media and the secret key are this account's alone (0o700 / 0o600).
_private_dir(DATA_DIR)


# Production hardening (HTTPS-only cookies, HSTS, JSON logs, hashed static files); see the
# Deployment section of README.md.
PRODUCTION = env_bool("SORAWEB_PRODUCTION", False)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data dir."""
    key = env_str("SORAWEB_SECRET_KEY")
    if key:
        return key
    if PRODUCTION:  # every web and worker process, on every machine, must share one key
        raise ImproperlyConfigured("SORAWEB_PRODUCTION is on: set SORAWEB_SECRET_KEY (or _FILE)")
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("SORAWEB_DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("SORAWEB_DEBUG must be off when SORAWEB_PRODUCTION is on")
ALLOWED_HOSTS = env_list("SORAWEB_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("SORAWEB_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "soraweb.admin_apps.AdminConfig",  # django.contrib.admin, with two-factor for staff
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "soraweb.cluster",  # before django_q: its `qcluster` (sentinel in-process) is the one run
    "django_q",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "soraweb.videos",
    "soraweb.ops",
    "soraweb.simulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "soraweb.security.ContentSecurityPolicyMiddleware",
    "soraweb.compression.TextGZipMiddleware",  # pages only; static files come precompressed
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified() for the admin site
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "soraweb.accounts.IdleTimeoutMiddleware",  # after messages: it says why you were signed out
    "soraweb.zones.TimeZoneMiddleware",  # the person's time zone (after auth and idle sign-out)
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After sign-in is checked: a 400 for NUL in an address or query string.
    "soraweb.input_guard.RefuseNulMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as axes asks: turns a lockout into its page
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


def _database_from_url(url: str) -> dict[str, Any]:
    scheme = urlsplit(url).scheme
    if scheme in {"postgres", "postgresql"}:
        config: dict[str, Any] = {
            **dj_database_url.parse(
                url,
                conn_max_age=env_int("SORAWEB_DB_CONN_MAX_AGE", 60),
                conn_health_checks=True,
            )
        }
        # ?sslmode=require etc. pass through to libpq; a bounded connect keeps /healthz quick.
        config["OPTIONS"] = {"connect_timeout": 5, **config.get("OPTIONS", {})}
        return config
    if scheme == "sqlite":
        # The file from the URL, with the embedded default's options (WAL, IMMEDIATE, timeout).
        return _sqlite(Path(dj_database_url.parse(url)["NAME"]))
    raise ValueError(f"DATABASE_URL: unsupported scheme {scheme!r} (use postgres:// or sqlite://)")


def _sqlite(path: Path) -> dict[str, Any]:
    # Created here, empty and 0o600, before SQLite would create it with the process umask (often
    # world-readable); SQLite gives its -wal and -shm files the database file's permissions.
    if not path.exists():
        _private_dir(path.parent)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
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

# Chat-format streams are read by each worker's stream reader, outside any task, but a worker whose
# reader is full reads the next stream inside its task (up to ~10 minutes), so a task may run 15
# minutes; `retry` must be above `timeout` or a slow task would be handed to a second worker.
SORAWEB_TASK_TIMEOUT = env_int("SORAWEB_TASK_TIMEOUT", 900)
Q_CLUSTER = {
    # Clusters sharing a name share one queue; another installation on the same Redis needs its own.
    "name": env_str("SORAWEB_CLUSTER_NAME", "soraweb"),
    "workers": env_int("SORAWEB_WORKERS", 4),
    "timeout": SORAWEB_TASK_TIMEOUT,
    "retry": SORAWEB_TASK_TIMEOUT + 60,
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
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": Q_CLUSTER["name"],
        }
    }


# --- Auth -----------------------------------------------------------------------------------------

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "videos:studio"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling (django-axes): after SORAWEB_LOGIN_FAILURE_LIMIT wrong passwords for one
# username from one address, that pair is refused (the right password too) for
# SORAWEB_LOGIN_LOCKOUT_MINUTES; each refused try restarts the wait. Admin -> Access attempts:
# deleting a row unlocks it. Site and admin sign-in share the counter.
AUTHENTICATION_BACKENDS = [
    "soraweb.accounts.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("SORAWEB_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SORAWEB_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "soraweb.accounts.lockout_response"
AXES_CLIENT_IP_CALLABLE = "soraweb.accounts.client_ip"
AXES_VERBOSE = False  # axes' own log lines name the username; soraweb logs its own
# Which address counts: behind a proxy that appends to X-Forwarded-For (docker/nginx.conf.example)
# the entry SORAWEB_TRUSTED_PROXY_COUNT from the right, when the connection comes from one of
# SORAWEB_FORWARDED_ALLOW_IPS (gunicorn's list of proxies it takes the scheme from). Production
# already trusts a proxy's X-Forwarded-Proto, so it trusts one proxy's address by default.
SORAWEB_FORWARDED_ALLOW_IPS = env_list("SORAWEB_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
SORAWEB_TRUSTED_PROXY_COUNT = env_int(
    "SORAWEB_TRUSTED_PROXY_COUNT",
    1 if PRODUCTION and env_bool("SORAWEB_PROXY_SSL_HEADER", True) else 0,
)

# Two-factor sign-in for staff (django-otp, TOTP): with SORAWEB_STAFF_2FA on, the admin asks
# staff for the code from their authenticator app; they enrol at /accounts/two-factor/ first.
SORAWEB_STAFF_2FA = env_bool("SORAWEB_STAFF_2FA", False)
OTP_TOTP_ISSUER = "soraweb"
# A device's secret (key, QR code) is shown once, to its owner, on the enrolment page; never in
# the admin, where other staff could read it.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Sessions: signed out after this long without activity (background polls by open pages do not
# count as activity); 0 turns the idle timeout off. The cookie itself lasts at most two weeks.
SORAWEB_SESSION_IDLE_MINUTES = env_int("SORAWEB_SESSION_IDLE_MINUTES", 8 * 60)


# --- Internationalisation ----------------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "soraweb" / "locale"]
# The installation's zone: anonymous pages, people whose browser has not said theirs, and the
# team's budget days and months (each person sees times in their own zone: soraweb/zones.py).
TIME_ZONE = env_str("SORAWEB_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True


# --- Static and media ----------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("SORAWEB_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve straight from the source folders until collectstatic has been run.
WHITENOISE_USE_FINDERS = not any(STATIC_ROOT.iterdir())
# Hashed names, precompressed copies, cached for a year, in every mode (the same code path the
# image uses): collectstatic runs in `make run`, at image build time and in the test set-up.
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "soraweb.compression.StaticFilesStorage"},
}
MEDIA_ROOT = Path(env_str("SORAWEB_MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "/media/"  # never served directly: videos go through a login-checked view
_private_dir(MEDIA_ROOT)
# Files and folders the storage writes (videos, posters, reference images) are private too.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# S3-compatible media (AWS, MinIO, Ceph, R2...) when a bucket is named; the keys may be left
# empty to use boto3's own chain (instance role, AWS_* variables). MEDIA_ROOT still holds the
# temporary downloads while a video is checked.
SORAWEB_S3_BUCKET = env_str("SORAWEB_S3_BUCKET")
SORAWEB_S3_ENDPOINT_URL = env_str("SORAWEB_S3_ENDPOINT_URL")
SORAWEB_S3_SECRET_ACCESS_KEY = env_str("SORAWEB_S3_SECRET_ACCESS_KEY")
# How a video reaches the browser: "app" (streamed by soraweb with Range, from disk or with
# ranged S3 reads), "redirect" (S3 only: a short-lived presigned URL) or "accel" (local media
# only: nginx serves the file named by X-Accel-Redirect).
SORAWEB_MEDIA_DELIVERY = env_str("SORAWEB_MEDIA_DELIVERY", "app")
SORAWEB_MEDIA_URL_SECONDS = env_int("SORAWEB_MEDIA_URL_SECONDS", 300)
SORAWEB_MEDIA_ACCEL_PREFIX = env_str("SORAWEB_MEDIA_ACCEL_PREFIX", "/protected-media/")
if SORAWEB_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            key: value
            for key, value in {
                "bucket_name": SORAWEB_S3_BUCKET,
                "endpoint_url": SORAWEB_S3_ENDPOINT_URL,
                "region_name": env_str("SORAWEB_S3_REGION"),
                "access_key": env_str("SORAWEB_S3_ACCESS_KEY_ID"),
                "secret_key": SORAWEB_S3_SECRET_ACCESS_KEY,
                "location": env_str("SORAWEB_S3_PREFIX").strip("/"),
                # Most S3-compatible servers want path-style URLs; AWS prefers virtual hosts.
                "addressing_style": env_str(
                    "SORAWEB_S3_ADDRESSING_STYLE", "path" if SORAWEB_S3_ENDPOINT_URL else "virtual"
                ),
                "signature_version": "s3v4",
                # Never overwrite: a losing archive attempt deletes only its own copy.
                "file_overwrite": False,
                "querystring_expire": SORAWEB_MEDIA_URL_SECONDS,
            }.items()
            if value != ""
        },
    }
if SORAWEB_MEDIA_DELIVERY not in {"app", "redirect", "accel"}:
    raise ImproperlyConfigured("SORAWEB_MEDIA_DELIVERY must be app, redirect or accel")
if SORAWEB_MEDIA_DELIVERY == "redirect" and not SORAWEB_S3_BUCKET:
    raise ImproperlyConfigured("SORAWEB_MEDIA_DELIVERY=redirect needs S3 media (SORAWEB_S3_BUCKET)")
if SORAWEB_MEDIA_DELIVERY == "accel" and SORAWEB_S3_BUCKET:
    raise ImproperlyConfigured("SORAWEB_MEDIA_DELIVERY=accel serves local media only")

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
# Live pages (soraweb.videos.live): at most this many open tabs hold a stream in one web process
# (gunicorn gets that many threads on top of SORAWEB_WEB_THREADS, so streams never take the
# threads normal pages need); a stream ends after SORAWEB_LIVE_STREAM_SECONDS and the browser
# reconnects; a comment every SORAWEB_LIVE_HEARTBEAT_SECONDS finds closed tabs.
SORAWEB_LIVE_STREAMS = env_int("SORAWEB_LIVE_STREAMS", LIVE_STREAMS_DEFAULT)
# Notices leave through one thread per process, batched (off in tests: inline, at commit).
SORAWEB_LIVE_OUTBOX_THREAD = True
SORAWEB_LIVE_STREAM_SECONDS = env_float("SORAWEB_LIVE_STREAM_SECONDS", 300.0)
SORAWEB_LIVE_HEARTBEAT_SECONDS = env_float("SORAWEB_LIVE_HEARTBEAT_SECONDS", 15.0)
# A running job's card asks for itself this often: the fallback for when the live stream is down.
SORAWEB_CARD_POLL_SECONDS = env_int("SORAWEB_CARD_POLL_SECONDS", 3)
# The poll loop's lease: renewed every quarter of this; a dead holder blocks polling at most this long.
SORAWEB_POLL_LEASE_SECONDS = env_float("SORAWEB_POLL_LEASE_SECONDS", 10.0)
# How long a new job keeps trying to reach a provider that refuses connections before it fails.
SORAWEB_PROVIDER_OUTAGE_MINUTES = env_float("SORAWEB_PROVIDER_OUTAGE_MINUTES", 10.0)
# A job still "submitting" this long after its last sign of life was interrupted mid-create
# (worker killed). Must exceed the provider read timeout; chat streams renew it as they go.
SORAWEB_SUBMIT_LEASE_SECONDS = env_int("SORAWEB_SUBMIT_LEASE_SECONDS", 60)
# Chat-format streams one worker process reads at once, beside its tasks (0: each stream is read
# inside its submit task, holding the worker, as before). Past this a worker reads the next one
# inside the task, which holds it and so sends further work to the other workers.
SORAWEB_STREAMS_PER_WORKER = env_int("SORAWEB_STREAMS_PER_WORKER", 200)
# Archiving renews its lease every few megabytes, so this only bounds a stall.
SORAWEB_ARCHIVE_LEASE_SECONDS = env_int("SORAWEB_ARCHIVE_LEASE_SECONDS", 90)
SORAWEB_MAX_VIDEO_BYTES = env_int("SORAWEB_MAX_VIDEO_BYTES", 1024 * 1024 * 1024)
SORAWEB_MAX_IMAGE_BYTES = env_int("SORAWEB_MAX_IMAGE_BYTES", 10 * 1024 * 1024)
SORAWEB_MAX_IMAGE_PIXELS = env_int("SORAWEB_MAX_IMAGE_PIXELS", 40_000_000)
# Public origin of this site, used to hand providers fetchable URLs of reference images. Empty:
# images are sent inline as data: URLs.
SORAWEB_PUBLIC_URL = env_str("SORAWEB_PUBLIC_URL")


# --- Notifications (soraweb.ops) -------------------------------------------------------------------

# E-mail the owner when a job ends (only people whose account has an address). Without an SMTP
# host, mail is printed to the console, which is what development wants.
SORAWEB_EMAIL_NOTIFICATIONS = env_bool("SORAWEB_EMAIL_NOTIFICATIONS", False)
EMAIL_HOST = env_str("SORAWEB_EMAIL_HOST")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("SORAWEB_EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("SORAWEB_EMAIL_USER")
EMAIL_HOST_PASSWORD = env_str("SORAWEB_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("SORAWEB_EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = env_str("SORAWEB_EMAIL_FROM", "soraweb <soraweb@localhost>")
# Team webhooks may not post to private or local addresses, except to hosts named here
# ("chat.internal" or "10.0.0.5:8065").
SORAWEB_WEBHOOK_ALLOWED_HOSTS = env_list("SORAWEB_WEBHOOK_ALLOWED_HOSTS")


# --- HTTP security -------------------------------------------------------------------------------

# The Content-Security-Policy sent with every response (soraweb.security); SORAWEB_CSP replaces it.
SORAWEB_CSP = env_str("SORAWEB_CSP") or csp_policy(
    media_origins=s3_origins(SORAWEB_S3_ENDPOINT_URL, SORAWEB_S3_BUCKET)
    if SORAWEB_MEDIA_DELIVERY == "redirect"
    else ()
)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
if PRODUCTION:
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
    if env_bool("SORAWEB_PROXY_SSL_HEADER", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SORAWEB_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # container and load-balancer probes speak plain HTTP
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SORAWEB_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SORAWEB_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SORAWEB_HSTS_PRELOAD", True)


# --- Logging: never log secrets; request bodies and headers are not logged at all ------------

# One line per record: JSON in production (SORAWEB_LOG_FORMAT=json|plain), with known secret
# values and credential-shaped strings masked by the formatter (soraweb.logs).
LOGGING = logging_config(
    fmt=env_str("SORAWEB_LOG_FORMAT", "json" if PRODUCTION else "plain"),
    level=env_str("SORAWEB_LOG_LEVEL", "INFO"),
    queue_level=env_str("SORAWEB_QUEUE_LOG_LEVEL", "WARNING"),
)
