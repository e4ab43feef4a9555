"""Login throttling: wrong passwords lock a username out from one address, on the site and in the
admin, until the wait is over or an administrator unlocks it. Real django-axes, real views.

Each test runs in its own rolled-back transaction and axes keeps its counters in the database
(AccessAttempt), so no test is locked out by another one's failures.
"""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "pw-mia-123456"  # the member fixture's


def _sign_in(client: Client, username: str, password: str, *, admin: bool = False, **meta):
    url = reverse("admin:login") if admin else reverse("login")
    return client.post(url, {"username": username, "password": password}, **meta)


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _fail(client: Client, username: str, times: int, *, admin: bool = False, **meta) -> None:
    for i in range(times):
        response = _sign_in(client, username, f"wrong-{i}", admin=admin, **meta)
        assert response.status_code in (200, 429)


@pytest.mark.parametrize("admin", [False, True], ids=["site", "admin"])
def test_five_wrong_passwords_lock_out_and_the_right_one_is_then_refused(
    client, member, admin, settings
):
    if admin:
        member.is_staff = True
        member.save()
    _fail(client, "mia", settings.AXES_FAILURE_LIMIT, admin=admin)
    response = _sign_in(client, "mia", PASSWORD, admin=admin)
    assert response.status_code == 429
    assert not _signed_in(client)
    html = response.content.decode()
    assert "Too many failed sign-ins" in html
    assert "Try again in 15 minutes" in html
    assert "ask your team administrator to unlock the account" in html


def test_fewer_failures_than_the_limit_still_let_the_right_password_in(client, member, settings):
    _fail(client, "mia", settings.AXES_FAILURE_LIMIT - 1)
    response = _sign_in(client, "mia", PASSWORD)
    assert response.status_code == 302 and _signed_in(client)
    # A success clears the count, so the next mistakes start from zero.
    assert not AccessAttempt.objects.filter(username="mia").exists()


def test_site_and_admin_failures_add_up(client, member, settings):
    member.is_staff = True
    member.save()
    _fail(client, "mia", 3)
    _fail(client, "mia", settings.AXES_FAILURE_LIMIT - 3, admin=True)
    assert _sign_in(client, "mia", PASSWORD).status_code == 429


def test_the_lockout_is_for_that_username_and_address_only(client, member, other_member, settings):
    _fail(client, "mia", settings.AXES_FAILURE_LIMIT, REMOTE_ADDR="198.51.100.7")
    assert _sign_in(client, "mia", PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 429
    # Someone else at the same address, and the same person elsewhere, are not locked out.
    assert (
        _sign_in(Client(), "omar", "pw-omar-123456", REMOTE_ADDR="198.51.100.7").status_code == 302
    )
    assert _sign_in(Client(), "mia", PASSWORD, REMOTE_ADDR="198.51.100.8").status_code == 302


def test_the_message_is_translated(client, member, settings):
    _fail(client, "mia", settings.AXES_FAILURE_LIMIT)
    html = _sign_in(client, "mia", PASSWORD, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "登录失败次数过多" in html and "管理员" in html


def test_an_administrator_unlocks_the_account_in_the_admin(client, member, settings):
    _fail(client, "mia", settings.AXES_FAILURE_LIMIT)
    assert _sign_in(client, "mia", PASSWORD).status_code == 429
    attempt = AccessAttempt.objects.get(username="mia")
    root = User.objects.create_superuser("root", password="pw-root-123456")
    admin = Client()
    admin.force_login(root)
    listing = admin.get(reverse("admin:axes_accessattempt_changelist")).content.decode()
    assert "mia" in listing
    response = admin.post(
        reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    response = _sign_in(client, "mia", PASSWORD)
    assert response.status_code == 302 and _signed_in(client)


# --- Behind the proxy ------------------------------------------------------------------------------


def test_behind_the_proxy_the_address_it_appended_is_counted(client, member, settings):
    settings.SORAWEB_TRUSTED_PROXY_COUNT = 1
    settings.SORAWEB_FORWARDED_ALLOW_IPS = ["127.0.0.1"]
    # nginx appends the address it saw; a client may put anything in front of it.
    for i in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(
            client,
            "mia",
            "wrong",
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=f"10.9.9.{i}, 198.51.100.7",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}
    # A fresh spoofed left-hand entry does not get the attacker a new counter...
    locked = _sign_in(
        Client(),
        "mia",
        PASSWORD,
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.50, 198.51.100.7",
    )
    assert locked.status_code == 429
    # ...and the same person at another address is not locked out by it.
    other = _sign_in(
        Client(), "mia", PASSWORD, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.8"
    )
    assert other.status_code == 302


def test_the_header_is_ignored_from_a_connection_that_is_not_the_proxy(client, member, settings):
    settings.SORAWEB_TRUSTED_PROXY_COUNT = 1
    settings.SORAWEB_FORWARDED_ALLOW_IPS = ["127.0.0.1"]
    _fail(
        client,
        "mia",
        settings.AXES_FAILURE_LIMIT,
        REMOTE_ADDR="192.0.2.10",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"192.0.2.10"}
    # Rotating the header does not escape the lockout of the address that really connected.
    response = _sign_in(
        client, "mia", PASSWORD, REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="198.51.100.99"
    )
    assert response.status_code == 429


def test_without_a_trusted_proxy_the_header_is_never_believed(client, member, settings):
    settings.SORAWEB_TRUSTED_PROXY_COUNT = 0
    _fail(client, "mia", settings.AXES_FAILURE_LIMIT, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_production_trusts_one_proxy_by_default():
    import subprocess
    import sys

    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='soraweb.settings';"
        "from django.conf import settings; print(settings.SORAWEB_TRUSTED_PROXY_COUNT)"
    )
    env = {"SORAWEB_PRODUCTION": "1", "SORAWEB_SECRET_KEY": "x" * 60, "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "1"
    out = subprocess.run(
        [sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert out.stdout.strip() == "0"
