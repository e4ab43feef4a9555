"""Accounts and permissions: staff is not a permission, and a team manager looks after accounts only.

A team manager is staff (so the admin lets them in) with the Team managers group's permissions,
which cover user accounts and nothing else. They must not be able to take over another staff
account (change it, reset its password, delete it), delete a member's video or read the spend.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse

from soraweb.videos.models import VideoJob
from tests.videos.test_studio import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager():
    user = User.objects.create_user("tess", password="pw-tess-123456", is_staff=True)
    user.groups.add(Group.objects.get(name="Team managers"))
    return user


@pytest.fixture
def other_staff():
    return User.objects.create_user("stan", password="pw-stan-123456", is_staff=True)


@pytest.fixture
def root():
    return User.objects.create_superuser("root", password="pw-root-123456")


def _password_form(password: str) -> dict:
    return {"password1": password, "password2": password, "usable_password": "true"}


# --- Item: a team manager cannot take over a staff or superuser account --------------------------


@pytest.mark.parametrize("target_name", ["other_staff", "root"])
def test_a_team_manager_cannot_reset_a_staff_password_or_change_the_account(
    client, manager, target_name, request
):
    target = request.getfixturevalue(target_name)
    client.force_login(manager)
    password_url = reverse("admin:auth_user_password_change", args=[target.pk])
    assert client.get(password_url).status_code == 403
    assert client.post(password_url, _password_form("taken-over-99x")).status_code == 403
    target.refresh_from_db()
    assert not target.check_password("taken-over-99x")
    # ...so they cannot sign in as it either.
    assert not client.login(username=target.username, password="taken-over-99x")

    client.force_login(manager)
    change_url = reverse("admin:auth_user_change", args=[target.pk])
    page = client.get(change_url)
    assert page.status_code == 200  # looking is fine
    assert 'name="username"' not in page.content.decode()  # read-only
    response = client.post(
        change_url, {"username": "hijacked", "is_active": "", "first_name": "x", "email": ""}
    )
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.username != "hijacked" and target.is_active


def test_a_team_manager_still_looks_after_members(client, manager, member):
    client.force_login(manager)
    password_url = reverse("admin:auth_user_password_change", args=[member.pk])
    response = client.post(password_url, _password_form("a-new-Pass-4471"))
    assert response.status_code == 302, response.content.decode()[:2000]
    member.refresh_from_db()
    assert member.check_password("a-new-Pass-4471")
    response = client.post(
        reverse("admin:auth_user_change", args=[member.pk]),
        {"username": member.username, "first_name": "Mia", "last_name": "", "email": ""},
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.first_name == "Mia" and not member.is_active  # switched off: box left empty


def test_someone_with_delete_rights_cannot_bulk_delete_staff_from_the_list(
    client, manager, other_staff, root, member
):
    manager.user_permissions.add(Permission.objects.get(codename="delete_user"))
    client.force_login(manager)
    changelist = reverse("admin:auth_user_changelist")
    for target in (other_staff, root):
        response = client.post(
            changelist,
            {"action": "delete_selected", "_selected_action": [target.pk], "post": "yes"},
        )
        assert response.status_code in (200, 403)
        assert User.objects.filter(pk=target.pk).exists()
        delete_url = reverse("admin:auth_user_delete", args=[target.pk])
        assert client.post(delete_url, {"post": "yes"}).status_code == 403
        assert User.objects.filter(pk=target.pk).exists()
    # A member's account is theirs to remove.
    client.post(
        changelist, {"action": "delete_selected", "_selected_action": [member.pk], "post": "yes"}
    )
    assert not User.objects.filter(pk=member.pk).exists()


def test_a_superuser_may_change_a_staff_account_and_its_password(client, root, other_staff):
    client.force_login(root)
    url = reverse("admin:auth_user_password_change", args=[other_staff.pk])
    assert client.post(url, _password_form("a-new-Pass-8812")).status_code == 302
    other_staff.refresh_from_db()
    assert other_staff.check_password("a-new-Pass-8812")


# --- Item: the studio checks permissions, not is_staff ---------------------------------------------


def test_a_team_manager_cannot_delete_a_members_video(client, manager, member):
    job = make_job(member)
    client.force_login(manager)
    detail = client.get(reverse("videos:job_detail", args=[job.pk])).content.decode()
    assert f"/jobs/{job.pk}/delete/" not in detail
    assert client.get(reverse("videos:job_delete", args=[job.pk])).status_code == 403
    assert client.post(reverse("videos:job_delete", args=[job.pk])).status_code == 403
    assert VideoJob.objects.filter(pk=job.pk).exists()


def test_the_delete_permission_lets_someone_delete_a_members_video(client, other_member, member):
    job = make_job(member)
    other_member.user_permissions.add(Permission.objects.get(codename="delete_videojob"))
    client.force_login(other_member)
    detail = client.get(reverse("videos:job_detail", args=[job.pk])).content.decode()
    assert f"/jobs/{job.pk}/delete/" in detail
    assert client.post(reverse("videos:job_delete", args=[job.pk])).status_code == 302
    assert not VideoJob.objects.filter(pk=job.pk).exists()


def test_a_team_manager_cannot_see_the_spend_report_or_the_operations_page(client, manager):
    client.force_login(manager)
    assert client.get(reverse("ops:spend")).status_code == 403
    assert client.get(reverse("ops:dashboard")).status_code == 403
    header = client.get(reverse("videos:studio")).content.decode()
    assert reverse("ops:dashboard") not in header
    assert reverse("admin:index") in header  # the admin is where their accounts work is


def test_the_spend_permission_opens_the_spend_report(client, member):
    member.user_permissions.add(Permission.objects.get(codename="view_spend"))
    client.force_login(member)
    assert client.get(reverse("ops:spend")).status_code == 200
    assert client.get(reverse("ops:dashboard")).status_code == 403  # a separate permission
    member.user_permissions.add(Permission.objects.get(codename="view_operations"))
    member = User.objects.get(pk=member.pk)  # permissions are cached on the instance
    client.force_login(member)
    page = client.get(reverse("ops:dashboard"))
    assert page.status_code == 200 and reverse("ops:spend") in page.content.decode()


def test_operations_without_spend_hides_the_money(client, member):
    member.user_permissions.add(Permission.objects.get(codename="view_operations"))
    client.force_login(member)
    html = client.get(reverse("ops:dashboard")).content.decode()
    assert reverse("ops:spend") not in html and "spent today" not in html


def test_the_team_managers_group_holds_account_permissions_only():
    codenames = set(
        Group.objects.get(name="Team managers").permissions.values_list(
            "content_type__app_label", "codename"
        )
    )
    assert codenames == {("auth", "add_user"), ("auth", "change_user"), ("auth", "view_user")}


# --- Sessions end after SORAWEB_SESSION_IDLE_MINUTES without activity ------------------------------


def _set_last_seen(client, seconds_ago: float) -> None:
    import time

    from soraweb.accounts import LAST_SEEN_KEY

    session = client.session
    session[LAST_SEEN_KEY] = time.time() - seconds_ago
    session.save()


def test_an_idle_session_is_signed_out(client, member, settings):
    settings.SORAWEB_SESSION_IDLE_MINUTES = 30
    client.force_login(member)
    assert client.get(reverse("videos:studio")).status_code == 200
    _set_last_seen(client, 31 * 60)
    response = client.get(reverse("videos:studio"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert "_auth_user_id" not in client.session
    page = client.get(response["Location"]).content.decode()
    assert "You were signed out after 30 minutes without activity." in page


def test_activity_keeps_the_session_but_background_polls_do_not(client, member, settings):
    from soraweb.accounts import LAST_SEEN_KEY

    settings.SORAWEB_SESSION_IDLE_MINUTES = 30
    client.force_login(member)
    client.get(reverse("videos:studio"))
    _set_last_seen(client, 29 * 60)
    before = client.session[LAST_SEEN_KEY]
    # An open page polling with htmx is not a person at the keyboard.
    assert client.get(reverse("notices:bell"), HTTP_HX_REQUEST="true").status_code == 200
    assert client.session[LAST_SEEN_KEY] == before
    assert client.get(reverse("videos:gallery")).status_code == 200
    assert client.session[LAST_SEEN_KEY] > before + 28 * 60
    _set_last_seen(client, 29 * 60)  # 29 minutes after that click: still signed in
    assert client.get(reverse("videos:studio")).status_code == 200
