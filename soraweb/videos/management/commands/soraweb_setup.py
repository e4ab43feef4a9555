"""Make a fresh or upgraded installation ready: every schedule, and a first admin account."""

from __future__ import annotations

import os
import secrets

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
        password = os.environ.get("SORAWEB_ADMIN_PASSWORD")
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
            # Printed once, here, because nobody else knows it; it is stored only as a hash.
            self.stdout.write(
                self.style.WARNING(f"Its password (shown only this once): {password}")
            )
