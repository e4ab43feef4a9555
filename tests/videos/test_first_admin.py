"""The first admin's generated password: kept on this machine (0600) so `make run` can repeat it,
forgotten once the admin changes it, and never written when the password came from outside."""

from __future__ import annotations

import os
import stat

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from soraweb.videos.management.commands import soraweb_setup


@pytest.fixture
def data_dir(tmp_path, settings):
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.mark.django_db
def test_a_generated_password_is_kept_privately_until_it_is_changed(data_dir, monkeypatch):
    monkeypatch.delenv("SORAWEB_ADMIN_PASSWORD", raising=False)
    monkeypatch.setenv("SORAWEB_ADMIN_USER", "boss")
    call_command("soraweb_setup", stdout=open(os.devnull, "w"))  # noqa: SIM115
    kept = data_dir / "first-admin.txt"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    username, password = kept.read_text().splitlines()
    assert username == "boss" and User.objects.get(username="boss").check_password(password)

    note = soraweb_setup.first_admin_note(site_url="http://127.0.0.1:8000/")
    assert f"as “boss” with the password: {password}" in note
    assert "http://127.0.0.1:8000/admin/password_change/" in note

    user = User.objects.get(username="boss")
    user.set_password("a-new-password-of-hers")
    user.save()
    assert soraweb_setup.first_admin_note(site_url="http://127.0.0.1:8000/") is None
    assert not kept.exists()  # of no use any more


@pytest.mark.django_db
def test_a_password_given_in_the_environment_is_not_written_down(data_dir, monkeypatch):
    monkeypatch.setenv("SORAWEB_ADMIN_PASSWORD", "chosen-by-the-operator")
    call_command("soraweb_setup", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert not (data_dir / "first-admin.txt").exists()
    assert soraweb_setup.first_admin_note(site_url="http://x/") is None
