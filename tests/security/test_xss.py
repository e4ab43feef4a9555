"""Script payloads in every place a person or a provider can put text render escaped everywhere."""

from __future__ import annotations

import pytest
from django.test import Client

from soraweb.videos.models import JobEvent, JobState, ReferenceImage, VideoModel
from tests.factories import job_row
from tests.security.urls import project_routes

pytestmark = pytest.mark.django_db

PAYLOADS = [
    "<script>alert('xss-1')</script>",
    '"><img src=x onerror=alert("xss-2")>',
    "'><svg/onload=alert(`xss-3`)>",
    "</textarea><script>alert('xss-4')</script>",
    "javascript:alert('xss-5')//<a href=javascript:alert(1)>",
    "<iframe srcdoc='<script>alert(6)</script>'>",
]
# What would make a payload live in HTML: an unescaped tag opener or attribute breakout.
DANGEROUS = [
    "<script>alert",
    "<img src=x",
    "<svg/onload",
    "</textarea><script",
    "<iframe srcdoc",
    "<a href=javascript",
]


@pytest.fixture
def hostile_jobs(member, other_member):
    vm = VideoModel.objects.get(name="sora-2")
    jobs = []
    for i, payload in enumerate(PAYLOADS):
        owner = member if i % 2 else other_member
        job = job_row(
            owner,
            vm,
            text=f"prompt {payload}",
            state=[JobState.FAILED, JobState.SUCCEEDED, JobState.NEEDS_ATTENTION][i % 3],
            error_message=f"provider said: {payload}",
            raw_status=payload[:100],
            video="videos/x.mp4" if i % 3 == 1 else "",
            poster="videos/x.jpg" if i % 3 == 1 else "",
            orientation="portrait",
        )
        image = ReferenceImage.objects.create(
            file=f"references/{i}.png",
            original_name=f"{payload}.png",
            sha256=f"{i:064d}",
            width=1,
            height=1,
            uploaded_by=owner,
        )
        job.images.add(image)
        JobEvent.objects.create(
            job=job,
            from_state="queued",
            to_state=job.state,
            message=f"event {payload}",
            data={"raw": payload},
        )
        jobs.append(job)
    return jobs


def test_payloads_render_escaped_on_every_page_and_in_the_admin(
    client, staff, member, hostile_jobs
):
    staff.is_superuser = True
    staff.save()
    rendered = 0
    for user in (member, staff):
        c = Client()
        c.force_login(user)
        paths = {
            r.path
            for job in hostile_jobs
            for r in project_routes(number=job.pk)
            if r.name != "logout"
        }
        paths |= {f"/admin/videos/videojob/{j.pk}/change/" for j in hostile_jobs}
        paths |= {
            "/admin/videos/videojob/?q=xss",
            "/admin/videos/prompt/",
            "/admin/videos/referenceimage/",
            "/admin/videos/jobevent/",
        }
        for path in sorted(paths):
            for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
                response = c.get(path, **headers)
                if response.status_code != 200 or response.streaming:
                    continue
                html = response.content.decode(errors="replace")
                for marker in DANGEROUS:
                    assert marker not in html, (
                        f"{path} ({user.username}) renders {marker!r} unescaped"
                    )
                rendered += 1
    assert rendered > 40
    # The payloads were really on the pages, escaped: the test looked at the right places.
    c = Client()
    c.force_login(member)
    assert "&lt;script&gt;alert(" in c.get("/").content.decode()
