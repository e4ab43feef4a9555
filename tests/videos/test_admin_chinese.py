"""The admin reads Chinese for a Chinese-speaking team: field names, column headings, filters,
section titles, job titles (no raw state codes) and the catalogue's values (no raw tokens)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.conf import settings
from django.urls import reverse

from soraweb.ops.models import BudgetPolicy, LedgerStatus, Notice
from soraweb.videos.causes import Cause
from soraweb.videos.models import JobState, Provider, VideoJob, VideoModel
from tests.factories import ago, job_row

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u3400-\u9fff]")
# Headings that are names, not words: they read the same in Chinese.
NOT_WORDS = {"ID", "URL", "API", "soraweb", "Sora 2"}
# Where the admin prints a field's or a section's name.
LABELS = [
    re.compile(r"<label[^>]*>(.*?)</label>", re.S),  # form fields, read-only fields
    re.compile(r'<th scope="col"[^>]*>.*?<div class="text">(.*?)</div>', re.S),  # list columns
    re.compile(r"<summary>\s*(.*?)\s*</summary>", re.S),  # list filters ("By state")
    re.compile(r'<h2 class="fieldset-heading">(.*?)</h2>', re.S),  # fieldsets
    re.compile(r"<h2[^>]*>(.*?)</h2>", re.S),
    re.compile(r"<title>(.*?)</title>", re.S),
]


def _text(fragment: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split()).rstrip(":：")


def english_labels(html: str, names: set[str]) -> set[str]:
    """Headings with no Chinese in them, apart from names (of people, providers, models)."""
    found = set()
    for pattern in LABELS:
        for fragment in pattern.findall(html):
            text = _text(fragment)
            if text and not CJK.search(text) and text not in NOT_WORDS | names:
                found.add(text)
    return found


@pytest.fixture
def zh_admin(client, staff):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    return client


def _pages(member) -> tuple[list[str], set[str]]:
    job = job_row(
        member,
        state=JobState.NEEDS_ATTENTION,
        cause=Cause.OUTCOME_UNKNOWN,
        ledger=LedgerStatus.RESERVED,
        size="small",
        text="a seeded job",
        created_at=ago(minutes=5),
        seconds=60,
        cost="1.00",
        events=True,
    )
    VideoJob.objects.filter(pk=job.pk).update(orientation="portrait")
    notice = Notice.objects.create(
        user=member, job=job, kind=JobState.FAILED, prompt_excerpt="a seeded job"
    )
    provider = Provider.objects.get(from_environment=True)
    vm = VideoModel.objects.get(name="sora-2")
    policy = BudgetPolicy.load()
    # Names typed by people (the seeded provider is called "Default provider") are data.
    names = {provider.name, vm.display_name, member.username}
    return [
        reverse("admin:videos_videojob_changelist"),
        reverse("admin:videos_videojob_change", args=[job.pk]),
        reverse("admin:videos_provider_changelist"),
        reverse("admin:videos_provider_change", args=[provider.pk]),
        reverse("admin:videos_provider_add"),
        reverse("admin:videos_videomodel_changelist"),
        reverse("admin:videos_videomodel_change", args=[vm.pk]),
        reverse("admin:ops_notice_changelist"),
        reverse("admin:ops_notice_change", args=[notice.pk]),
        reverse("admin:ops_budgetpolicy_change", args=[policy.pk]),
    ], names


def test_no_english_field_names_remain_on_the_main_admin_pages(zh_admin, member):
    left = {}
    pages, names = _pages(member)
    for url in pages:
        response = zh_admin.get(url)
        assert response.status_code == 200, url
        english = english_labels(response.content.decode(), names)
        if english:
            left[url] = sorted(english)
    assert not left, left


def test_job_titles_and_values_are_words_not_codes(zh_admin, member):
    job = job_row(
        member,
        state=JobState.NEEDS_ATTENTION,
        cause=Cause.OUTCOME_UNKNOWN,
        text="a seeded job",
        created_at=ago(minutes=5),
        seconds=60,
        cost="1.00",
        events=True,
    )
    VideoJob.objects.filter(pk=job.pk).update(orientation="portrait", size="small")
    html = zh_admin.get(reverse("admin:videos_videojob_change", args=[job.pk])).content.decode()
    assert f"<title>任务 {job.pk}（需要处理）" in html
    assert "needs_attention" not in html
    assert '<div class="readonly">竖屏（纵向）</div>' in html
    assert '<div class="readonly">小（720p）</div>' in html
    assert ">portrait<" not in html and ">small<" not in html
    listing = zh_admin.get(reverse("admin:videos_videomodel_changelist")).content.decode()
    # The model list reads each model's catalogue entry, in the reader's words.
    assert '<td class="field-aspect_ratios">9:16 竖屏, 16:9 横屏</td>' in listing
    assert '<td class="field-resolutions">720p 高清, 1080p 全高清</td>' in listing
    assert '<td class="field-prices">每秒 0.10 美元–0.30 美元</td>' in listing
    # (What the form offers: the entry's durations, not the old column's 10 and 15.)
    assert '<td class="field-durations_shown">4, 8, 10, 12, 15</td>' in listing
    assert "portrait" not in listing and "small:" not in listing and ">—<" not in listing


def test_the_english_admin_still_reads_english(client, staff):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    job = job_row(
        staff,
        state=JobState.NEEDS_ATTENTION,
        cause=Cause.OUTCOME_UNKNOWN,
        text="a seeded job",
        created_at=ago(minutes=5),
        seconds=60,
        cost="1.00",
        events=True,
    )
    html = client.get(reverse("admin:videos_videojob_change", args=[job.pk])).content.decode()
    assert f"<title>Job {job.pk} (Needs attention)" in html
    assert "<label>Sent to the provider:</label>" in html and "Landscape (wide)" in html
