"""The team: accounts made by staff only, everyone sees everything, owners and staff act."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from soraweb.videos.models import JobEvent, JobState, Prompt, ReferenceImage, Review, VideoJob
from tests.factories import job_row
from tests.videos.test_studio import png_bytes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path", ["/accounts/signup/", "/accounts/signup", "/accounts/register/", "/signup/"]
)
def test_there_is_no_self_sign_up(client, member, path):
    assert client.get(path).status_code in (302, 404)  # anonymous: to sign in, never a form
    client.force_login(member)
    assert client.get(path).status_code == 404


def test_the_sign_in_page_says_who_makes_accounts(client):
    html = client.get(reverse("login")).content.decode()
    assert "Use the account your team administrator gave you." in html
    assert "sign up" not in html.lower()


def test_everyone_on_the_team_sees_every_job_page(client, member, other_member):
    job = job_row(
        member,
        text="a red kite over green hills",
        remote_id="sora-2:task_1",
        seconds=0,
        with_video=True,
    )
    client.force_login(other_member)
    assert client.get(reverse("videos:job_detail", args=[job.pk])).status_code == 200
    assert client.get(reverse("videos:job_video", args=[job.pk])).status_code in (200, 206)


def test_the_owner_deletes_a_video_with_its_files_prompt_and_history(client, member, other_member):
    job = job_row(member, text="delete me", remote_id="sora-2:task_1", seconds=0, with_video=True)
    image = ReferenceImage.objects.create(
        file=ContentFile(png_bytes(), name="r.png"),
        sha256="c" * 64,
        width=64,
        height=48,
        uploaded_by=member,
    )
    job.images.add(image)
    Review.objects.create(job=job, reviewer=other_member, decision="approved")
    JobEvent.objects.create(job=job, to_state="succeeded")
    names = [job.video.name, job.poster.name, image.file.name]
    assert all(default_storage.exists(n) for n in names)
    client.force_login(member)
    page = client.get(reverse("videos:job_delete", args=[job.pk])).content.decode()
    assert (
        "Delete this video?" in page and "Delete for good" in page
    )  # the no-JavaScript confirmation
    response = client.post(reverse("videos:job_delete", args=[job.pk]))
    assert response.status_code == 302
    assert not VideoJob.objects.filter(pk=job.pk).exists()
    assert not Prompt.objects.filter(text="delete me").exists()
    assert not Review.objects.exists() and not ReferenceImage.objects.exists()
    # Files go once the transaction commits; the test transaction never does, so run them here.
    from soraweb.videos.services.team import _delete_files

    _delete_files(default_storage, names)
    assert not any(default_storage.exists(n) for n in names)


def test_files_are_deleted_when_the_deletion_commits(member, django_capture_on_commit_callbacks):
    from soraweb.videos import services

    job = job_row(
        member,
        text="a red kite over green hills",
        remote_id="sora-2:task_1",
        seconds=0,
        with_video=True,
    )
    names = [job.video.name, job.poster.name]
    with django_capture_on_commit_callbacks(execute=True):
        services.job_delete(job=job, by=member)
    assert not any(default_storage.exists(n) for n in names)


def test_deleting_from_a_card_with_htmx_removes_the_card(client, member):
    job = job_row(
        member,
        text="a red kite over green hills",
        state=JobState.FAILED,
        error_message="nope",
        remote_id="sora-2:task_1",
    )
    client.force_login(member)
    response = client.post(
        reverse("videos:job_delete", args=[job.pk]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET=f"job-{job.pk}",
    )
    assert response.status_code == 200 and response.content == b""
    assert not VideoJob.objects.exists()


def test_only_the_owner_or_staff_may_delete(client, member, other_member, staff):
    job = job_row(
        member,
        text="a red kite over green hills",
        remote_id="sora-2:task_1",
        seconds=0,
        with_video=True,
    )
    client.force_login(other_member)
    assert client.post(reverse("videos:job_delete", args=[job.pk])).status_code == 403
    assert client.get(reverse("videos:job_delete", args=[job.pk])).status_code == 403
    html = client.get(reverse("videos:studio")).content.decode()
    assert f"/jobs/{job.pk}/delete/" not in html
    client.force_login(staff)
    assert client.post(reverse("videos:job_delete", args=[job.pk])).status_code == 302
    assert not VideoJob.objects.exists()


def test_a_running_job_is_cancelled_before_it_can_be_deleted(client, member):
    job = job_row(
        member,
        text="a red kite over green hills",
        state=JobState.RUNNING,
        remote_id="sora-2:task_1",
    )
    client.force_login(member)
    response = client.post(reverse("videos:job_delete", args=[job.pk]), follow=True)
    assert "Cancel it first" in response.content.decode()
    assert VideoJob.objects.filter(pk=job.pk).exists()
    card = client.get(reverse("videos:job_card", args=[job.pk])).content.decode()
    assert "/cancel/" in card and "/delete/" not in card


def test_a_team_manager_adds_people_but_cannot_hand_out_staff_rights(client, member):
    manager = User.objects.create_user("tess", password="pw-tess-123456", is_staff=True)
    manager.groups.add(Group.objects.get(name="Team managers"))
    admin_user = User.objects.create_superuser("root", password="pw-root-123456")
    client.force_login(manager)
    response = client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "newbie",
            "password1": "a-Long-pass-9931",
            "password2": "a-Long-pass-9931",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    newbie = User.objects.get(username="newbie")
    assert newbie.check_password("a-Long-pass-9931") and not newbie.is_staff
    change = reverse("admin:auth_user_change", args=[newbie.pk])
    form = client.get(change).content.decode()
    assert 'name="is_staff"' not in form and 'name="is_superuser"' not in form
    client.post(
        change,
        {
            "username": "newbie",
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "first_name": "New",
            "last_name": "",
            "email": "",
        },
    )
    newbie.refresh_from_db()
    assert newbie.first_name == "New" and not newbie.is_staff and not newbie.is_superuser
    # A superuser's account is shown read-only to a team manager, and cannot be changed.
    superuser_page = client.get(
        reverse("admin:auth_user_change", args=[admin_user.pk])
    ).content.decode()
    assert 'name="username"' not in superuser_page
    response = client.post(
        reverse("admin:auth_user_change", args=[admin_user.pk]), {"username": "hijacked"}
    )
    assert response.status_code == 403
    assert User.objects.filter(username="root").exists()
    assert (
        client.get(reverse("admin:auth_user_password_change", args=[admin_user.pk])).status_code
        == 403
    )
    # A member who is not staff never reaches the admin.
    client.force_login(member)
    assert client.get(reverse("admin:auth_user_add")).status_code == 302
