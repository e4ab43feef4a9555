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
from tests.factories import job_row

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
    job = job_row(
        member,
        text="a red kite over green hills",
        remote_id="sora-2:task_1",
        seconds=0,
        with_video=True,
    )
    client.force_login(manager)
    detail = client.get(reverse("videos:job_detail", args=[job.pk])).content.decode()
    assert f"/jobs/{job.pk}/delete/" not in detail
    assert client.get(reverse("videos:job_delete", args=[job.pk])).status_code == 403
    assert client.post(reverse("videos:job_delete", args=[job.pk])).status_code == 403
    assert VideoJob.objects.filter(pk=job.pk).exists()


def test_the_delete_permission_lets_someone_delete_a_members_video(client, other_member, member):
    job = job_row(
        member,
        text="a red kite over green hills",
        remote_id="sora-2:task_1",
        seconds=0,
        with_video=True,
    )
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


# --- Passwords: Django's validators, at least 10 characters ----------------------------------------


@pytest.mark.parametrize("weak", ["Short-pw1", "1234567890123", "password123", "christopher1"])
def test_weak_passwords_are_refused(weak):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    user = User(username="christopher")
    with pytest.raises(ValidationError):
        validate_password(weak, user)
    validate_password("kite-over-hills-7", user)  # 17 characters, none of the above


def test_the_first_admin_gets_a_password_the_rules_accept(monkeypatch):
    from io import StringIO

    from django.contrib.auth.password_validation import validate_password
    from django.core.management import call_command

    monkeypatch.delenv("SORAWEB_ADMIN_PASSWORD", raising=False)
    monkeypatch.setenv("SORAWEB_ADMIN_USER", "boss")
    out = StringIO()
    call_command("soraweb_setup", stdout=out)
    password = out.getvalue().split("Its password: ")[1].split()[0]
    validate_password(password, User.objects.get(username="boss"))
    assert User.objects.get(username="boss").check_password(password)


def test_a_configured_first_admin_password_must_follow_the_rules(monkeypatch):
    from django.core.management import CommandError, call_command

    monkeypatch.setenv("SORAWEB_ADMIN_PASSWORD", "short1")
    with pytest.raises(CommandError, match="at least 10 characters"):
        call_command("soraweb_setup")
    assert not User.objects.filter(is_superuser=True).exists()


# --- Members change their own password -----------------------------------------------------------


def test_a_member_changes_their_own_password(client, member):
    client.force_login(member)
    header = client.get(reverse("videos:studio")).content.decode()
    assert f'href="{reverse("password_change")}"' in header
    page = client.get(reverse("password_change"))
    assert page.status_code == 200
    assert 'class="site-header"' in page.content.decode()  # the site's layout, not the admin's
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "pw-mia-123456",
            "new_password1": "kite-over-hills-7",
            "new_password2": "kite-over-hills-7",
        },
        follow=True,
    )
    assert "Your password was changed." in response.content.decode()
    member.refresh_from_db()
    assert member.check_password("kite-over-hills-7")
    assert "_auth_user_id" in client.session  # still signed in here


def test_the_password_page_refuses_a_short_one_and_the_wrong_current_one(client, member):
    client.force_login(member)
    html = client.post(
        reverse("password_change"),
        {"old_password": "nope", "new_password1": "Ab3-short", "new_password2": "Ab3-short"},
    ).content.decode()
    assert "Your old password was entered incorrectly" in html
    assert "at least 10 characters" in html
    member.refresh_from_db()
    assert member.check_password("pw-mia-123456")


def test_the_password_page_speaks_chinese(client, member):
    client.force_login(member)
    html = client.get(reverse("password_change"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "修改密码" in html and "当前密码" in html and "至少 10 个字符" in html


# --- Approving one's own video, and who overrode whom ----------------------------------------------


def _review(client, job, decision, comment=""):
    return client.post(
        reverse("videos:job_review", args=[job.pk]), {"decision": decision, "comment": comment}
    )


def test_approving_your_own_video_is_off_by_default(client, member):
    from soraweb.videos.models import Review, ReviewState

    job = job_row(
        member,
        text="a red kite over green hills",
        remote_id="sora-2:task_1",
        seconds=0,
        with_video=True,
    )
    client.force_login(member)
    response = _review(client, job, "approved")
    assert response.status_code == 400
    assert "You cannot approve your own video" in response.content.decode()
    job.refresh_from_db()
    assert job.review_state == ReviewState.UNREVIEWED and not Review.objects.exists()
    # Asking for changes on one's own video is still fine.
    assert _review(client, job, "changes_requested", "darker").status_code == 302


def test_the_team_setting_allows_approving_your_own_video(client, member):
    from soraweb.ops.models import BudgetPolicy
    from soraweb.videos.models import ReviewState

    policy = BudgetPolicy.load()
    policy.allow_self_approval = True
    policy.save()
    job = job_row(
        member,
        text="a red kite over green hills",
        remote_id="sora-2:task_1",
        seconds=0,
        with_video=True,
    )
    client.force_login(member)
    assert _review(client, job, "approved").status_code == 302
    job.refresh_from_db()
    assert job.review_state == ReviewState.APPROVED


def test_the_history_says_who_replaced_whose_verdict(client, member, other_member, staff):
    from soraweb.videos.models import JobEvent

    job = job_row(
        member,
        text="a red kite over green hills",
        remote_id="sora-2:task_1",
        seconds=0,
        with_video=True,
    )
    client.force_login(other_member)
    _review(client, job, "changes_requested", "slower")
    _review(client, job, "rejected")  # omar changing his own mind is no override
    assert not JobEvent.objects.filter(job=job, data__kind="verdict_replaced").exists()
    client.force_login(staff)
    _review(client, job, "comment", "looks fine to me")  # a comment replaces nothing
    assert not JobEvent.objects.filter(job=job, data__kind="verdict_replaced").exists()
    _review(client, job, "approved")
    event = JobEvent.objects.get(job=job, data__kind="verdict_replaced")
    assert event.data == {
        "kind": "verdict_replaced",
        "by": "sam",
        "previous_by": "omar",
        "previous": "rejected",
        "decision": "approved",
    }
    html = client.get(reverse("videos:job_detail", args=[job.pk])).content.decode()
    assert "sam replaced omar’s verdict: Rejected → Approved" in html
    zh = client.get(
        reverse("videos:job_detail", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="zh-CN"
    ).content.decode()
    assert "sam 替换了 omar 的审核结论：" in zh


# --- Files are the owner's alone -----------------------------------------------------------------


def _mode(path) -> int:
    import stat

    return stat.S_IMODE(path.stat().st_mode)


def test_migrate_creates_a_private_data_dir_database_and_key(tmp_path):
    import os
    import subprocess
    import sys

    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORAWEB_", "DATABASE_URL"))}
    env.update(SORAWEB_DATA_DIR=str(data), DJANGO_SETTINGS_MODULE="soraweb.settings")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        env=env,
        check=True,
        preexec_fn=lambda: os.umask(0o022),  # a usual umask: would make files world-readable
        timeout=240,
    )
    assert _mode(data) == 0o700
    assert _mode(data / "media") == 0o700
    for name in ("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm", "secret_key"):
        if (data / name).exists() or name in ("db.sqlite3", "secret_key"):
            assert _mode(data / name) == 0o600, name


def test_uploads_and_archived_videos_are_private(member, settings, tmp_path):
    import os
    import tempfile
    from pathlib import Path

    from soraweb.videos import services
    from soraweb.videos.pipeline import download as archive
    from tests.videos.test_studio import png_bytes

    settings.MEDIA_ROOT = str(tmp_path / "media")
    old = os.umask(0o022)
    try:
        image = services.reference_image_store(
            uploaded_by=member,
            name="r.png",
            content_type="image/png",
            data=png_bytes(),
            width=64,
            height=48,
        )
        fd, name = tempfile.mkstemp(dir=archive._incoming_dir(), suffix=".part")
        os.close(fd)
        os.chmod(name, 0o644)  # whatever mode the download had, the stored file is private
        stored = archive._store(Path(name), "videos/2026/12/job-1-abc.mp4")
    finally:
        os.umask(old)
    media = tmp_path / "media"
    assert _mode(media) == 0o700
    assert _mode(media / ".incoming") == 0o700
    image_path = Path(image.file.path)
    video_path = media / stored
    assert _mode(image_path) == 0o600 and _mode(video_path) == 0o600
    for folder in (image_path.parent, video_path.parent, video_path.parent.parent):
        assert _mode(folder) == 0o700, folder
