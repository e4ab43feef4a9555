"""DATABASE_URL, REDIS_URL and the S3 variables switch the backends, by configuration alone."""

from __future__ import annotations

from tests.clusters import clean_env, run_script

DUMP = r"""
import json
import django
django.setup()
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "user": db.get("USER"), "host": db.get("HOST"),
    "port": db.get("PORT"), "options": db.get("OPTIONS", {}), "vendor": connection.vendor,
    "q_cluster": {k: v for k, v in settings.Q_CLUSTER.items() if k in ("name", "redis", "orm")},
    "cache": settings.CACHES["default"],
    "storage": default_storage.__class__.__name__,
    "storage_options": settings.STORAGES["default"].get("OPTIONS", {}),
}))
"""


def _dump(tmp_path, **env) -> dict:
    return run_script(clean_env(SORAWEB_DATA_DIR=str(tmp_path), **env), DUMP)


def test_the_embedded_default_is_sqlite_orm_broker_and_local_files(tmp_path):
    out = _dump(tmp_path)
    assert out["vendor"] == "sqlite"
    assert out["q_cluster"] == {"name": "soraweb", "orm": "default"}
    assert out["cache"]["BACKEND"].endswith("LocMemCache")
    assert out["storage"] == "FileSystemStorage"


def test_database_url_redis_url_and_s3_switch_everything(tmp_path):
    out = _dump(
        tmp_path,
        DATABASE_URL="postgres://sora%40web:p%2Fss@db.internal:6543/videos?sslmode=require",
        REDIS_URL="redis://cache.internal:6380/2",
        SORAWEB_CLUSTER_NAME="blue",
        SORAWEB_S3_BUCKET="team-videos",
        SORAWEB_S3_ENDPOINT_URL="https://minio.internal:9000",
        SORAWEB_S3_ACCESS_KEY_ID="AKIAEXAMPLE",
        SORAWEB_S3_SECRET_ACCESS_KEY="secret-example-key",
        SORAWEB_S3_PREFIX="/soraweb/",
    )
    assert out["engine"] == "django.db.backends.postgresql" and out["vendor"] == "postgresql"
    assert (out["name"], out["user"], out["host"], str(out["port"])) == (
        "videos",
        "sora@web",
        "db.internal",
        "6543",
    )
    assert out["options"] == {"connect_timeout": 5, "sslmode": "require"}
    assert out["q_cluster"] == {"name": "blue", "redis": "redis://cache.internal:6380/2"}
    assert out["cache"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://cache.internal:6380/2",
        "KEY_PREFIX": "blue",
    }
    assert out["storage"] == "S3Storage"
    options = out["storage_options"]
    assert options["bucket_name"] == "team-videos"
    assert options["endpoint_url"] == "https://minio.internal:9000"
    assert options["addressing_style"] == "path"  # S3-compatible servers want path style
    assert options["location"] == "soraweb"
    assert options["file_overwrite"] is False
    assert "region_name" not in options  # empty: boto3 decides


def test_s3_without_keys_leaves_credentials_to_boto3(tmp_path):
    out = _dump(tmp_path, SORAWEB_S3_BUCKET="team-videos")
    options = out["storage_options"]
    assert "access_key" not in options and "secret_key" not in options
    assert options["addressing_style"] == "virtual"


def test_a_sqlite_url_keeps_the_embedded_defaults_options(tmp_path):
    out = _dump(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path}/team.sqlite3")
    assert out["vendor"] == "sqlite"
    assert out["name"] == f"{tmp_path}/team.sqlite3"
    assert out["options"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in out["options"]["init_command"]
