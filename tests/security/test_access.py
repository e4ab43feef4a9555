"""Access control, proven by crawling every URL pattern the project has (new ones included)."""

from __future__ import annotations

import pytest
from django.test import Client

from soraweb.videos.models import JobState, VideoJob, VideoModel
from tests.factories import job_row
from tests.security.urls import PUBLIC, project_routes

pytestmark = pytest.mark.django_db

# Actions on a job that only its owner (or staff) may take.
OWNER_ONLY = {"job_cancel", "job_retry", "job_delete"}


@pytest.fixture
def job(member):
    vm = VideoModel.objects.get(name="sora-2")
    return job_row(
        member,
        vm,
        text="someone's job",
        remote_id="sora-2:task_x",
        state=JobState.QUEUED,
        orientation="portrait",
    )


def _is_login_redirect(response) -> bool:
    return response.status_code == 302 and (
        response["Location"].startswith("/accounts/login/")
        or response["Location"].startswith("/admin/login/")
    )


def test_every_page_sends_an_anonymous_visitor_to_sign_in(client, job):
    routes = project_routes(number=job.pk)
    assert len(routes) > 40  # the crawl really found the project's routes
    checked = 0
    for route in routes:
        if route.name in PUBLIC or route.path.startswith("/static/"):
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(route.path)
            refused = _is_login_redirect(response) or response.status_code in (401, 403, 404, 405)
            if route.namespace == "admin" and route.name in ("login", "logout", "jsi18n"):
                refused = response.status_code != 500
            assert refused, (
                f"{method.upper()} {route.path} ({route.namespace}:{route.name}) answered {response.status_code}"
            )
            checked += 1
    assert checked > 80
    VideoJob.objects.get(pk=job.pk, state=JobState.QUEUED)  # nothing changed


def test_the_public_routes_are_exactly_the_listed_ones(client, job):
    open_routes = set()
    for route in project_routes(include_admin=False, number=job.pk):
        response = client.get(route.path)
        if response.status_code == 200:
            open_routes.add(route.name)
    assert open_routes <= set(PUBLIC), open_routes - set(PUBLIC)


def test_members_cannot_use_staff_pages(client, other_member, job):
    client.force_login(other_member)
    for route in project_routes(number=job.pk):
        staff_only = route.namespace in ("admin", "ops") and route.name not in (
            "login",
            "logout",
            "jsi18n",
        )
        if not staff_only:
            continue
        response = client.get(route.path)
        assert response.status_code in (302, 403, 404), (
            f"{route.path} answered {response.status_code} to a member"
        )
        if response.status_code == 302:
            assert "login" in response["Location"]


def test_another_member_cannot_act_on_my_job(client, other_member, job):
    client.force_login(other_member)
    acted = 0
    for route in project_routes(include_admin=False, number=job.pk):
        if route.name not in OWNER_ONLY:
            continue
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.post(route.path, **headers)
            assert response.status_code == 403, (
                f"{route.name} by a stranger answered {response.status_code}"
            )
        acted += 1
    assert acted >= 2  # cancel and retry at least
    job.refresh_from_db()
    assert job.state == JobState.QUEUED
    assert VideoJob.objects.count() == 1


def test_every_state_changing_request_needs_a_csrf_token(staff, job):
    staff.is_superuser = True
    staff.save()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff)
    refused = 0
    for route in project_routes(number=job.pk):
        if route.name == "provider_webhook":  # authenticated by signature instead, tested elsewhere
            continue
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = strict.post(route.path, {"prompt": "x"}, **headers)
            assert response.status_code in (403, 405), (
                f"POST {route.path} without CSRF answered {response.status_code}"
            )
            refused += response.status_code == 403
    assert refused > 40
    job.refresh_from_db()
    assert job.state == JobState.QUEUED
