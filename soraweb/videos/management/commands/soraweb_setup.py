"""Make a fresh or upgraded installation ready: every schedule, and a first admin account."""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from soraweb.schedules import ensure_schedules


class Command(BaseCommand):
    help = (
        "Create or repair every declared schedule, and create a first admin account when there "
        "is none."
    )

    def handle(self, *args, **options) -> None:
        ensure_schedules()
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        username = os.environ.get("SORAWEB_ADMIN_USER") or "admin"
        password = os.environ.get("SORAWEB_ADMIN_PASSWORD", "")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        try:  # the same rules as every other password (AUTH_PASSWORD_VALIDATORS)
            validate_password(password, User(username=username))
        except ValidationError as exc:
            raise CommandError("SORAWEB_ADMIN_PASSWORD: " + " ".join(exc.messages)) from None
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Created the first admin account: {username}"))
        if generated:
            # Nobody else knows it: the database keeps only a hash, so a copy stays on this
            # machine (readable by this user alone) until the admin changes it, and `make run`
            # shows it again at the end of its start-up, where it is not lost among log lines.
            first_admin_store(username=username, password=password)
            self.stdout.write(self.style.WARNING(f"Its password: {password}"))


def first_admin_path() -> Path:
    return Path(settings.DATA_DIR) / "first-admin.txt"


def first_admin_store(*, username: str, password: str) -> None:
    path = first_admin_path()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"{username}\n{password}\n")


def first_admin_note(*, site_url: str) -> str | None:
    """The first admin's sign-in, while its generated password is still the one in use."""
    path = first_admin_path()
    try:
        username, password = path.read_text(encoding="utf-8").splitlines()[:2]
    except (FileNotFoundError, ValueError):
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None or not user.check_password(password):
        path.unlink(missing_ok=True)  # changed since: the copy is of no use to anyone
        return None
    return (
        f"Sign in at {site_url} as “{username}” with the password: {password}\n"
        f"  (kept in {path}, readable only by you, until it is changed; change it at "
        f"{site_url}admin/password_change/ or with `manage.py changepassword {username}`)"
    )


def announce_first_admin_when_ready(*, write, site_url: str, timeout: float = 90.0) -> None:
    """Once the site answers, repeat the first admin's sign-in (a thread: start-up goes on)."""

    def wait_then_write() -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(site_url + "accounts/login/", timeout=2).status_code < 500:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            return
        note = first_admin_note(site_url=site_url)
        if note:
            write(note)

    threading.Thread(target=wait_then_write, name="first-admin-note", daemon=True).start()
