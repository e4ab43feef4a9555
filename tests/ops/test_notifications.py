"""When a job ends: an in-app notice for its owner, and an e-mail when that is switched on."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from soraweb.ops.models import Notice
from soraweb.videos.models import JobState
from tests.factories import ago, job_row, seeded_row

pytestmark = pytest.mark.django_db


def settle(job, state, django_capture_on_commit_callbacks, **fields):
    with django_capture_on_commit_callbacks(execute=True):
        assert job.transition(state, message="test", **fields)


def test_the_owner_gets_a_notice_when_a_job_ends(
    client, member, other_member, django_capture_on_commit_callbacks
):
    job = job_row(
        member,
        state=JobState.ARCHIVING,
        text="a whale breaching at sunset",
        created_at=ago(minutes=5),
        cost="1.00",
        events=True,
    )
    settle(job, JobState.SUCCEEDED, django_capture_on_commit_callbacks)
    notice = Notice.objects.get()
    assert (notice.user, notice.job, notice.kind) == (member, job, JobState.SUCCEEDED)

    client.force_login(member)
    page = client.get(reverse("videos:studio")).content.decode()
    assert 'aria-label="Notices: 1 unread"' in page  # the bell in the header
    html = client.get(reverse("notices:list")).content.decode()
    assert "Your video “a whale breaching at sunset” is ready." in html
    assert reverse("videos:job_detail", args=[job.pk]) in html

    client.force_login(other_member)
    assert "a whale breaching" not in client.get(reverse("notices:list")).content.decode()


def test_a_failure_notice_says_why(client, member, django_capture_on_commit_callbacks):
    job = job_row(
        member,
        state=JobState.RUNNING,
        text="a famous actor",
        created_at=ago(minutes=5),
        cost="1.00",
        events=True,
    )
    settle(
        job,
        JobState.FAILED,
        django_capture_on_commit_callbacks,
        error_message="The prompt was flagged by content moderation",
    )
    client.force_login(member)
    html = client.get(reverse("notices:list")).content.decode()
    assert "Your video “a famous actor” could not be made." in html
    assert "flagged by content moderation" in html


def test_marking_notices_read_clears_the_bell(client, member, django_capture_on_commit_callbacks):
    job = seeded_row(
        member,
        state=JobState.RUNNING,
        created_at=ago(minutes=5),
    )
    settle(job, JobState.CANCELLED, django_capture_on_commit_callbacks)
    client.force_login(member)
    bell = client.get(reverse("notices:bell"), HTTP_HX_REQUEST="true").content.decode()
    assert '<span class="badge tone-bad">1</span>' in bell
    html = client.post(reverse("notices:read"), HTTP_HX_REQUEST="true").content.decode()
    assert 'id="notice-bell"' in html and 'hx-swap-oob="true"' in html
    assert "badge tone-bad" not in html.split('id="notice-bell"')[1]
    assert Notice.objects.get().read_at is not None


def test_it_emails_the_owner_when_email_is_switched_on(
    member, settings, django_capture_on_commit_callbacks
):
    settings.SORAWEB_EMAIL_NOTIFICATIONS = True
    member.email = "mia@example.com"
    member.save()
    job = job_row(
        member,
        state=JobState.ARCHIVING,
        text="a paper boat",
        created_at=ago(minutes=5),
        cost="1.00",
        events=True,
    )
    settle(job, JobState.SUCCEEDED, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["mia@example.com"]
    assert message.subject == "soraweb: The video “a paper boat” is ready."
    assert f"/jobs/{job.pk}/" in message.body


def test_no_email_when_switched_off_or_without_an_address(
    member, other_member, settings, django_capture_on_commit_callbacks
):
    settings.SORAWEB_EMAIL_NOTIFICATIONS = False
    member.email = "mia@example.com"
    member.save()
    settle(
        seeded_row(
            member,
            state=JobState.RUNNING,
            created_at=ago(minutes=5),
        ),
        JobState.FAILED,
        django_capture_on_commit_callbacks,
    )
    settings.SORAWEB_EMAIL_NOTIFICATIONS = True
    settle(
        seeded_row(
            other_member,
            state=JobState.RUNNING,
            created_at=ago(minutes=5),
        ),
        JobState.FAILED,
        django_capture_on_commit_callbacks,
    )
    assert mail.outbox == []
    assert Notice.objects.count() == 2  # the in-app notices still came


def test_needs_attention_is_noticed_in_the_app_but_not_announced(
    member, settings, django_capture_on_commit_callbacks
):
    settings.SORAWEB_EMAIL_NOTIFICATIONS = True
    member.email = "mia@example.com"
    member.save()
    job = seeded_row(
        member,
        state=JobState.SUBMITTING,
        created_at=ago(minutes=5),
    )
    settle(job, JobState.NEEDS_ATTENTION, django_capture_on_commit_callbacks)
    assert Notice.objects.get().kind == JobState.NEEDS_ATTENTION
    assert mail.outbox == []


def test_the_bell_is_left_alone_after_signing_out(client):
    # Not a redirect: htmx would follow it and swap the sign-in page into the header.
    assert client.get(reverse("notices:bell"), HTTP_HX_REQUEST="true").status_code == 401
