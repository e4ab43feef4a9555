"""Spending caps enforced at submit, the ledger, and two submissions racing for the last dollar."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from soraweb.ops.models import LedgerEntry, LedgerStatus, UserBudget
from soraweb.ops.services import budget_check, ledger_settle
from soraweb.videos import services
from soraweb.videos.models import JobState, Provider, VideoJob, VideoModel
from tests.factories import ago, job_row, seeded_row

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def submit(owner, *, size="small", duration=10, key=None) -> VideoJob:
    """sora-2 costs $0.10 a second small and $0.30 large: 10 s small is $1.00."""
    return services.job_create(
        owner=owner,
        video_model=VideoModel.objects.get(name="sora-2"),
        prompt_text="a lighthouse at dawn",
        orientation="landscape",
        size=size,
        duration=duration,
        idempotency_key=key,
    )


def test_it_records_a_ledger_entry_with_the_estimated_cost(member, budget):
    job = submit(member, size="large", duration=15)
    entry = LedgerEntry.objects.get(job=job)
    assert entry.amount == job.estimated_cost == Decimal("4.50")
    assert entry.status == LedgerStatus.RESERVED
    assert (entry.username, entry.model_name) == ("mia", "Sora 2")
    assert entry.created_at == job.created_at


def test_it_refuses_a_job_over_the_personal_daily_limit_with_a_clear_message(member, budget):
    budget.user_daily_limit = Decimal("20.00")
    budget.save()
    job_row(
        member,
        cost="19.60",
        ledger=LedgerStatus.CHARGED,
        text="a seeded job",
        created_at=ago(minutes=5),
        seconds=60,
        events=True,
    )
    with pytest.raises(ValidationError) as exc:
        submit(member, size="small", duration=15)
    assert exc.value.messages == [
        "This video would cost $1.50; you have $0.40 left of your $20.00 daily limit. "
        "It resets at 00:00 (UTC). A shorter or smaller video costs less, or ask an "
        "administrator to raise the limit."
    ]
    assert VideoJob.objects.filter(owner=member).count() == 1  # only the seeded one
    assert LedgerEntry.objects.count() == 1


def test_a_job_that_fits_exactly_is_accepted(member, budget):
    budget.user_daily_limit = Decimal("2.00")
    budget.save()
    seeded_row(
        member,
        ledger=LedgerStatus.RESERVED,
        created_at=ago(minutes=5),
        seconds=60,
    )
    submit(member)  # $1.00 + $1.00 = the limit, not over it
    with pytest.raises(ValidationError):
        submit(member)


def test_the_team_monthly_limit_counts_everyone_and_says_when_it_resets(
    member, other_member, budget
):
    budget.team_monthly_limit = Decimal("10.00")
    budget.save()
    job_row(
        other_member,
        cost="9.50",
        ledger=LedgerStatus.CHARGED,
        text="a seeded job",
        created_at=ago(minutes=5),
        seconds=60,
        events=True,
    )
    with pytest.raises(ValidationError) as exc:
        submit(member)
    message = exc.value.messages[0]
    assert "the team has $0.50 left of its $10.00 monthly limit" in message
    first = (datetime.now(UTC).replace(day=1) + timedelta(days=32)).replace(day=1)
    assert f"It resets on {first:%B} {first.day} at 00:00 (UTC)." in message


def test_failed_jobs_the_provider_does_not_bill_stop_counting(member, budget):
    budget.user_daily_limit = Decimal("1.50")
    budget.save()
    seeded_row(
        member,
        state=JobState.FAILED,
        submit_attempts=1,
        ledger=LedgerStatus.NOT_CHARGED,
        created_at=ago(minutes=5),
        seconds=60,
    )
    job_row(
        member,
        cost="0.40",
        ledger=LedgerStatus.RESERVED,
        text="a seeded job",
        created_at=ago(minutes=5),
        seconds=60,
        events=True,
    )
    submit(member)  # 0.40 reserved + 1.00 fits in 1.50; the failed 1.00 does not count
    with pytest.raises(ValidationError):
        submit(member)


def test_yesterday_does_not_count_against_today(member, budget):
    budget.user_daily_limit = Decimal("1.00")
    budget.save()
    yesterday = datetime.now(UTC).replace(hour=12) - timedelta(days=1)
    seeded_row(
        member,
        created_at=yesterday,
        ledger=LedgerStatus.CHARGED,
        seconds=60,
    )
    submit(member)


def test_a_personal_budget_replaces_the_team_default(member, other_member, budget):
    budget.user_daily_limit = Decimal("1.00")
    budget.save()
    UserBudget.objects.create(user=member, daily_limit=Decimal("5.00"))
    submit(member)
    submit(member)
    submit(other_member)
    with pytest.raises(ValidationError, match="your \\$1.00 daily limit"):
        submit(other_member)


def test_a_resent_form_returns_its_job_instead_of_counting_it_twice(member, budget):
    budget.user_daily_limit = Decimal("1.00")
    budget.save()
    first = submit(member, key="form-1")
    again = submit(member, key="form-1")
    assert again.pk == first.pk
    assert LedgerEntry.objects.count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_check_refuses_to_run_outside_the_jobs_transaction(member):
    # In autocommit the lock would be gone before the job is recorded.
    with pytest.raises(RuntimeError, match="inside the transaction"):
        budget_check(owner=member, amount=Decimal("1"))


@pytest.mark.parametrize(
    ("state", "charges_failed", "submitted", "expected"),
    [
        (JobState.SUCCEEDED, False, True, LedgerStatus.CHARGED),
        (JobState.FAILED, False, True, LedgerStatus.NOT_CHARGED),
        (JobState.FAILED, True, True, LedgerStatus.CHARGED),
        (JobState.EXPIRED, True, True, LedgerStatus.CHARGED),
        (JobState.CANCELLED, True, False, LedgerStatus.NOT_CHARGED),  # never sent: never billed
        (JobState.NEEDS_ATTENTION, False, True, LedgerStatus.RESERVED),  # may have been billed
    ],
)
def test_it_settles_the_entry_by_how_the_job_ended(
    member, budget, state, charges_failed, submitted, expected
):
    Provider.objects.update(charges_failed_jobs=charges_failed)
    job = submit(member)
    VideoJob.objects.filter(pk=job.pk).update(
        state=state,
        submit_attempts=1 if submitted else 0,
        remote_id="task_1" if submitted else "",
    )
    job.refresh_from_db()
    entry = ledger_settle(job=job)
    assert entry.status == expected
    assert entry.charges_failed_jobs is charges_failed
    assert entry.outcome == state


def test_the_settled_signal_settles_the_entry(member, budget, django_capture_on_commit_callbacks):
    job = submit(member)
    with django_capture_on_commit_callbacks(execute=True):
        job.transition(JobState.CANCELLED, message="Cancelled by test")
    assert LedgerEntry.objects.get(job=job).status == LedgerStatus.NOT_CHARGED


def test_the_create_page_shows_the_cap_message_next_to_the_form(client, member, budget):
    budget.user_daily_limit = Decimal("0.50")
    budget.save()
    client.force_login(member)
    vm = VideoModel.objects.get(name="sora-2")
    response = client.post(
        reverse("videos:studio"),
        {
            "prompt": "a kite",
            "video_model": str(vm.pk),
            "orientation": "landscape",
            "size": "small",
            "duration": "10",
            "idempotency_key": "",
        },
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    # By the Generate button, announced (role=alert) and focused after the swap.
    assert 'id="create-errors" role="alert" tabindex="-1" data-focus-after-swap' in html
    assert "you have $0.50 left of your $0.50 daily limit" in html
    assert VideoJob.objects.count() == 0


# --- The race ------------------------------------------------------------------------------------

SETUP = """
import django
django.setup()
from decimal import Decimal
from django.contrib.auth import get_user_model
from soraweb.ops.models import BudgetPolicy
get_user_model().objects.create_user(username="racer", password="x-racer-x-1")
policy = BudgetPolicy.load()
policy.user_daily_limit = Decimal("1.50")
policy.save()
"""

RACER = """
import os, sys, time
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from soraweb.ops import selectors
from soraweb.videos import services
from soraweb.videos.models import VideoModel

# Hold the window between adding up the spend and recording the entry open for half a second:
# without the lock, both racers would read the same total and both would be let through.
read_spend = selectors.spend_totals
def slow_spend_totals(**kwargs):
    totals = read_spend(**kwargs)
    time.sleep(0.5)
    return totals
selectors.spend_totals = slow_spend_totals

user = get_user_model().objects.get(username="racer")
model = VideoModel.objects.get(name="sora-2")
while not os.path.exists(sys.argv[1]):
    time.sleep(0.001)
try:
    job = services.job_create(owner=user, video_model=model, prompt_text="race " + sys.argv[2],
                              orientation="landscape", size="small", duration=10)
except ValidationError as exc:
    print("REFUSED", " ".join(exc.messages))
else:
    print("CREATED", job.pk)
"""


COUNT = """
import django
django.setup()
from django.db.models import Sum
from soraweb.ops.models import LedgerEntry
from soraweb.videos.models import VideoJob
print(VideoJob.objects.count(), LedgerEntry.objects.aggregate(s=Sum("amount"))["s"])
"""


def race(env: dict, tmp_path: Path) -> tuple[list[str], int, Decimal]:
    """Migrate, give "racer" $1.50 a day, start two $1.00 submissions at the same moment."""
    run = {"env": env, "cwd": ROOT, "check": True, "capture_output": True, "text": True}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], **run)
    subprocess.run([sys.executable, "-c", SETUP], **run)
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(go), str(i)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    time.sleep(1.5)  # both have started Django and are waiting for the signal
    go.touch()
    outputs = [racer.communicate(timeout=60) for racer in racers]
    assert all(r.returncode == 0 for r in racers), [err[-2000:] for _out, err in outputs]
    jobs, spent = subprocess.run([sys.executable, "-c", COUNT], **run).stdout.split()
    return sorted(out.strip() for out, _err in outputs), int(jobs), Decimal(spent)


def _env(**extra: str) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "soraweb.settings", **extra}
    for key in ("DATABASE_URL", "REDIS_URL"):
        if key not in extra:
            env.pop(key, None)
    return env


def test_two_submissions_racing_for_the_last_of_a_budget_let_exactly_one_through(tmp_path):
    """Two processes, one file-based SQLite database (as `make run` uses): the IMMEDIATE
    transaction makes the second wait for the first's ledger entry, then refuse."""
    lines, jobs, spent = race(_env(SORAWEB_DATA_DIR=str(tmp_path)), tmp_path)
    assert lines[0].startswith("CREATED"), lines
    assert lines[1].startswith("REFUSED This video would cost $1.00; you have $0.50 left"), lines
    assert (jobs, spent) == (1, Decimal("1.00"))


@pytest.mark.scale
def test_on_postgresql_the_budget_row_lock_lets_exactly_one_through(tmp_path):
    """PostgreSQL reads committed data without waiting, so only SELECT ... FOR UPDATE on the
    team budget row stands between the two racers and a double spend."""
    import uuid

    import psycopg
    from psycopg import sql

    server = os.environ.get(
        "SORAWEB_SCALE_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
    )
    name = f"soraweb_ops_race_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = server.rsplit("/", 1)[0] + "/" + name
        env = _env(DATABASE_URL=url, SORAWEB_DATA_DIR=str(tmp_path))
        lines, jobs, spent = race(env, tmp_path)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    assert lines[0].startswith("CREATED"), lines
    assert lines[1].startswith("REFUSED This video would cost $1.00; you have $0.50 left"), lines
    assert (jobs, spent) == (1, Decimal("1.00"))


def test_the_minute_schedule_settles_entries_whose_job_ended_unheard(member, budget):
    job = submit(member)
    # The worker died between committing the ending and telling anyone about it.
    VideoJob.objects.filter(pk=job.pk).update(state=JobState.FAILED, submit_attempts=1)
    from soraweb.ops import tasks

    assert tasks.every_minute() == {"deliveries": 0, "ledger_settled": 1}
    assert LedgerEntry.objects.get(job=job).status == LedgerStatus.NOT_CHARGED
