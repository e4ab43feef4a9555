"""No server error from member input: Hypothesis over every form and every query string.

Each request must end in a page, a redirect, or a clear refusal (a form error or a 400), never
in a 500: arbitrary text with NUL characters, huge numbers, dates at the ends of the calendar,
other people's idempotency keys and picture tokens. The create form's own fuzz test (with its
repeated idempotency keys) lives in test_fuzz.py.

SQLite accepts NUL and huge integers that PostgreSQL refuses, so the same file also runs against
PostgreSQL (``test_the_fuzz_holds_on_postgresql``, marked ``scale``: ``make test-scale``).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from soraweb.ops.models import LedgerEntry
from soraweb.videos.models import JobState, Prompt, ReviewDecision, VideoJob, VideoModel
from tests.conftest import form_data
from tests.factories import job_row
from tests.security.urls import project_routes

ROOT = Path(__file__).resolve().parents[2]

NASTY = [
    "\x00",
    "a\x00b",
    "%00",
    "9" * 30,
    "-" + "9" * 30,
    "-1",
    "0",
    "1e309",
    "NaN",
    "inf",
    "9999-12-31",
    "0001-01-01",
    "10000-01-01",
    "2026-02-30",
    "1969-12-31",
    " ",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "\u202e\u200b",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "x" * 5000,
]
texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(NASTY),
    st.text(max_size=12).map(lambda t: t + "\x00" + t),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.dates().map(lambda d: d.isoformat()),
)
# Parameter names the views read, and some they do not.
PARAM_NAMES = [
    "q",
    "page",
    "model",
    "author",
    "review",
    "orientation",
    "date_from",
    "date_to",
    "favourites",
    "sort",
    "from",
    "video_model",
    "size",
    "duration",
    "image_fit",
    "prompts",
    "kind",
    "on",
    "download",
    "range",
    "start",
    "end",
    "next",
    "o",
    "p",
    "e",
    "state",
    "stuck",
    "owner__id__exact",
    "video_model__id__exact",
    "created_at__gte",
    "_changelist_filters",
]
queries = st.dictionaries(st.sampled_from(PARAM_NAMES) | st.text(max_size=8), texts, max_size=5)

# No shrinking: every example is a whole request, and shrinking one failure once took more than
# five minutes; a failing example is reported as it was found.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate]
FUZZ = settings(
    phases=PHASES,
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def world(db, member, other_member, staff):
    """A small team: finished, running, failed and remixable videos, and some spend."""
    staff.is_superuser = True  # the admin's search boxes and filters are fuzzed too
    staff.save()
    sora = VideoModel.objects.get(name="sora-2", provider__from_environment=True)
    now = timezone.now()
    done = job_row(
        member,
        sora,
        text="a red kite",
        state=JobState.SUCCEEDED,
        remote_id="video_1",
        finished_at=now,
        created_at=now - timedelta(hours=2),
        orientation="portrait",
    )
    done.video.save("v.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42" + b"0" * 100), save=True)
    running = job_row(
        member,
        sora,
        text="still going",
        created_at=now - timedelta(hours=2),
        state=JobState.QUEUED,
        orientation="portrait",
    )
    failed = job_row(
        member,
        sora,
        text="did not work",
        state=JobState.FAILED,
        finished_at=now,
        created_at=now - timedelta(hours=2),
        orientation="portrait",
    )
    theirs = job_row(
        other_member,
        sora,
        text="theirs",
        state=JobState.SUCCEEDED,
        finished_at=now,
        idempotency_key="their-key",
        created_at=now - timedelta(hours=2),
        orientation="portrait",
    )
    LedgerEntry.objects.create(
        job=done, user=member, username=member.username, model_name="sora-2", amount=1
    )
    return {
        "member": member,
        "other": other_member,
        "staff": staff,
        "sora": sora,
        "done": done,
        "running": running,
        "failed": failed,
        "theirs": theirs,
    }


def assert_clear(response, *, allowed=(200, 302, 400)) -> str:
    """Not a server error, and a refusal that says something."""
    assert response.status_code != 500
    assert response.status_code in allowed, response.status_code
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode(errors="replace")
    if response.status_code == 400:
        assert (
            "form-error" in text
            or "field-error" in text
            or "errorlist" in text
            or "message-error" in text
            or "NUL character" in text
        ), text[:500]
    return text


def no_submit(capture):
    """Jobs made by a fuzzed form are recorded but never handed to the worker."""
    return capture(execute=False)


# --- Forms ----------------------------------------------------------------------------------------


@FUZZ
@given(
    prompt=texts,
    orientation=texts | st.sampled_from(["portrait", "landscape"]),
    size=texts | st.sampled_from(["small", "large"]),
    duration=texts | st.sampled_from(["10", "15"]),
    image_fit=texts | st.sampled_from(["crop", "pad", "none"]),
    keep=st.lists(texts | st.uuids().map(str), max_size=3),
)
def test_the_create_form_with_pictures_never_fails(
    client,
    world,
    django_capture_on_commit_callbacks,
    prompt,
    orientation,
    size,
    duration,
    image_fit,
    keep,
):
    client.force_login(world["member"])
    data = form_data(
        prompt=prompt,
        orientation=orientation,
        size=size,
        duration=duration,
        image_fit=image_fit,
        idempotency_key=uuid.uuid4().hex,  # repeated keys are test_fuzz.py's subject
    )
    data["keep_images"] = keep
    with no_submit(django_capture_on_commit_callbacks):
        response = client.post(reverse("videos:studio"), data)
    assert_clear(response)


@FUZZ
@given(
    prompts=texts,
    csv_cells=st.lists(st.lists(texts, min_size=1, max_size=5), max_size=4),
    header=st.booleans(),
    use_csv=st.booleans(),
    duration=texts | st.just("10"),
    key=texts,
)
def test_the_batch_form_never_fails(
    client,
    world,
    django_capture_on_commit_callbacks,
    prompts,
    csv_cells,
    header,
    use_csv,
    duration,
    key,
):
    client.force_login(world["member"])
    data = {
        "prompts": "" if use_csv else prompts,
        "video_model": str(world["sora"].pk),
        "orientation": "landscape",
        "size": "small",
        "duration": duration,
        "idempotency_key": key,
    }
    if use_csv:
        rows = [["prompt", "model", "orientation", "size", "duration"]] if header else []
        rows += csv_cells
        text = "\n".join(",".join('"' + c.replace('"', '""') + '"' for c in row) for row in rows)
        data["csv_file"] = SimpleUploadedFile("b.csv", text.encode("utf-8", "replace"), "text/csv")
    with no_submit(django_capture_on_commit_callbacks):
        response = client.post(reverse("videos:batch"), data)
    assert_clear(response)
    # Whatever was made is stored as it will be sent: no NUL reached the database.
    # (Compared in Python: SQLite's LIKE stops at a NUL and would match every row.)
    assert not any("\x00" in text for text in Prompt.objects.values_list("text", flat=True))


@FUZZ
@given(which=st.sampled_from(["done", "running", "failed", "theirs"]), prompt=texts, key=texts)
def test_remix_never_fails(client, world, django_capture_on_commit_callbacks, which, prompt, key):
    client.force_login(world["member"])
    with no_submit(django_capture_on_commit_callbacks):
        response = client.post(
            reverse("videos:job_remix", args=[world[which].pk]),
            {"prompt": prompt, "idempotency_key": key},
        )
    assert_clear(response)


@FUZZ
@given(
    which=st.sampled_from(["done", "running", "failed", "theirs"]),
    decision=texts | st.sampled_from(ReviewDecision.values),
    comment=texts,
    htmx=st.booleans(),
)
def test_review_and_comments_never_fail(client, world, which, decision, comment, htmx):
    client.force_login(world["member"])
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.post(
        reverse("videos:job_review", args=[world[which].pk]),
        {"decision": decision, "comment": comment},
        **headers,
    )
    assert_clear(response)


@FUZZ
@given(which=st.sampled_from(["done", "running", "failed", "theirs"]), key=texts)
def test_retry_never_fails(client, world, django_capture_on_commit_callbacks, which, key):
    client.force_login(world["member"])
    with no_submit(django_capture_on_commit_callbacks):
        response = client.post(
            reverse("videos:job_retry", args=[world[which].pk]), {"idempotency_key": key}
        )
    assert_clear(response, allowed=(200, 302, 400, 403))


# --- Query strings --------------------------------------------------------------------------------


def _get_routes(number: int) -> list[str]:
    """Every page a GET may reach: the studio's, ops', and the admin's lists (search boxes)."""
    routes = []
    for route in project_routes(number=number):
        if route.namespace == "admin" and not route.name.endswith(("_changelist", "index")):
            continue
        if route.name in {"provider_webhook", "logout", "set_language"}:
            continue
        routes.append(route.path)
    return sorted(set(routes))


@settings(
    phases=PHASES,
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), query=queries, as_staff=st.booleans(), htmx=st.booleans())
def test_every_query_string_of_every_page_never_fails(
    client, world, settings, data, query, as_staff, htmx
):
    # /live/ is a page too (its query string is parsed like any other), but a stream that
    # stays open for its usual five minutes would hold the test: it ends at once here.
    settings.SORAWEB_LIVE_STREAM_SECONDS = 0.2
    path = data.draw(st.sampled_from(_get_routes(world["done"].pk)), label="path")
    client.force_login(world["staff"] if as_staff else world["member"])
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "gallery-results"} if htmx else {}
    response = client.get(f"{path}?{urlencode(query)}", **headers)
    assert_clear(response, allowed=(200, 204, 206, 302, 400, 403, 404, 405, 416))


@FUZZ
@given(query=queries, date_from=texts | st.dates().map(str), date_to=texts | st.dates().map(str))
def test_the_gallery_filters_never_fail(client, world, query, date_from, date_to):
    client.force_login(world["member"])
    query = {**query, "date_from": date_from, "date_to": date_to}
    assert_clear(client.get(reverse("videos:gallery"), query), allowed=(200, 400))


@FUZZ
@given(start=texts | st.dates().map(str), end=texts | st.dates().map(str), range_=texts)
def test_the_spend_report_never_fails(client, world, start, end, range_):
    client.force_login(world["staff"])
    response = client.get(reverse("ops:spend"), {"start": start, "end": end, "range": range_})
    assert_clear(response, allowed=(200, 400))


# --- The cases that were found by hand, each once -------------------------------------------------


@pytest.mark.parametrize("which", ["running", "failed"])
def test_remixing_or_reviewing_an_unfinished_job_is_a_form_error(client, world, which):
    client.force_login(world["member"])
    job = world[which]
    remix = client.post(reverse("videos:job_remix", args=[job.pk]), {"prompt": "bluer"})
    assert remix.status_code == 400
    assert "Only a finished video can be remixed." in remix.content.decode()
    review = client.post(reverse("videos:job_review", args=[job.pk]), {"decision": "approved"})
    assert review.status_code == 400
    assert "Only a finished video can be reviewed." in review.content.decode()


@pytest.mark.parametrize(
    "query", [{"date_to": "9999-12-31"}, {"date_from": "0001-01-01"}, {"date_from": "9999-12-31"}]
)
def test_gallery_dates_at_the_end_of_the_calendar_are_explained(client, world, query):
    client.force_login(world["member"])
    response = client.get(reverse("videos:gallery"), query)
    assert response.status_code == 200
    assert "Choose a date between 2000-01-01 and 2999-12-31." in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"start": "0001-01-01", "end": "9999-12-31"},
        {"start": "9999-12-31"},
        {"start": "0001-01-01", "end": "0001-01-01"},
    ],
)
def test_spend_report_dates_at_the_end_of_the_calendar_are_explained(client, world, query):
    client.force_login(world["staff"])
    response = client.get(reverse("ops:spend"), query)
    assert response.status_code == 200
    assert "The dates were not understood" in response.content.decode()


def test_a_thirty_digit_kept_picture_is_a_form_error(
    client, world, django_capture_on_commit_callbacks
):
    client.force_login(world["member"])
    with no_submit(django_capture_on_commit_callbacks):
        response = client.post(
            reverse("videos:studio"), {**form_data(prompt="p"), "keep_images": ["9" * 30]}
        )
    assert response.status_code == 400
    assert "is not available any more" in response.content.decode()


def test_another_persons_idempotency_key_makes_my_own_job(
    client, world, django_capture_on_commit_callbacks
):
    client.force_login(world["member"])
    with no_submit(django_capture_on_commit_callbacks):
        response = client.post(
            reverse("videos:studio"), form_data(prompt="mine", idempotency_key="their-key")
        )
    assert response.status_code == 302
    mine = VideoJob.objects.get(owner=world["member"], idempotency_key="their-key")
    assert mine.prompt.text == "mine" and mine.pk != world["theirs"].pk
    # And the same key again from me is my first job, not a new one.
    with no_submit(django_capture_on_commit_callbacks):
        client.post(
            reverse("videos:studio"), form_data(prompt="again", idempotency_key="their-key")
        )
    assert VideoJob.objects.filter(idempotency_key="their-key").count() == 2


@pytest.mark.parametrize(
    "path",
    [
        "/gallery/?q=kite%00",
        "/gallery/?author=%00",
        "/?from=1%00",
        "/admin/videos/videojob/?q=%00",
        "/admin/videos/videojob/?state=%00",
        "/admin/auth/user/?q=a%00b",
        "/ops/spend/?start=%00",
    ],
)
def test_a_nul_in_a_query_string_is_a_clear_400(client, world, path):
    client.force_login(world["staff"])
    response = client.get(path)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_a_nul_in_a_text_field_is_a_form_error(client, world, django_capture_on_commit_callbacks):
    client.force_login(world["member"])
    with no_submit(django_capture_on_commit_callbacks):
        create = client.post(reverse("videos:studio"), form_data(prompt="a\x00b"))
    assert create.status_code == 400 and "field-error" in create.content.decode()
    review = client.post(
        reverse("videos:job_review", args=[world["done"].pk]),
        {"decision": "comment", "comment": "a\x00b"},
    )
    assert review.status_code == 400
    assert not world["done"].reviews.exists()


def test_a_nul_in_a_batch_csv_cell_rejects_that_row_only(
    client, world, django_capture_on_commit_callbacks
):
    client.force_login(world["member"])
    csv = "prompt,size\nfine one,small\nbad\x00one,small\nbad size,small\x00\n"
    data = {
        "video_model": str(world["sora"].pk),
        "orientation": "landscape",
        "size": "small",
        "duration": "10",
        "idempotency_key": "csv-nul",
        "csv_file": SimpleUploadedFile("b.csv", csv.encode(), "text/csv"),
    }
    with no_submit(django_capture_on_commit_callbacks):
        response = client.post(reverse("videos:batch"), data)
    assert response.status_code == 200
    assert response.content.decode().count("This row contains a NUL character") == 2
    assert list(
        VideoJob.objects.filter(idempotency_key__startswith="csv-nul").values_list(
            "prompt__text", flat=True
        )
    ) == ["fine one"]


def test_a_nul_in_a_retry_key_is_refused(client, world, django_capture_on_commit_callbacks):
    client.force_login(world["member"])
    with no_submit(django_capture_on_commit_callbacks):
        response = client.post(
            reverse("videos:job_retry", args=[world["failed"].pk]), {"idempotency_key": "k\x00"}
        )
    assert response.status_code == 302
    assert not VideoJob.objects.filter(retry_of=world["failed"]).exists()


# --- The same on PostgreSQL -----------------------------------------------------------------------

POSTGRES_URL = os.environ.get(
    "SORAWEB_SCALE_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)


@pytest.mark.scale
@pytest.mark.timeout(1500)
def test_the_fuzz_holds_on_postgresql():
    """This file once more with PostgreSQL as the database (which refuses NUL and huge integers
    where SQLite shrugs), derandomized as in CI. Fails, never skips, without PostgreSQL."""
    import psycopg
    from psycopg import sql

    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except Exception as exc:
        pytest.fail(f"this test needs PostgreSQL at {POSTGRES_URL}: {exc}", pytrace=False)
    name = f"secinput_fuzz_{uuid.uuid4().hex[:10]}"
    base = POSTGRES_URL.rsplit("/", 1)[0]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SORAWEB_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        DATABASE_URL=f"{base}/{name}",
        SECINPUT_FUZZ_TEST_DB=name,
        CI="true",
        DJANGO_SETTINGS_MODULE="tests.security.settings_postgres",
    )
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                str(Path(__file__).relative_to(ROOT)),
                "tests/security/test_images.py",
                "-q",
                "-p",
                "no:cacheprovider",
                "--ds",
                "tests.security.settings_postgres",
                "-m",
                "not scale",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1400,
            check=False,
        )
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    # settings_postgres refuses to start on anything but PostgreSQL, so a pass here is one there.
    assert " passed" in proc.stdout and " failed" not in proc.stdout, proc.stdout[-2000:]


@pytest.mark.parametrize("field", ["name", "url"])
def test_a_nul_in_a_team_webhook_is_a_form_error(client, world, field):
    from soraweb.ops.models import TeamWebhook

    client.force_login(world["staff"])
    data = {
        "name": "chat",
        "url": "https://hooks.example.com/x",
        "only_succeeded": "",
        "enabled": "on",
    }
    data[field] = data[field] + "\x00"
    response = client.post(reverse("admin:ops_teamwebhook_add"), data)
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not TeamWebhook.objects.exists()
