"""Hypothesis over the provider response parsers and the create form: no crash, clear errors."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soraweb.providers import make_client
from soraweb.providers.base import (
    CreateRequest,
    JobStatus,
    ProviderConfig,
    ProviderError,
    RemoteState,
)
from soraweb.providers.chat import extract_video_url, find_failure, interpret, progress_from_text
from soraweb.providers.http import html_to_text, parse_retry_after
from soraweb.providers.normalise import find_error_text, normalise_status, parse_progress
from soraweb.videos.models import VideoJob, VideoModel
from tests.conftest import form_data

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
# Bodies shaped like the real answers, with every field replaced by arbitrary JSON.
shaped = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "task_id": json_values,
        "status": json_values | st.sampled_from(["completed", "SUCCESS", "failed", "queued"]),
        "progress": json_values,
        "video_url": json_values,
        "url": json_values,
        "result_url": json_values,
        "error": json_values,
        "fail_reason": json_values,
        "detail": json_values,
        "code": json_values,
        "data": json_values,
        "expires_at": json_values,
        "message": json_values,
    },
)
bodies = st.one_of(
    shaped.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)
statuses = st.sampled_from([200, 200, 200, 201, 400, 401, 404, 410, 429, 500, 502, 503])


class _Reply:
    body = b"{}"
    status = 200
    content_type = "application/json"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(_Reply.status)
        self.send_header("Content-Type", _Reply.content_type)
        self.send_header("Content-Length", str(len(_Reply.body)))
        self.end_headers()
        self.wfile.write(_Reply.body)

    do_GET = do_POST = do_DELETE = _answer  # noqa: N815

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/v1"
    httpd.shutdown()


@pytest.mark.parametrize("fmt", ["unified", "openai", "newapi", "chat"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies, status=statuses)
def test_every_client_answers_any_response_with_a_status_or_a_provider_error(
    server, fmt, body, status
):
    _Reply.body, _Reply.status = body, status
    client = make_client(
        ProviderConfig(base_url=server, wire_format=fmt, api_key="sk-fuzz-SECRET", read_timeout=2)
    )
    request = CreateRequest(
        model="sora-2", prompt="fuzz", orientation="portrait", size="small", duration=10
    )
    for call in (lambda: client.create(request), lambda: client.status("task_1")):
        try:
            result = call()
        except ProviderError as exc:
            assert exc.message and "sk-fuzz-SECRET" not in exc.message
            continue
        status_obj = result if isinstance(result, JobStatus) else result.status
        assert isinstance(status_obj.state, RemoteState)
        assert status_obj.progress is None or 0 <= status_obj.progress <= 100


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_the_normalisers_accept_anything(value):
    assert isinstance(normalise_status(value), RemoteState)
    progress = parse_progress(value)
    assert progress is None or 0 <= progress <= 100
    text = find_error_text(value)
    assert text is None or isinstance(text, str)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400))
def test_the_chat_text_parsers_accept_anything(text):
    url = extract_video_url(text)
    assert url is None or url.startswith(("http://", "https://"))
    progress = progress_from_text(text)
    assert progress is None or 0 <= progress <= 100
    find_failure(text)
    interpret(text)
    assert isinstance(html_to_text(text), str)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(["Retry-After", "retry-after-ms", "X"]), st.text(max_size=30)
    )
)
def test_retry_after_parsing_accepts_anything(headers):
    value = parse_retry_after(headers)
    assert value is None or value >= 0


form_fields = st.fixed_dictionaries(
    {
        "prompt": st.text(max_size=300),
        "video_model": st.text(max_size=6) | st.sampled_from(["1", "2", "999"]),
        "orientation": st.text(max_size=12) | st.sampled_from(["portrait", "landscape"]),
        "size": st.text(max_size=8) | st.sampled_from(["small", "large"]),
        "duration": st.text(max_size=6) | st.sampled_from(["10", "15", "-1", "1e9"]),
        "idempotency_key": st.text(max_size=80),
    }
)


@pytest.mark.django_db
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=form_fields, htmx=st.booleans())
def test_the_create_form_never_fails_with_a_server_error(
    client, member, data, htmx, django_capture_on_commit_callbacks
):
    client.force_login(member)
    before = VideoJob.objects.count()
    # Hypothesis repeats values across examples, so a key may already have made a job: the
    # answer must then be that job's confirmation, in words, and nothing new.
    key = data["idempotency_key"].strip()
    earlier = VideoJob.objects.filter(owner=member, idempotency_key=key).first() if key else None
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("videos:studio"), data, **headers)
    assert response.status_code in (200, 302, 400)
    body = response.content.decode()
    created = VideoJob.objects.count() - before
    if created:
        assert earlier is None
        job = VideoJob.objects.latest("id")
        vm = VideoModel.objects.get(pk=job.video_model_id)
        assert (
            job.orientation in vm.orientations
            and job.size in vm.sizes
            and job.duration in vm.durations
        )
    elif earlier is not None and "field-error" not in body and "form-error" not in body:
        said = body if htmx else " ".join(str(m) for m in get_messages(response.wsgi_request))
        assert f"(job {earlier.pk})" in said and "Nothing new was created" in said
    elif response.status_code != 302:
        assert "field-error" in body or "form-error" in body


@pytest.mark.django_db
@pytest.mark.parametrize("htmx", [True, False])
def test_a_resent_create_form_answers_with_the_first_jobs_confirmation(
    client, member, htmx, django_capture_on_commit_callbacks
):
    client.force_login(member)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    data = form_data(prompt="0", idempotency_key="0")
    with django_capture_on_commit_callbacks(execute=False):
        first = client.post(reverse("videos:studio"), data, **headers)
        again = client.post(reverse("videos:studio"), data, **headers)
    job = VideoJob.objects.get(owner=member)
    assert first.status_code in (200, 302)
    if htmx:
        assert again.status_code == 200
        body = again.content.decode()
        assert "data-replayed" in body
        # No second card is pushed into "My jobs": the first one is already there.
        assert "job-list" not in body
        said = body
    else:
        assert again.status_code == 302
        said = " ".join(str(m) for m in get_messages(again.wsgi_request))
    assert f"You already sent this form: it started “0” (job {job.pk})." in said
    assert "Nothing new was created or charged." in said
