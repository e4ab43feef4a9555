"""Abuse limits: videos in progress per person, new videos per minute, and the budget warning.

Every way of making a job goes through the same check: the create form, a batch (refused whole),
a retry and a remix.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from soraweb.ops.models import BudgetPolicy, UserBudget
from soraweb.videos import services
from soraweb.videos.models import JobState, VideoJob, VideoModel
from tests.conftest import form_data
from tests.factories import job_row
from tests.videos.test_studio import openai_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def sora():
    return VideoModel.objects.get(name="sora-2", provider__from_environment=True)


def make_jobs(owner, model, n: int, *, state: str = JobState.QUEUED, **fields) -> list[VideoJob]:
    return [
        job_row(owner, model, text=f"job {i}", state=state, orientation="portrait", **fields)
        for i in range(n)
    ]


def limits(active: int, per_minute: int) -> None:
    policy = BudgetPolicy.load()
    policy.max_active_jobs_per_user = active
    policy.max_jobs_per_minute_per_user = per_minute
    policy.save()


def test_a_fresh_installation_has_sensible_limits():
    policy = BudgetPolicy.load()
    assert policy.max_active_jobs_per_user == 10
    assert policy.max_jobs_per_minute_per_user == 20


def test_the_create_form_refuses_an_eleventh_video_in_progress_and_says_what_to_do(
    client, member, sora, django_capture_on_commit_callbacks
):
    old = timezone.now() - timedelta(minutes=10)
    make_jobs(member, sora, 10, created_at=old)
    # Finished jobs and jobs waiting for a person do not count.
    make_jobs(member, sora, 3, state=JobState.SUCCEEDED, created_at=old)
    make_jobs(member, sora, 1, state=JobState.NEEDS_ATTENTION, created_at=old)
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("videos:studio"), form_data(prompt="one more"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "You have 10 videos in progress; wait for one to finish or cancel one." in html
    assert not VideoJob.objects.filter(prompt__text="one more").exists()


def test_another_persons_jobs_do_not_count_against_mine(
    client, member, other_member, sora, django_capture_on_commit_callbacks
):
    make_jobs(other_member, sora, 10, created_at=timezone.now() - timedelta(minutes=10))
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("videos:studio"), form_data(prompt="mine"))
    assert response.status_code == 302
    assert VideoJob.objects.filter(owner=member, prompt__text="mine").exists()


def test_the_refusal_is_in_chinese_for_a_chinese_reader(member, sora):
    make_jobs(member, sora, 10, created_at=timezone.now() - timedelta(minutes=10))
    with override("zh-hans"), pytest.raises(ValidationError) as caught:
        services.job_create(
            owner=member,
            video_model=sora,
            prompt_text="x",
            orientation="landscape",
            size="small",
            duration=10,
        )
    text = " ".join(caught.value.messages)
    assert "10" in text and "进行中" in text, text


def test_the_per_minute_rate_counts_finished_jobs_too(member, sora):
    limits(active=0, per_minute=20)
    make_jobs(member, sora, 20, state=JobState.SUCCEEDED, created_at=timezone.now())
    with pytest.raises(ValidationError) as caught:
        services.job_create(
            owner=member,
            video_model=sora,
            prompt_text="the 21st",
            orientation="landscape",
            size="small",
            duration=10,
        )
    assert "in the last minute" in " ".join(caught.value.messages)
    # A minute later there is room again.
    VideoJob.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    job = services.job_create(
        owner=member,
        video_model=sora,
        prompt_text="the 21st",
        orientation="landscape",
        size="small",
        duration=10,
    )
    assert job.pk


def test_two_hundred_quick_creates_stop_at_the_rate(
    member, sora, django_capture_on_commit_callbacks
):
    limits(active=0, per_minute=20)
    made, refused = 0, 0
    with django_capture_on_commit_callbacks(execute=False):
        for i in range(200):
            try:
                services.job_create(
                    owner=member,
                    video_model=sora,
                    prompt_text=f"spam {i}",
                    orientation="landscape",
                    size="small",
                    duration=10,
                )
            except ValidationError:
                refused += 1
            else:
                made += 1
    assert (made, refused) == (20, 180)


def test_a_batch_over_the_cap_is_refused_whole_with_a_clear_message(
    client, member, sora, django_capture_on_commit_callbacks
):
    make_jobs(member, sora, 8, created_at=timezone.now() - timedelta(minutes=10))
    client.force_login(member)
    data = {
        "prompts": "one\ntwo\nthree",
        "video_model": str(sora.pk),
        "orientation": "landscape",
        "size": "small",
        "duration": "10",
        "idempotency_key": "abuse-batch",
    }
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("videos:batch"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "This batch has 3 videos, but each person can have at most 10 in progress" in html
    assert "you already have 8" in html
    assert VideoJob.objects.filter(owner=member).count() == 8  # nothing of the batch started
    # Two rows fit.
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("videos:batch"), {**data, "prompts": "one\ntwo"})
    assert response.status_code == 200
    assert VideoJob.objects.filter(owner=member).count() == 10


def test_a_hundred_row_batch_is_refused_whole(member, sora):
    items = [
        services.BatchItem(
            row=i,
            prompt=f"p{i}",
            video_model=sora,
            orientation="landscape",
            size="small",
            duration=10,
        )
        for i in range(1, 101)
    ]
    with pytest.raises(ValidationError):
        services.jobs_create_batch(owner=member, items=items, idempotency_key="k")
    assert not VideoJob.objects.exists()


def test_resending_a_batch_that_fit_is_not_refused_for_its_own_jobs(member, sora):
    items = [
        services.BatchItem(
            row=i,
            prompt=f"p{i}",
            video_model=sora,
            orientation="landscape",
            size="small",
            duration=10,
        )
        for i in range(1, 11)
    ]
    first = services.jobs_create_batch(owner=member, items=items, idempotency_key="same")
    again = services.jobs_create_batch(owner=member, items=items, idempotency_key="same")
    assert [o.job.pk for o in first] == [o.job.pk for o in again]
    assert VideoJob.objects.count() == 10


def test_retry_and_remix_are_limited_too(member, sora):
    relay = openai_model()  # a format that can remix
    failed = job_row(
        member,
        sora,
        state=JobState.FAILED,
        created_at=timezone.now() - timedelta(hours=1),
        orientation="portrait",
    )
    done = job_row(
        member,
        relay,
        state=JobState.SUCCEEDED,
        remote_id="video_1",
        created_at=timezone.now() - timedelta(hours=1),
        orientation="portrait",
    )
    make_jobs(member, sora, 10, created_at=timezone.now() - timedelta(minutes=10))
    with pytest.raises(ValidationError) as caught:
        services.job_retry(job=failed, by=member)
    assert "10 videos in progress" in " ".join(caught.value.messages)
    with pytest.raises(ValidationError) as caught:
        services.job_remix(job=done, by=member, prompt_text="make it blue")
    assert "10 videos in progress" in " ".join(caught.value.messages)


def test_the_remix_form_shows_the_refusal(client, member, sora):
    relay = openai_model()
    done = job_row(
        member,
        relay,
        state=JobState.SUCCEEDED,
        remote_id="video_1",
        created_at=timezone.now() - timedelta(hours=1),
        orientation="portrait",
    )
    make_jobs(member, sora, 10, created_at=timezone.now() - timedelta(minutes=10))
    client.force_login(member)
    response = client.post(
        reverse("videos:job_remix", args=[done.pk]), {"prompt": "bluer", "idempotency_key": "r1"}
    )
    assert response.status_code == 400
    assert "10 videos in progress" in response.content.decode()


def test_zero_switches_a_limit_off(member, sora):
    limits(active=0, per_minute=0)
    make_jobs(member, sora, 30, created_at=timezone.now())
    job = services.job_create(
        owner=member,
        video_model=sora,
        prompt_text="fine",
        orientation="landscape",
        size="small",
        duration=10,
    )
    assert job.pk


def test_the_limits_are_edited_in_the_admin(client, django_user_model):
    admin = django_user_model.objects.create_superuser(username="root", password="pw-root-123456")
    client.force_login(admin)
    policy = BudgetPolicy.load()
    url = reverse("admin:ops_budgetpolicy_change", args=[policy.pk])
    html = client.get(url).content.decode()
    assert 'name="max_active_jobs_per_user"' in html
    assert 'name="max_jobs_per_minute_per_user"' in html


def test_ops_warns_staff_while_no_budget_is_set(client, staff, member):
    client.force_login(staff)
    warning = "No spending limit is set"
    assert warning in client.get(reverse("ops:dashboard")).content.decode()
    UserBudget.objects.create(user=member, daily_limit=5)
    assert warning not in client.get(reverse("ops:dashboard")).content.decode()
    UserBudget.objects.all().delete()
    policy = BudgetPolicy.load()
    policy.team_monthly_limit = 100
    policy.save()
    assert warning not in client.get(reverse("ops:dashboard")).content.decode()


RACE = """
import json, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from soraweb.videos import services
from soraweb.videos.models import VideoModel
spec = json.loads(sys.stdin.read())
user = get_user_model().objects.get(username="racer")
model = VideoModel.objects.get(name="sora-2")
import time
time.sleep(max(0.0, spec["start_at"] - time.time()))  # every process starts at the same moment
made = 0
for i in range(spec["n"]):
    try:
        services.job_create(owner=user, video_model=model, prompt_text=f"race {spec['who']} {i}",
                            orientation="landscape", size="small", duration=10)
        made += 1
    except ValidationError:
        pass
print(json.dumps(made))
"""


@pytest.mark.scale
@pytest.mark.django_db(False)
def test_racing_processes_on_postgresql_stop_at_the_cap(tmp_path):
    """Four processes create for one person at once: the row lock lets exactly 10 through."""
    import json
    import os
    import subprocess
    import sys
    import time
    import uuid

    import psycopg
    from psycopg import sql

    from tests.clusters import ROOT, clean_env, manage, run_script

    url = os.environ.get(
        "SORAWEB_SCALE_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
    )
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except Exception as exc:
        pytest.fail(f"this test needs PostgreSQL at {url}: {exc}", pytrace=False)
    name = f"secinput_abuse_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        env = clean_env(
            DATABASE_URL=f"{url.rsplit('/', 1)[0]}/{name}",
            SORAWEB_DATA_DIR=str(tmp_path),
            SORAWEB_SECRET_KEY="abuse-race-" + uuid.uuid4().hex,
        )
        manage(env, "migrate", "--noinput")
        run_script(
            env,
            "import django; django.setup()\n"
            "from django.contrib.auth import get_user_model\n"
            "from soraweb.ops.models import BudgetPolicy\n"
            "get_user_model().objects.create_user(username='racer', password='race-pass-123')\n"
            "BudgetPolicy.objects.update_or_create(pk=1, defaults={'max_active_jobs_per_user': 10,"
            " 'max_jobs_per_minute_per_user': 0})\n",
        )
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", RACE],
                env=env,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        start_at = time.time() + 15  # after every process has started Django
        for i, proc in enumerate(procs):
            proc.stdin.write(json.dumps({"who": i, "n": 8, "start_at": start_at}))
            proc.stdin.close()
        outputs = [(proc.stdout.read(), proc.stderr.read()) for proc in procs]
        for proc in procs:
            proc.wait(timeout=180)
        assert [p.returncode for p in procs] == [0] * 4, outputs
        made = sum(json.loads(out.strip().splitlines()[-1]) for out, _err in outputs)
        with psycopg.connect(env["DATABASE_URL"]) as conn:
            rows = conn.execute("SELECT count(*) FROM videos_videojob").fetchone()[0]
        assert (made, rows) == (10, 10)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
