"""The operations pages in a real browser, on a stack with a week of history seeded in."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT, login, screenshot, start_stack, stop_stack

pytestmark = pytest.mark.browser

SEED = """
import random
from datetime import timedelta
from decimal import Decimal

import django
django.setup()
from django.contrib.auth import get_user_model
from django.utils import timezone

from soraweb.ops.models import BudgetPolicy, LedgerStatus, Notice, UserBudget
from soraweb.videos.models import JobState
from tests.factories import job_row

rng = random.Random(7)
User = get_user_model()
people = [User.objects.create_user(username=n, password="x-" + n + "-pass-1") for n in ("mia", "omar", "lena")]
admin = User.objects.get(username="admin")
policy = BudgetPolicy.load()
policy.team_daily_limit = Decimal("40.00")
policy.team_monthly_limit = Decimal("600.00")
policy.user_daily_limit = Decimal("15.00")
policy.save()
UserBudget.objects.create(user=people[0], daily_limit=Decimal("25.00"))
UserBudget.objects.create(user=people[1], daily_limit=Decimal("100.00"))
now = timezone.now()
prompts = ["a lighthouse in a storm", "a red kite over green hills", "a paper boat at dusk",
           "a fox in the snow", "city lights in the rain", "a whale breaching at sunset"]
moderation = "The prompt was flagged by content moderation: depicts a real person"
for day in range(14):
    for _ in range(rng.randint(2, 6)):
        owner = rng.choice(people)
        model = rng.choice(["sora-2", "sora-2", "sora-2-pro"])
        cost = "4.50" if model == "sora-2-pro" else rng.choice(["1.00", "1.50", "3.00"])
        created = now - timedelta(days=day, hours=rng.uniform(0.5, 20))
        roll = rng.random()
        if roll < 0.75:
            job_row(owner, model=model, created_at=created, seconds=rng.uniform(70, 400),
                    cost=cost, ledger=LedgerStatus.CHARGED, text=rng.choice(prompts), events=True)
        elif roll < 0.88:
            job_row(owner, model=model, state=JobState.FAILED, created_at=created, cost=cost,
                    error_message=moderation, cause="moderation",
                    ledger=LedgerStatus.NOT_CHARGED, text=rng.choice(prompts), seconds=60,
                    events=True)
        else:
            job_row(owner, model=model, state=JobState.FAILED, created_at=created, cost=cost,
                    error_message="Timed out at the provider: no result after 30 minutes",
                    cause="timeout", ledger=LedgerStatus.NOT_CHARGED,
                    text=rng.choice(prompts), seconds=60, events=True)
job_row(people[1], state=JobState.NEEDS_ATTENTION, created_at=now - timedelta(minutes=40),
        error_message="The connection to the provider dropped before it answered; the video may "
                      "or may not have been started. Check the provider before retrying.",
        cost="3.00", ledger=LedgerStatus.RESERVED, text="a marching band in the rain",
        seconds=60, events=True)
done = job_row(admin, created_at=now - timedelta(minutes=30), seconds=95, cost="1.00",
               ledger=LedgerStatus.CHARGED, text="our team logo, in clay", events=True)
Notice.objects.create(user=admin, job=done, kind="succeeded", prompt_excerpt="our team logo, in clay")
"""


def test_an_admin_reads_the_dashboard_and_the_spend_report(page, tmp_path):
    stack = start_stack(tmp_path)
    try:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "soraweb.settings",
            "SORAWEB_DATA_DIR": str(tmp_path),
        }
        for key in ("DATABASE_URL", "REDIS_URL", "SORAWEB_PROVIDER_BASE_URL"):
            env.pop(key, None)
        subprocess.run([sys.executable, "-c", SEED], env=env, cwd=ROOT, check=True)
        login(page, stack)
        assert page.locator("#notice-bell .badge").inner_text() == "1"
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Operations").click()
        page.wait_for_url(stack.url("/ops/"))
        page.get_by_role("heading", name="Stuck or needing a look").wait_for()
        assert page.get_by_text("a marching band in the rain").is_visible()
        assert page.locator("svg.chart").count() == 3
        screenshot(page, "ops-dashboard")

        page.get_by_role("link", name="Spend report").first.click()
        page.wait_for_url(stack.url("/ops/spend/"))
        page.get_by_role("heading", name="Per person").wait_for()
        screenshot(page, "ops-spend-report")

        # The stuck job, fixed from its admin page: one click to open it, one to retry it.
        page.goto(stack.url("/ops/"))
        page.locator("table.ops-table a").first.click()
        page.get_by_role("heading", name="Fix this job").wait_for()
        screenshot(page, "ops-admin-fix-job")
        page.get_by_role("button", name="Retry as a new job").click()
        page.get_by_text("started again as job").wait_for()

        page.goto(stack.url("/notices/"))
        page.get_by_text("Your video “our team logo, in clay” is ready.").wait_for()
        screenshot(page, "ops-notices")
    finally:
        stop_stack(stack)


SEED_SHORT_OF_SPACE = """
import shutil
from datetime import timedelta

import django
django.setup()
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from soraweb.ops import services
from soraweb.videos.models import JobState
from tests.factories import job_row

User = get_user_model()
mia = User.objects.create_user(username="mia", password="x-mia-pass-1")
now = timezone.now()
later = now + timedelta(hours=1)  # the stack's worker leaves these jobs alone meanwhile
jobs = [
    job_row(mia, state=JobState.RUNNING, text=f"a harbour at dawn, take {i}", duration=10,
            next_poll_at=later, deadline_at=later, created_at=now - timedelta(minutes=3),
            cost="1.00", events=True)
    for i in range(3)
]
stuck = job_row(mia, state=JobState.ARCHIVING, text="a lighthouse in a storm", duration=10,
                lease_until=later, archive_attempts=2, created_at=now - timedelta(minutes=8),
                provider_completed_at=now - timedelta(minutes=6),
                error_message="storage full: there is no free space left where soraweb keeps videos",
                cost="1.00", events=True)
# One video saved earlier teaches the estimate: its bytes per second make the four videos in
# flight need a quarter more than the disk really has free right now.
free = shutil.disk_usage(settings.MEDIA_ROOT).free
job_row(mia, text="saved last week", created_at=now - timedelta(days=7), duration=10,
        video_seconds=10.0, video_bytes=int(free * 1.25 / 4), seconds=60, cost="1.00",
        events=True)
services.notices_create_for_storage(job=stuck, cause="storage_full")
"""


def test_ops_warns_when_the_videos_in_flight_will_not_fit(page, zh_page, tmp_path):
    stack = start_stack(tmp_path)
    try:
        env = {**stack.env}
        subprocess.run([sys.executable, "-c", SEED_SHORT_OF_SPACE], env=env, cwd=ROOT, check=True)
        login(page, stack)
        assert page.locator("#notice-bell .badge").inner_text() == "1"
        page.goto(stack.url("/ops/"))
        warning = page.locator("#storage-warning")
        warning.wait_for()
        text = " ".join(warning.inner_text().split())
        assert "Space is running out where videos are saved:" in text, text
        assert "the 4 videos being made need about" in text, text
        assert "“Save the video again”" in text
        screenshot(page, "ops-storage-warning")

        page.goto(stack.url("/notices/"))
        page.get_by_text("Finished videos cannot be saved").wait_for()
        screenshot(page, "ops-storage-notice")

        login(zh_page, stack)
        zh_page.goto(stack.url("/ops/"))
        zh_text = zh_page.locator("#storage-warning").inner_text()
        assert "保存视频的空间快用完了" in zh_text and "个视频保存时约需" in zh_text, zh_text
        screenshot(zh_page, "ops-storage-warning-zh")
    finally:
        stop_stack(stack)
