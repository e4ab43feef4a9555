"""Opening the job a notice is about marks that notice read (and only that one, only one's own)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from soraweb.ops.models import Notice
from soraweb.videos.models import JobState, VideoModel
from tests.factories import job_row

pytestmark = pytest.mark.django_db


def test_opening_the_job_marks_its_notice_read(client, member, django_user_model):
    vm = VideoModel.objects.get(name="sora-2")
    job = job_row(member, vm, text="a kite", state=JobState.FAILED, orientation="portrait")
    other = job_row(member, vm, text="a boat", state=JobState.FAILED, orientation="portrait")
    staff = django_user_model.objects.create_user("sam", password="x", is_staff=True)
    mine = Notice.objects.create(user=member, job=job, kind="failed", prompt_excerpt="a kite")
    elsewhere = Notice.objects.create(user=member, job=other, kind="failed")
    theirs = Notice.objects.create(user=staff, job=job, kind="failed")
    client.force_login(member)
    assert client.get(reverse("videos:job_detail", args=[job.pk])).status_code == 200
    for notice in (mine, elsewhere, theirs):
        notice.refresh_from_db()
    assert mine.read_at is not None
    assert elsewhere.read_at is None and theirs.read_at is None
