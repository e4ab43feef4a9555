"""Review: approve, reject or ask for changes, each with an optional comment, in a thread."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from soraweb.videos import services
from soraweb.videos.models import JobState, Review, ReviewState
from tests.factories import job_row

pytestmark = pytest.mark.django_db


def review(client, job, decision, comment="", **headers):
    return client.post(
        reverse("videos:job_review", args=[job.pk]),
        {"decision": decision, "comment": comment},
        **headers,
    )


def test_a_team_member_approves_someone_elses_video_with_a_comment(client, member, other_member):
    job = job_row(member, text="a red kite", remote_id="sora-2:task_1", seconds=0, with_video=True)
    client.force_login(other_member)
    response = review(client, job, "approved", "Lovely colours!", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    job.refresh_from_db()
    assert job.review_state == ReviewState.APPROVED and job.reviewed_at is not None
    entry = Review.objects.get()
    assert (entry.reviewer, entry.decision, entry.comment) == (
        other_member,
        "approved",
        "Lovely colours!",
    )
    # The reviewer and the time are shown next to the decision, and the thread has the comment.
    assert html.lstrip().startswith('<section id="review"')
    assert "by omar," in html and "Lovely colours!" in html
    assert 'class="review-status" tabindex="-1" data-focus-after-swap' in html


def test_the_latest_decision_wins_and_comments_do_not_change_it(
    client, member, other_member, staff
):
    job = job_row(
        member,
        text="a red kite over green hills",
        remote_id="sora-2:task_1",
        seconds=0,
        with_video=True,
    )
    client.force_login(other_member)
    review(client, job, "changes_requested", "Slower please")
    client.force_login(staff)
    review(client, job, "comment", "I agree with Omar")
    job.refresh_from_db()
    assert job.review_state == ReviewState.CHANGES_REQUESTED
    review(client, job, "rejected")
    job.refresh_from_db()
    assert job.review_state == ReviewState.REJECTED
    html = client.get(reverse("videos:job_detail", args=[job.pk])).content.decode()
    thread = html[html.index('class="thread"') :]
    assert thread.index("Slower please") < thread.index("I agree with Omar")
    assert "Needs changes" in thread and "Comment" in thread and "Rejected" in thread
    assert "by sam," in html


def test_a_comment_only_needs_words_and_the_page_says_so(client, member):
    job = job_row(
        member,
        text="a red kite over green hills",
        remote_id="sora-2:task_1",
        seconds=0,
        with_video=True,
    )
    client.force_login(member)
    html = review(client, job, "comment", "   ", HTTP_HX_REQUEST="true").content.decode()
    assert "Write a comment first." in html
    response = review(client, job, "maybe")
    assert response.status_code == 400
    assert not Review.objects.exists()


def test_only_a_finished_video_can_be_reviewed(member):
    job = job_row(
        member,
        text="a red kite over green hills",
        state=JobState.RUNNING,
        remote_id="sora-2:task_1",
    )
    with pytest.raises(ValidationError):
        services.job_review(job=job, reviewer=member, decision="approved")


def test_reviewing_without_javascript_redirects_back_to_the_review(client, member):
    job = job_row(
        member,
        text="a red kite over green hills",
        remote_id="sora-2:task_1",
        seconds=0,
        with_video=True,
    )
    client.force_login(member)
    response = review(client, job, "changes_requested", "ok")
    assert response.status_code == 302
    assert response["Location"] == reverse("videos:job_detail", args=[job.pk]) + "#review"
    html = client.get(response["Location"]).content.decode()
    assert "Your review was saved." in html


def test_the_detail_page_shows_every_setting_and_the_downloads(client, member, other_member):
    job = job_row(
        member,
        text="a castle in fog",
        model="sora-2-pro",
        orientation="portrait",
        size="large",
        duration=15,
        remote_id="sora-2-pro:task_1",
        seconds=0,
        with_video=True,
    )
    client.force_login(other_member)
    html = client.get(reverse("videos:job_detail", args=[job.pk])).content.decode()
    for text in [
        "a castle in fog",
        "Sora 2 Pro",
        "Portrait (tall)",
        "Large (1080p)",
        "15 seconds",
        "mia",
        "Download video",
        "Download poster",
        "Use these settings",
        "Not reviewed",
        "No reviews yet.",
    ]:
        assert text in html, text
    assert f'href="/jobs/{job.pk}/video.mp4?download=1"' in html
    assert f'href="/?from={job.pk}"' in html
    # The simulator's unified format cannot remix: the page says so instead of offering it.
    assert "Remix is not available for this video" in html
    assert (
        "Delete" not in html.split('class="detail-actions"')[1].split("</div>")[0]
    )  # not the owner
