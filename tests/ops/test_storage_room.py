"""Room for videos: /ops/ compares free space with what the jobs in flight will need, and staff
hear of a storage outage once.

The free space is the real ``shutil.disk_usage`` of the media folder except where a test needs a
nearly full disk: there only that one call is replaced (tests/faults/test_disk_full.py fills a
real tmpfs instead).
"""

from __future__ import annotations

import re
import shutil
from collections import namedtuple
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from soraweb.ops import selectors, services
from soraweb.ops.models import Notice
from soraweb.videos.models import ACTIVE_STATES, JobState
from tests.factories import ago, seeded_row

pytestmark = pytest.mark.django_db
MB = 1024 * 1024
Usage = namedtuple("Usage", "total used free")


def squash(html: str) -> str:
    """The page with its line breaks and indents as single spaces (no-break spaces are kept)."""
    return re.sub(r"[ \t\n]+", " ", html)


def saved(owner, *, model="sora-2", size="small", nbytes: int, seconds: float, **fields):
    """A video saved earlier: its size and length teach the estimate."""
    return seeded_row(
        owner,
        model=model,
        size=size,
        video_bytes=nbytes,
        video_seconds=seconds,
        seconds=60,
        **{"created_at": ago(minutes=5), **fields},
    )


def in_flight(owner, *, state=JobState.RUNNING, model="sora-2", size="small", duration=10):
    return seeded_row(
        owner,
        state=state,
        model=model,
        size=size,
        duration=duration,
        created_at=ago(minutes=5),
        seconds=None if state in ACTIVE_STATES else 60,
    )


@pytest.fixture
def disk(monkeypatch):
    """Replace the one boundary call: the free space of the media folder is what the test says."""
    seen: list[str] = []

    def set_free(free: int, total: int = 100 * 1024 * MB) -> None:
        def fake(path):
            seen.append(str(path))
            return Usage(total, total - free, free)

        monkeypatch.setattr(shutil, "disk_usage", fake)

    set_free.seen = seen
    return set_free


def test_the_estimate_uses_recent_videos_of_the_same_model_and_size(member):
    # Sora 2 small: 30 MB in 10 s and 10 MB in 10 s saved earlier = 2 MB/s.
    saved(member, nbytes=30 * MB, seconds=10)
    saved(member, nbytes=10 * MB, seconds=10)
    # Sora 2 large: 8 MB/s.
    saved(member, size="large", nbytes=80 * MB, seconds=10)
    in_flight(member, duration=10)  # 20 MB
    in_flight(member, state=JobState.ARCHIVING, size="large", duration=5)  # 40 MB
    in_flight(member, state=JobState.PENDING, duration=4)  # 8 MB
    # Finished and failed jobs need nothing more.
    seeded_row(
        member,
        state=JobState.FAILED,
        created_at=ago(minutes=5),
        seconds=60,
    )
    assert selectors.jobs_in_flight_bytes() == (3, 68 * MB)


def test_a_size_never_saved_uses_the_model_and_a_new_model_the_default(member):
    saved(member, size="large", nbytes=40 * MB, seconds=10)  # Sora 2: 4 MB/s whatever the size
    in_flight(member, size="small", duration=10)
    in_flight(member, model="sora-2-pro", size="large", duration=10)  # nothing saved yet
    expected = 40 * MB + 10 * selectors.DEFAULT_BYTES_PER_SECOND
    assert selectors.jobs_in_flight_bytes() == (2, expected)


def test_free_space_is_read_from_the_real_media_folder(member):
    in_flight(member, duration=10)
    room = selectors.storage_room()
    real = shutil.disk_usage(settings.MEDIA_ROOT)
    assert room.measured and room.jobs == 1
    assert room.total_bytes == real.total
    assert abs(room.free_bytes - real.free) < 512 * MB  # other tests write meanwhile
    assert room.needed_bytes == 10 * selectors.DEFAULT_BYTES_PER_SECOND


def test_ops_warns_in_plain_words_when_the_jobs_in_flight_do_not_fit(client, staff, member, disk):
    saved(member, nbytes=50 * MB, seconds=10)  # 5 MB/s
    for _ in range(3):
        in_flight(member, duration=10)  # 3 x 50 MB
    disk(free=100 * MB)
    client.force_login(staff)
    html = client.get(reverse("ops:dashboard")).content.decode()
    assert disk.seen == [str(settings.MEDIA_ROOT)]
    assert 'id="storage-warning"' in html
    assert (
        "Space is running out where videos are saved: 100.0\xa0MB is free, and the 3 videos "
        "being made need about 150.0\xa0MB."
    ) in squash(html)
    assert "“Save the video again”" in html

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    html = squash(client.get(reverse("ops:dashboard")).content.decode())
    assert (
        "保存视频的空间快用完了：剩余 100.0\xa0MB，正在制作的 3 个视频保存时约需 150.0\xa0MB。"
        in html
    )
    assert "“重新保存视频”" in html


def test_ops_says_there_is_room_when_there_is(client, staff, member, disk):
    in_flight(member, duration=10)
    disk(free=50 * 1024 * MB, total=100 * 1024 * MB)
    client.force_login(staff)
    html = squash(client.get(reverse("ops:dashboard")).content.decode())
    assert 'id="storage-warning"' not in html
    assert (
        "Room for videos: 50.0\xa0GB free of 100.0\xa0GB; the video being made needs about "
        "20.0\xa0MB."
    ) in html


def test_object_storage_is_said_to_be_not_measured(client, staff, member, settings, disk):
    disk(free=0)  # were it asked, it would warn
    in_flight(member, duration=10)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "videos", "endpoint_url": "http://127.0.0.1:9"},
        },
    }
    room = selectors.storage_room()
    assert not room.measured and not room.short and disk.seen == []
    client.force_login(staff)
    html = squash(client.get(reverse("ops:dashboard")).content.decode())
    assert "Videos are kept in an object store (S3); its free space is not measured." in html
    assert "The video being made needs about 20.0\xa0MB." in html
    assert 'id="storage-warning"' not in html


# --- The staff notice ------------------------------------------------------------------------------


def test_staff_get_one_notice_per_storage_outage(client, staff, member, django_user_model):
    manager = django_user_model.objects.create_user(
        username="tess", password="pw-tess-123456", is_staff=True
    )  # staff for the accounts pages, but not an administrator of the studio
    first, second = in_flight(member), in_flight(member)
    assert services.notices_create_for_storage(job=first, cause="storage_full") == 1
    assert services.notices_create_for_storage(job=second, cause="storage_full") == 0
    assert list(Notice.objects.values_list("user__username", "job", "kind")) == [
        ("sam", first.pk, "storage_full")
    ]
    # A video is saved again: the outage is over, and the next one is news.
    saved(member, nbytes=MB, seconds=1, created_at=timezone.now() - timedelta(seconds=60))
    third = in_flight(member)
    assert services.notices_create_for_storage(job=third, cause="storage_unavailable") == 1
    assert not Notice.objects.filter(user__in=[member, manager]).exists()

    client.force_login(staff)
    html = squash(client.get(reverse("notices:list")).content.decode())
    assert "Storage full" in html and "Storage unavailable" in html
    assert (
        "Finished videos cannot be saved: there is no free space left where soraweb keeps them "
        "(first seen with “a seeded job”). Free some space, or give the storage more room."
    ) in html
    assert "press “Save the video again”" in html
    assert reverse("admin:videos_videojob_change", args=[first.pk]) in html
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    html = client.get(reverse("notices:list")).content.decode()
    assert "存储已满" in html and "“重新保存视频”" in html


def test_the_pipelines_storage_signal_reaches_staff_and_never_raises(staff, member, caplog):
    from soraweb.videos.models import VideoJob
    from soraweb.videos.signals import storage_failed

    job = in_flight(member, state=JobState.ARCHIVING)
    storage_failed.send(sender=VideoJob, job=job, cause="storage_full")
    assert list(Notice.objects.values_list("user", "kind")) == [(staff.pk, "storage_full")]
    # A notice that cannot be written is logged; saving the video goes on regardless.
    storage_failed.send(sender=VideoJob, job=job, cause="no such cause")
    assert "the staff notice about no such cause could not be written" in caplog.text


NOTICE_RACE = r"""
import json, sys, threading
import django
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from soraweb.ops import services
from soraweb.ops.models import Notice
from soraweb.videos.models import JobState
from tests.factories import ago, seeded_row

spec = json.loads(sys.stdin.read())
User = get_user_model()
admins = [User.objects.create_user(username=f"admin{i}", password="x-admin-pass-1") for i in range(2)]
for user in admins:
    user.user_permissions.add(Permission.objects.get(codename="view_operations"))
owner = User.objects.create_user(username="owner", password="x-owner-pass-1")
jobs = [
    seeded_row(owner, state=JobState.ARCHIVING, created_at=ago(minutes=5))
    for _ in range(spec["threads"])
]
barrier = threading.Barrier(spec["threads"])
written, errors = [], []

def fail(job):
    try:
        barrier.wait()
        written.append(services.notices_create_for_storage(job=job, cause="storage_full"))
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connection.close()

threads = [threading.Thread(target=fail, args=(job,)) for job in jobs]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"written": sorted(written), "errors": errors,
                  "notices": Notice.objects.filter(kind="storage_full").count()}))
"""


@pytest.mark.scale
def test_on_postgresql_jobs_failing_at_once_still_make_one_notice_each(tmp_path):
    """Eight workers hit the full disk at the same moment: the staff rows' lock makes the later
    ones see the first one's notices."""
    from tests.clusters import clean_env, manage, run_script, scratch_database, services_problems
    from tests.scale.conftest import POSTGRES_URL, REDIS_URL

    problems = services_problems(POSTGRES_URL, REDIS_URL)
    if problems:
        pytest.fail("this test needs PostgreSQL: " + "; ".join(problems), pytrace=False)
    with scratch_database(POSTGRES_URL, prefix="soraweb_ops_notice") as url:
        env = clean_env(DATABASE_URL=url, SORAWEB_DATA_DIR=str(tmp_path))
        manage(env, "migrate", "--noinput")
        result = run_script(env, NOTICE_RACE, {"threads": 8})
    assert result["errors"] == [], result
    assert result["notices"] == 2, result  # one for each of the two administrators
    assert sum(result["written"]) == 2, result
