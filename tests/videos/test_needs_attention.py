"""A job that needs attention is actionable for its owner: ask an admin, or try again knowing
it may be billed twice. Staff get one notice per job, however often it is asked."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from soraweb.ops.models import Notice
from soraweb.videos import services
from soraweb.videos.causes import Cause
from soraweb.videos.models import JobState, VideoJob, VideoModel
from tests.factories import job_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def unknown(member):
    vm = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    job = job_row(
        member, vm, text="did it start?", state=JobState.SUBMITTING, orientation="portrait"
    )
    job.transition(
        JobState.NEEDS_ATTENTION,
        cause=Cause.OUTCOME_UNKNOWN,
        facts={"reason": "The connection dropped before the provider answered."},
    )
    return job


def test_the_owner_asks_an_admin_once_and_every_admin_hears_once(client, member, staff, unknown):
    client.force_login(member)
    card = client.get(reverse("videos:job_card", args=[unknown.pk])).content.decode()
    assert "Ask an admin" in card and "I understand it may be billed twice" in card
    page = client.get(reverse("videos:job_detail", args=[unknown.pk])).content.decode()
    assert "An admin can check with the provider" in page
    url = reverse("videos:job_ask_admin", args=[unknown.pk])
    for _ in range(3):
        answer = client.post(url, HTTP_HX_REQUEST="true")
        assert answer.status_code == 200
    assert "An admin has been asked to check." in answer.content.decode()
    assert "Ask an admin" not in answer.content.decode()
    notices = Notice.objects.filter(kind="help_asked", job=unknown)
    assert [(n.user, n.detail) for n in notices] == [(staff, member.get_username())]
    assert unknown.events.filter(cause=Cause.HELP_ASKED).count() == 1
    client.force_login(staff)
    page = client.get(reverse("notices:list")).content.decode()
    assert f"{member.get_username()} asks an admin to check “did it start?”" in page
    assert reverse("admin:videos_videojob_change", args=[unknown.pk]) in page


def test_nobody_else_can_ask_for_someone_elses_job(client, other_member, unknown):
    client.force_login(other_member)
    answer = client.post(reverse("videos:job_ask_admin", args=[unknown.pk]))
    assert answer.status_code in (403, 404)
    assert not Notice.objects.filter(kind="help_asked").exists()


def test_asking_is_only_for_jobs_that_need_attention(member, staff):
    vm = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    done = job_row(member, vm, state=JobState.SUCCEEDED, orientation="portrait")
    assert services.job_ask_admin(job=done, by=member) is False
    assert not Notice.objects.exists()


def test_trying_again_needs_the_owner_to_accept_double_billing(client, member, unknown):
    with pytest.raises(ValidationError) as refused:
        services.job_retry(job=unknown, by=member)
    assert "may bill it twice" in " ".join(refused.value.messages)
    client.force_login(member)
    url = reverse("videos:job_retry", args=[unknown.pk])
    client.post(url, {"idempotency_key": "k-1"})
    assert VideoJob.objects.filter(retry_of=unknown).count() == 0
    client.post(url, {"idempotency_key": "k-2", "accept_double_billing": "1"})
    assert VideoJob.objects.filter(retry_of=unknown).count() == 1


def test_staff_read_the_staff_advice(client, staff, member, unknown):
    client.force_login(staff)
    page = client.get(reverse("videos:job_detail", args=[unknown.pk])).content.decode()
    assert "Check with the provider before you try again" in page
    assert "An admin can check with the provider" not in page
