"""A local S3-compatible server for tests: moto in server mode, in its own process."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import requests

from tests.conftest import free_port

ACCESS_KEY = "soraweb-test-access"
SECRET_KEY = "soraweb-test-secret-0123456789"
REGION = "us-east-1"


@dataclass
class S3Server:
    endpoint_url: str
    bucket: str

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def env(self) -> dict[str, str]:
        """Settings that point soraweb's media at this server."""
        return {
            "SORAWEB_S3_BUCKET": self.bucket,
            "SORAWEB_S3_ENDPOINT_URL": self.endpoint_url,
            "SORAWEB_S3_REGION": REGION,
            "SORAWEB_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "SORAWEB_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def objects(self, prefix: str = "") -> dict[str, int]:
        """Every key under ``prefix`` with its size."""
        found: dict[str, int] = {}
        for page in (
            self.client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=self.bucket, Prefix=prefix)
        ):
            for item in page.get("Contents", []):
                found[item["Key"]] = item["Size"]
        return found

    def read(self, key: str) -> bytes:
        return self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()


@contextlib.contextmanager
def moto_s3(log_path: Path, bucket: str = "soraweb-media") -> Iterator[S3Server]:
    port = free_port()
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            endpoint = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"moto server exited early:\n{log_path.read_text()[-2000:]}")
                try:
                    requests.get(endpoint, timeout=1)
                    break
                except requests.RequestException:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            server = S3Server(endpoint_url=endpoint, bucket=bucket)
            server.client().create_bucket(Bucket=bucket)
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
