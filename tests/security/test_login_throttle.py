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


# --- Two-factor sign-in for staff (SORAWEB_STAFF_2FA) ----------------------------------------------


def _current_code(device) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def _admin_sign_in(client, username, password, token=""):
    return client.post(
        reverse("admin:login") + "?next=/admin/",
        {"username": username, "password": password, "otp_token": token, "next": "/admin/"},
    )


def test_with_2fa_on_a_password_alone_does_not_open_the_admin(client, staff, settings):
    settings.SORAWEB_STAFF_2FA = True
    response = _admin_sign_in(client, "sam", "pw-sam-123456")
    assert response.status_code == 200 and not _signed_in(client)
    assert 'name="otp_token"' in response.content.decode()
    zh = client.get(reverse("admin:login"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "身份验证器应用中的验证码" in zh
    # Signed in on the site with the password, the admin still wants the code.
    client.force_login(staff)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]


def test_staff_enrol_an_authenticator_and_then_sign_in_to_the_admin_with_it(
    client, staff, settings
):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.SORAWEB_STAFF_2FA = True
    assert _sign_in(client, "sam", "pw-sam-123456").status_code == 302  # the site: password
    page = client.get(reverse("two_factor"))
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html and "<script" not in html.split("<main")[1]
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    import base64

    assert base64.b32encode(device.bin_key).decode() in html  # the key, for typing by hand
    wrong = client.post(reverse("two_factor"), {"token": "000000"})
    assert wrong.status_code == 400 and "That code is not right." in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    device.throttling_failure_count = 0  # django-otp slows down guesses; this test is not one
    device.throttling_failure_timestamp = None
    device.save()
    right = client.post(reverse("two_factor"), {"token": _current_code(device)}, follow=True)
    assert "Two-factor sign-in is on for your account." in right.content.decode()
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(reverse("admin:index")).status_code == 200  # this session is verified

    fresh = Client()
    assert _admin_sign_in(fresh, "sam", "pw-sam-123456", "123456").status_code == 200
    assert not _signed_in(fresh)
    device.refresh_from_db()
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None
    device.last_t = -1  # the code was used above; a new one in the same 30 s is allowed here
    device.save()
    response = _admin_sign_in(fresh, "sam", "pw-sam-123456", _current_code(device))
    assert response.status_code == 302 and _signed_in(fresh), response.context["form"].errors
    assert fresh.get(reverse("admin:index")).status_code == 200


def test_with_2fa_off_the_admin_takes_the_password(client, staff, settings):
    settings.SORAWEB_STAFF_2FA = False
    response = _admin_sign_in(client, "sam", "pw-sam-123456")
    assert response.status_code == 302 and _signed_in(client)
    assert client.get(reverse("admin:index")).status_code == 200


def test_the_enrolment_page_is_for_staff_only(client, member):
    client.force_login(member)
    assert client.get(reverse("two_factor")).status_code == 403


def test_the_admin_never_shows_a_devices_secret(client, staff):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    root = User.objects.create_superuser("root", password="pw-root-123456")
    client.force_login(root)
    page = client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk]))
    assert page.status_code == 200 and device.key not in page.content.decode()
    for view in ("config", "qrcode"):
        url = reverse(f"admin:otp_totp_totpdevice_{view}", args=[device.pk])
        assert client.get(url).status_code == 403
    # A lost phone: the superuser deletes the device, and its owner enrols again.
    delete = reverse("admin:otp_totp_totpdevice_delete", args=[device.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not TOTPDevice.objects.exists()
