"""The relay simulator: one local HTTP server speaking all four wire formats of
``shared/spec/providers.md`` (unified, chat, openai, newapi) over one job store.

Plain Python on purpose (no Django): the app's tests start it in a thread, and
``manage.py runsimulator`` / ``python -m soraweb.simulator.server`` run it standalone.

A job's life is a pure function of the clock: queued for the first ``queue_fraction`` of its
run time, then running with rising progress, then completed (or failed, per the prompt's
fault markers). Nothing needs a status query to advance, so a ticker thread can fire webhooks.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import hmac
import io
import json
import math
import os
import re
import secrets
import shutil
import socket
import string
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, unquote, urlsplit

from PIL import Image
from standardwebhooks.webhooks import Webhook

from . import catalogue_models, drift
from . import faults as faults_mod
from .faults import Faults
from .video import (
    ClipSpec,
    frame_size,
    pad_clip,
    render_clip,
    render_spritesheet,
    render_thumbnail,
)

FORMATS = ("unified", "chat", "openai", "newapi")
ORIENTATIONS = ("portrait", "landscape")
MAX_BODY_BYTES = 64 * 1024 * 1024
# What OpenAI's /videos takes (spec section 3); a catalogue model may list others its gateway
# accepts, any other model gets exactly these.
OPENAI_SECONDS = ("4", "8", "12")
_ALNUM = string.ascii_lowercase + string.digits
_WILDCARD_HOSTS = ("", "0.0.0.0", "::")  # noqa: S104 - compared against, never bound here

QUEUED_LINE = "> ⌛️ 任务正在队列中，请耐心等待...\n\n"
PROGRESS_PREFIX = "> 🏃 进度 "

HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
# Claims to be JSON and is not: what a misconfigured proxy in front of a relay sends.
GARBAGE_BODY = (
    b"upstream_response: <!DOCTYPE html><html><body>Service Temporarily Unavailable"
    b'</body></html> \x00\x01 {"id": '
)
EXPIRED_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>\n"
)


@dataclass(frozen=True)
class ModelRule:
    """What the simulator accepts for one model name."""

    sizes: tuple[str, ...] = ("small", "large")  # unified size tokens
    durations: tuple[int, ...] | None = None  # unified/newapi; None = any 1..60
    openai_sizes: tuple[str, ...] | None = None  # None = any WxH
    # From a catalogue file: durations per format, openai seconds, content[] role limits.
    durations_by_format: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    openai_seconds: tuple[str, ...] = OPENAI_SECONDS
    role_limits: Mapping[str, int] = field(default_factory=dict)
    # Where sound and the first / last frames arrive, per format (catalogue_models.Place).
    media: Mapping[str, Mapping[str, catalogue_models.Place]] = field(default_factory=dict)
    audio_default: bool | None = None

    def durations_for(self, fmt: str) -> tuple[int, ...] | None:
        return self.durations_by_format.get(fmt, self.durations)


def rules_from_catalogue(
    paths: Iterable[str | os.PathLike[str]] | None = None,
) -> dict[str, ModelRule]:
    """ModelRules for every model of catalogue files (the app's presets by default)."""
    models = catalogue_models.load(paths) if paths is not None else catalogue_models.load()
    return {
        name: ModelRule(
            sizes=m.unified_sizes,
            durations=m.durations.get("unified") or m.durations.get("newapi"),
            openai_sizes=m.openai_sizes,
            durations_by_format=dict(m.durations),
            openai_seconds=m.openai_seconds or OPENAI_SECONDS,
            role_limits=dict(m.role_limits),
            media=dict(m.media),
            audio_default=m.audio_default,
        )
        for name, m in models.items()
    }


# The simulator sells the catalogue's presets, read as a file like any outside relay would.
DEFAULT_MODEL_RULES: dict[str, ModelRule] = rules_from_catalogue()
# New catalogue models (Seedance, Veo, ...) must work without touching the simulator.
PERMISSIVE_RULE = ModelRule()


# --------------------------------------------------------------------------- jobs


@dataclass
class Job:
    id: str
    format: str
    prompt: str
    model: str
    orientation: str
    size: str  # as requested: "small"/"large" or "WxH"
    seconds: int
    width: int  # of the rendered clip
    height: int
    large: bool
    images: list[str]
    created_at: float
    run_seconds: float
    faults: Faults
    token: str  # names the result files: the URL is the credential, like a signed CDN link
    seq: int
    remixed_from: str | None = None
    forced_at: float | None = None
    deleted: bool = False
    notified: bool = False
    polls: int = 0
    # Chat streams: (unix time, percent) of each progress line, taken as it was written.
    progress_sent: list[tuple[float, int]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # What the clip carries: sound (None: the server's default) and the pictures it starts and
    # ends on (decoded bytes, None when not given or only given as an outside URL).
    audio: bool | None = None
    first_frame: bytes | None = None
    last_frame: bytes | None = None
    render_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


@dataclass(frozen=True)
class JobView:
    """A job at one instant."""

    state: str  # queued | running | completed | failed | expired
    progress: float  # 0..1
    changed_at: float  # when ``state`` began (unix seconds)
    completed_at: float | None
    expires_at: float | None
    error: str | None

    @property
    def terminal(self) -> bool:
        return self.state in ("completed", "failed", "expired")

    @property
    def has_result(self) -> bool:
        return self.state == "completed"


# --------------------------------------------------------------------------- the simulator


class Simulator:
    """A local relay. ``start()`` serves in daemon threads; ``stop()`` ends everything.

    The main knobs: ``job_seconds`` (run time of a job), ``hang_seconds`` (how long the hang
    markers hang), ``result_ttl`` (seconds a result lives after completion; None = forever),
    ``latency`` (added before every answer), ``newapi_shape`` ("code" or "flat"),
    ``video_width_small`` / ``video_width_large`` (short side of the rendered clip),
    ``webhook_url`` / ``webhook_secret`` (Standard-Webhooks events). README.md lists the rest.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        job_seconds: float = 4.0,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        latency: float = 0.0,
        hang_seconds: float = 45.0,
        queue_fraction: float = 0.15,
        result_ttl: float | None = 3600.0,
        expire_seconds: float = 3.0,
        newapi_shape: str = "code",
        chat_result_style: str = "both",
        video_width_small: int = 360,
        video_width_large: int = 540,
        video_fps: int = 12,
        video_audio: bool = True,
        prerender: bool = True,
        retry_after: float = 1.0,
        poll_after_ms: int | None = None,
        public_base_url: str | None = None,
        content_redirect: bool = False,
        check_reference_size: bool = True,
        files_require_auth: bool = False,
        webhook_formats: Iterable[str] = ("unified", "openai", "newapi"),
        webhook_retry_delays: Iterable[float] = (0.5, 1.0, 2.0, 4.0),
        model_rules: Mapping[str, ModelRule] | None = None,
        drift: Iterable[str] = (),
        work_dir: str | os.PathLike[str] | None = None,
        quiet: bool = True,
        log_stream: TextIO | None = None,
    ) -> None:
        if newapi_shape not in ("code", "flat"):
            raise ValueError("newapi_shape must be 'code' or 'flat'")
        if webhook_url and urlsplit(webhook_url).scheme not in ("http", "https"):
            raise ValueError("webhook_url must be an http(s) URL")
        if chat_result_style not in ("both", "markdown", "html"):
            raise ValueError("chat_result_style must be 'both', 'markdown' or 'html'")
        self.host = host
        self.port = port
        self.api_key = api_key or None
        self.job_seconds = float(job_seconds)
        self.webhook_url = webhook_url or None
        self.webhook_secret = webhook_secret or None
        self.latency = float(latency)
        self.hang_seconds = float(hang_seconds)
        self.queue_fraction = min(max(float(queue_fraction), 0.0), 0.9)
        self.result_ttl = result_ttl
        self.expire_seconds = float(expire_seconds)
        self.newapi_shape = newapi_shape
        self.chat_result_style = chat_result_style
        self.video_width_small = int(video_width_small)
        self.video_width_large = int(video_width_large)
        self.video_fps = int(video_fps)
        self.video_audio = bool(video_audio)
        self.prerender = bool(prerender)
        self.retry_after = float(retry_after)
        self.poll_after_ms = poll_after_ms
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.content_redirect = bool(content_redirect)
        self.check_reference_size = bool(check_reference_size)
        self.files_require_auth = bool(files_require_auth)
        self.webhook_formats = frozenset(webhook_formats)
        self.webhook_retry_delays = tuple(float(d) for d in webhook_retry_delays)
        self.model_rules = dict(DEFAULT_MODEL_RULES if model_rules is None else model_rules)
        # Drift markers applied to every job, as if each prompt carried them (drift.py).
        self.drift_markers = "".join(f"[sim:{name.strip()}]" for name in drift if name.strip())
        self.quiet = quiet
        self.log_stream = log_stream or sys.stderr

        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._by_token: dict[str, str] = {}
        self._seq = 0
        self._create_attempts: dict[str, int] = {}  # prompt -> validated create attempts
        self._accepted_by_prompt: dict[str, int] = {}
        self._request_log: list[tuple[str, str]] = []
        self._webhook_log: list[dict[str, Any]] = []
        self._pending: set[str] = set()  # jobs whose terminal moment the ticker still awaits
        self._stop = threading.Event()
        self._httpd: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._executor: ThreadPoolExecutor | None = None
        self._owns_work_dir = work_dir is None
        self._work_dir = Path(work_dir) if work_dir else None
        self._finalizer: weakref.finalize | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Simulator:
        if self._httpd is not None:
            return self
        if self._work_dir is None:
            self._work_dir = Path(tempfile.mkdtemp(prefix="soraweb-sim-"))
            # The clips must not outlive a test run that forgets stop().
            self._finalizer = weakref.finalize(
                self, shutil.rmtree, str(self._work_dir), ignore_errors=True
            )
        self._work_dir.mkdir(parents=True, exist_ok=True)
        self._stop.clear()
        self._httpd = _Server((self.host, self.port), _Handler, self)
        self.port = self._httpd.server_address[1]
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sim-render")
        serve = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sim-http-{self.port}",
            daemon=True,
        )
        ticker = threading.Thread(target=self._tick_loop, name=f"sim-tick-{self.port}", daemon=True)
        self._threads = [serve, ticker]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        httpd = self._httpd
        if httpd is None:
            return
        self._stop.set()
        httpd.shutdown()
        httpd.close_all_connections()
        httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        self._httpd = None
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        # A wildcard bind is reached through loopback from this machine.
        host = self.host if self.host not in _WILDCARD_HOSTS else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/v1"

    @property
    def public_url(self) -> str:
        """Base of the URLs handed out in results (differs from base_url behind Docker/NAT)."""
        return self.public_base_url or self.base_url

    # ----------------------------------------------------------------- public inspection

    @property
    def create_count(self) -> int:
        with self._lock:
            return len(self._jobs)

    def creates_for_prompt(self, text: str) -> int:
        with self._lock:
            return sum(1 for job in self._jobs.values() if text in job.prompt)

    def attempts_for_prompt(self, text: str) -> int:
        """Valid create requests whose prompt contains ``text``, including those a fault
        marker turned away (429/502/garbage) and so never became a job."""
        with self._lock:
            return sum(n for prompt, n in self._create_attempts.items() if text in prompt)

    def job(self, remote_id: str) -> dict[str, Any]:
        job = self._get(remote_id, include_deleted=True)
        if job is None:
            raise KeyError(remote_id)
        view = self.view(job)
        return {
            "id": job.id,
            "format": job.format,
            "state": "deleted" if job.deleted else view.state,
            "progress": view.progress,
            "prompt": job.prompt,
            "model": job.model,
            "orientation": job.orientation,
            "size": job.size,
            "seconds": job.seconds,
            "width": job.width,
            "height": job.height,
            "images": list(job.images),
            "created_at": job.created_at,
            "completed_at": view.completed_at,
            "expires_at": view.expires_at,
            "error": view.error,
            "video_url": self.file_url(job, "mp4") if view.has_result else None,
            "remixed_from": job.remixed_from,
            "polls": job.polls,
            "progress_sent": list(job.progress_sent),
            "faults": job.faults,
            "extra": dict(job.extra),
        }

    def jobs(self) -> list[dict[str, Any]]:
        with self._lock:
            ids = [job.id for job in sorted(self._jobs.values(), key=lambda j: j.seq)]
        return [self.job(job_id) for job_id in ids]

    def video_bytes(self, remote_id: str) -> bytes:
        job = self._get(remote_id, include_deleted=True)
        if job is None:
            raise KeyError(remote_id)
        if job.faults.failure_reason:
            raise LookupError(f"job {remote_id} fails by design and has no video")
        return self.asset_path(job, "mp4").read_bytes()

    def complete_now(self, remote_id: str) -> None:
        """Finish the job now with its planned outcome; the video is ready on return."""
        job = self._get(remote_id)
        if job is None:
            raise KeyError(remote_id)
        with self._lock:
            if job.forced_at is None and not self.view(job).terminal:
                job.forced_at = time.time()
        if not job.faults.failure_reason:
            self.asset_path(job, "mp4")
        self._tick_once()

    @property
    def request_log(self) -> list[tuple[str, str]]:
        """(method, raw path including the query string) of every request, in order."""
        with self._lock:
            return list(self._request_log)

    def requests_to(self, method: str, path_prefix: str) -> int:
        return sum(1 for m, p in self.request_log if m == method and p.startswith(path_prefix))

    @property
    def webhook_log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._webhook_log]

    # ----------------------------------------------------------------- job store

    def _get(self, remote_id: str, *, include_deleted: bool = False) -> Job | None:
        with self._lock:
            job = self._jobs.get(remote_id)
        if job is None or (job.deleted and not include_deleted):
            return None
        return job

    def _new_job(
        self,
        *,
        format: str,
        job_id: str,
        prompt: str,
        model: str,
        orientation: str,
        size: str,
        seconds: int,
        large: bool,
        images: list[str],
        faults: Faults,
        remixed_from: str | None = None,
        extra: dict[str, Any] | None = None,
        aspect: tuple[int, int] | None = None,
        media: Media | None = None,
    ) -> Job:
        width, height = frame_size(
            orientation, large, self.video_width_small, self.video_width_large
        )
        if aspect:
            # The clip keeps the requested shape (1:1, 21:9, 1280*720 ...), scaled down.
            short = min(width, height)
            w, h = aspect
            width, height = (
                (max(2, round(short * w / h) // 2 * 2), short)
                if w >= h
                else (short, max(2, round(short * h / w) // 2 * 2))
            )
        if faults.slow_seconds is None:
            run = self.job_seconds
        else:
            run = faults.slow_seconds or self.job_seconds * 4
        with self._lock:
            self._seq += 1
            job = Job(
                id=job_id,
                format=format,
                prompt=prompt,
                model=model,
                orientation=orientation,
                size=size,
                seconds=seconds,
                width=width,
                height=height,
                large=large,
                images=images,
                created_at=time.time(),
                run_seconds=max(run, 0.05),
                faults=faults,
                token=secrets.token_urlsafe(18),
                seq=self._seq,
                remixed_from=remixed_from,
                extra=extra or {},
            )
            if media is not None:
                job.audio, job.first_frame, job.last_frame = media.audio, media.first, media.last
            self._jobs[job.id] = job
            self._by_token[job.token] = job.id
            self._accepted_by_prompt[prompt] = self._accepted_by_prompt.get(prompt, 0) + 1
            self._pending.add(job.id)
        if self.prerender and not faults.failure_reason and self._executor is not None:
            with contextlib.suppress(RuntimeError):  # executor already shut down: stopping
                self._executor.submit(self._prerender, job)
        return job

    def _note_attempt(self, prompt: str) -> int:
        """Count a valid create attempt; return how many came before it for this prompt."""
        with self._lock:
            before = self._create_attempts.get(prompt, 0)
            self._create_attempts[prompt] = before + 1
            return before

    def _accepted_before(self, prompt: str) -> int:
        with self._lock:
            return self._accepted_by_prompt.get(prompt, 0) - 1

    def _note_poll(self, job: Job) -> int:
        with self._lock:
            before = job.polls
            job.polls += 1
            return before

    def view(self, job: Job, now: float | None = None) -> JobView:
        """Where the job is at ``now``: every format's status is derived from this."""
        now = time.time() if now is None else now
        run = job.run_seconds
        queue_end = job.created_at + run * self.queue_fraction
        full_end = job.created_at + run
        reason = job.faults.failure_reason
        if job.forced_at is not None:
            end = job.forced_at
        elif job.faults.stuck:
            end = math.inf
        elif reason:
            # Moderation rejects early; a generic failure strikes late, after progress.
            end = job.created_at + run * (0.3 if job.faults.moderation else 0.7)
        else:
            end = full_end

        def progress_at(t: float) -> float:
            if t <= queue_end:
                return 0.0
            value = (t - queue_end) / max(full_end - queue_end, 1e-6)
            return min(value, 0.5 if job.faults.stuck else 0.99)

        if now >= end:
            if reason:
                return JobView("failed", progress_at(end), end, None, None, reason)
            ttl = job.faults.expire_after
            if ttl is None:
                ttl = self.result_ttl
            expires = end + ttl if ttl is not None else None
            if expires is not None and now >= expires:
                return JobView("expired", 1.0, expires, end, expires, None)
            return JobView("completed", 1.0, end, end, expires, None)
        if now < queue_end:
            return JobView("queued", 0.0, job.created_at, None, None, None)
        return JobView("running", progress_at(now), queue_end, None, None, None)

    def rule_for(self, model: str) -> ModelRule:
        return self.model_rules.get(model, PERMISSIVE_RULE)

    def file_url(self, job: Job, ext: str) -> str:
        return f"{self.public_url}/files/{job.token}.{ext}"

    # ----------------------------------------------------------------- rendering

    def asset_path(self, job: Job, ext: str) -> Path:
        """The file for ``ext`` (mp4 video, webp thumbnail, jpg spritesheet), made once."""
        assert self._work_dir is not None, "start() the simulator first"
        video = self._work_dir / f"{job.token}.mp4"
        with job.render_lock:
            if not video.exists():
                spec = ClipSpec(
                    width=job.width,
                    height=job.height,
                    seconds=job.seconds,
                    fps=self.video_fps,
                    title=faults_mod.strip_markers(job.prompt) or "(empty prompt)",
                    subtitle=f"{job.id}  {job.model}  {job.orientation}  {job.seconds}s",
                    seed=job.id,
                    audio=self.video_audio if job.audio is None else job.audio,
                    first_frame=job.first_frame,
                    last_frame=job.last_frame,
                )
                partial = video.with_suffix(".part.mp4")
                render_clip(spec, partial, faststart=not job.faults.moov_last)
                if job.faults.file_mb:
                    padded = video.with_suffix(".padded.mp4")
                    pad_clip(partial, padded, job.faults.file_mb * 1024 * 1024)
                    os.replace(padded, partial)
                os.replace(partial, video)
            if ext == "mp4":
                return video
            target = self._work_dir / f"{job.token}.{ext}"
            if not target.exists():
                partial = self._work_dir / f"{job.token}.part.{ext}"
                if ext == "jpg":
                    render_spritesheet(video, partial, job.seconds)
                else:
                    render_thumbnail(video, partial, job.seconds)
                os.replace(partial, target)
            return target

    def _prerender(self, job: Job) -> None:
        if self._stop.is_set():
            return
        try:
            self.asset_path(job, "mp4")
        except Exception as exc:  # a download will retry and report it
            self._log(f"prerender of {job.id} failed: {exc}")

    # ----------------------------------------------------------------- ticker and webhooks

    def _tick_loop(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self._tick_once()
            except Exception:  # the ticker must survive anything
                self._log(traceback.format_exc())

    def _tick_once(self) -> None:
        with self._lock:
            pending = [self._jobs[job_id] for job_id in self._pending]
        now = time.time()
        for job in pending:
            view = self.view(job, now)
            if not view.terminal:
                continue
            with self._lock:
                if job.notified:
                    continue
                job.notified = True
                self._pending.discard(job.id)
            if job.deleted or not self.webhook_url or job.format not in self.webhook_formats:
                continue
            event = "video.failed" if view.state == "failed" else "video.completed"
            threading.Thread(
                target=self._deliver_webhook,
                args=(job.id, event),
                name=f"sim-webhook-{job.id}",
                daemon=True,
            ).start()

    def _deliver_webhook(self, job_id: str, event_type: str) -> None:
        event_id = f"evt_{secrets.token_hex(16)}"
        body = json.dumps(
            {
                "id": event_id,
                "object": "event",
                "created_at": int(time.time()),
                "type": event_type,
                "data": {"id": job_id},
            },
            separators=(",", ":"),
        ).encode()
        delays = (0.0, *self.webhook_retry_delays)
        for attempt, delay in enumerate(delays, start=1):
            if delay and self._stop.wait(delay):
                return
            if self._stop.is_set():
                return
            # Re-signed per attempt: a late retry must still pass the receiver's 300 s window.
            headers = sign_webhook(self.webhook_secret, event_id, int(time.time()), body)
            headers["Content-Type"] = "application/json"
            headers["User-Agent"] = "soraweb-simulator-webhooks/1"
            status: int | None = None
            error: str | None = None
            try:
                # The scheme was checked to be http(s) in __init__.
                request = urllib.request.Request(  # noqa: S310
                    self.webhook_url or "", data=body, headers=headers, method="POST"
                )
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except (OSError, ValueError) as exc:
                error = str(exc)
            ok = status is not None and 200 <= status < 300
            with self._lock:
                self._webhook_log.append(
                    {
                        "event_id": event_id,
                        "type": event_type,
                        "video_id": job_id,
                        "attempt": attempt,
                        "status": status,
                        "error": error,
                        "delivered": ok,
                    }
                )
            if ok:
                return

    # ----------------------------------------------------------------- misc

    def _log_request(self, method: str, path: str) -> None:
        with self._lock:
            self._request_log.append((method, path))

    def _log(self, message: str) -> None:
        if not self.quiet:
            print(f"[simulator] {message}", file=self.log_stream, flush=True)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopping; True when the simulator is stopping."""
        return self._stop.wait(seconds) if seconds > 0 else self._stop.is_set()


def sign_webhook(secret: str | None, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Standard-Webhooks headers. Without a secret the message goes out unsigned."""
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if secret:
        # Signed by the reference implementation, as a real sender signs.
        when = datetime.fromtimestamp(timestamp, tz=UTC)
        headers["webhook-signature"] = Webhook(webhook_key(secret)).sign(
            msg_id=msg_id, timestamp=when, data=body.decode()
        )
    return headers


def webhook_key(secret: str) -> bytes:
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        # Not base64: use the text itself rather than refuse to sign at all.
        return raw.encode()


# --------------------------------------------------------------------------- HTTP plumbing


class _Reply(Exception):  # noqa: N818 - control flow, not an error
    """Answer the request with this response at once (errors and injected faults)."""

    def __init__(
        self,
        status: int,
        body: bytes | dict[str, Any],
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}


class _Abort(Exception):  # noqa: N818
    """Close the connection without a (complete) response."""


def _error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> _Reply:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return _Reply(status, body, headers=headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Hanging handlers must not hold up stop().
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, sim: Simulator) -> None:
        self.sim = sim
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def close_all_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


Route = tuple[str, "re.Pattern[str]", str, bool]
_ID = r"(?P<id>[^/]+)"
ROUTES: list[Route] = [
    ("POST", re.compile(r"/v1/video/create"), "unified_create", True),
    ("GET", re.compile(r"/v1/video/query"), "unified_query", True),
    ("POST", re.compile(r"/v1/chat/completions"), "chat_completions", True),
    ("POST", re.compile(r"/v1/videos"), "openai_create", True),
    ("GET", re.compile(r"/v1/videos"), "openai_list", True),
    ("GET", re.compile(rf"/v1/videos/{_ID}"), "openai_retrieve", True),
    ("DELETE", re.compile(rf"/v1/videos/{_ID}"), "openai_delete", True),
    ("GET", re.compile(rf"/v1/videos/{_ID}/content"), "openai_content", True),
    ("POST", re.compile(rf"/v1/videos/{_ID}/remix"), "openai_remix", True),
    ("POST", re.compile(r"/v1/video/generations"), "newapi_create", True),
    ("GET", re.compile(rf"/v1/video/generations/{_ID}"), "newapi_query", True),
    (
        "GET",
        re.compile(r"/v1/files/(?P<token>[A-Za-z0-9_-]+)\.(?P<ext>mp4|webp|jpg)"),
        "files",
        False,
    ),
    ("GET", re.compile(r"/v1/models"), "models", True),
    ("GET", re.compile(r"/(healthz)?"), "health", False),
]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "soraweb-simulator/1.0"
    # Idle keep-alive connections are closed after this long.
    timeout = 120
    server: _Server

    # ----------------------------------------------------------------- entry points

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        self.sim._log(f"{self.address_string()} {format % args}")

    @property
    def sim(self) -> Simulator:
        return self.server.sim

    def _dispatch(self, method: str) -> None:
        self.head_only = method == "HEAD"
        sim = self.sim
        sim._log_request(method, self.path)
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            self.body = self._read_body()
            if sim.latency and sim._sleep(sim.latency):
                raise _Abort
            handler, params, needs_auth = self._route("GET" if self.head_only else method, url.path)
            if needs_auth:
                self._check_auth()
            handler(**params)
        except _Reply as reply:
            self._send(reply.status, reply.body, reply.content_type, reply.headers)
        except (_Abort, BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as exc:
            sim._log(traceback.format_exc())
            with contextlib.suppress(OSError):
                self._send(
                    500,
                    {"error": {"message": f"simulator bug: {exc}", "type": "server_error"}},
                )

    def _route(self, method: str, path: str) -> tuple[Callable[..., None], dict[str, str], bool]:
        path_matched = False
        for route_method, pattern, name, auth in ROUTES:
            match = pattern.fullmatch(path)
            if not match:
                continue
            path_matched = True
            if route_method == method:
                params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                if name == "health":
                    params = {}
                needs_auth = auth or (name == "files" and self.sim.files_require_auth)
                return getattr(self, f"h_{name}"), params, needs_auth
        if path_matched:
            raise _error(405, f"Method {method} is not allowed on {path}.")
        raise _error(404, f"Unknown route: {method} {path}. The simulator serves /v1/... only.")

    def _check_auth(self) -> None:
        expected = self.sim.api_key
        if not expected:
            return
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            message = "Missing API key: send it as 'Authorization: Bearer <key>'."
        elif scheme.lower() != "bearer" or not token.strip():
            message = "Malformed Authorization header: expected 'Bearer <key>'."
        elif hmac.compare_digest(token.strip().encode(), expected.encode()):
            return
        else:
            message = "Invalid API key: the key sent does not match this relay's key."
        raise _error(401, message, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024).split(b";")[0].strip()
                size = int(size_line or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY_BYTES:
                    self.close_connection = True
                    raise _error(413, "Request body too large.")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as exc:
            self.close_connection = True
            raise _error(400, "Invalid Content-Length header.") from exc
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise _error(413, "Request body too large.")
        return self.rfile.read(length) if length > 0 else b""

    # ----------------------------------------------------------------- response helpers

    def _send(
        self,
        status: int,
        body: bytes | dict[str, Any] | list[Any],
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        if not isinstance(body, bytes):
            body = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-request-id", f"req_{secrets.token_hex(8)}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not self.head_only:
            self.wfile.write(body)

    def _json(self) -> dict[str, Any]:
        if not self.body:
            raise _error(400, "Request body is empty: expected a JSON object.")
        try:
            data = json.loads(self.body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise _error(400, f"Request body is not valid JSON: {exc}.") from exc
        if not isinstance(data, dict):
            raise _error(400, "Request body must be a JSON object.")
        return data

    def _hang(self) -> None:
        # The job (if any) is stored already: from the client's side the outcome is unknown.
        if self.sim._sleep(self.sim.hang_seconds):
            raise _Abort

    def _inject(self, kind: str) -> None:
        sim = self.sim
        if kind == "429":
            retry = sim.retry_after
            raise _error(
                429,
                f"Rate limit reached for requests. Please try again in {retry:g}s.",
                type="requests",
                code="rate_limit_exceeded",
                headers={
                    "Retry-After": str(max(1, math.ceil(retry))),
                    "retry-after-ms": str(int(retry * 1000)),
                },
            )
        if kind == "502":
            raise _Reply(502, HTML_502, content_type="text/html")
        if kind == "garbage":
            raise _Reply(200, GARBAGE_BODY, content_type="application/json; charset=utf-8")
        if kind == "hang":
            self._hang()

    def _create_gate(self, prompt: str) -> Faults:
        """Apply create-time fault markers; returns the faults when the create may proceed."""
        faults = faults_mod.parse(self.sim.drift_markers + prompt)
        k = self.sim._note_attempt(prompt)
        for kind, count in faults.create_rejections:
            if k < count:
                self._inject(kind)
            k -= count
        return faults

    def _after_store(self, job: Job) -> None:
        if self.sim._accepted_before(job.prompt) < job.faults.create_hang:
            self._hang()

    def _poll_gate(self, job: Job) -> None:
        k = self.sim._note_poll(job)
        for kind, count in job.faults.poll_rejections:
            if k < count:
                self._inject(kind)
                return
            k -= count

    def _send_file(self, path: Path, content_type: str) -> None:
        """Serve a file with Content-Length and single-range (206) support."""
        size = path.stat().st_size
        start, end = 0, size - 1
        status = 200
        headers = {
            "Accept-Ranges": "bytes",
            "ETag": f'"{path.stem}-{size}"',
            "Cache-Control": "private, max-age=3600",
        }
        range_header = self.headers.get("Range")
        if range_header:
            parsed = _parse_range(range_header, size)
            if parsed is None:
                raise _Reply(
                    416,
                    {"error": {"message": f"Range not satisfiable: {range_header}"}},
                    headers={"Content-Range": f"bytes */{size}"},
                )
            if parsed is not _WHOLE:
                start, end = parsed
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = end - start + 1
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.head_only:
            return
        with path.open("rb") as fh:
            # Zero-copy where the OS can (sendfile): the relay is never the slow end of a
            # download benchmark. The headers are out already (wfile is unbuffered).
            self.connection.sendfile(fh, offset=start, count=length)

    # ----------------------------------------------------------------- misc routes

    def h_health(self) -> None:
        self._send(200, {"ok": True, "service": "soraweb relay simulator", "formats": FORMATS})

    def h_models(self) -> None:
        names = sorted(self.sim.model_rules)
        self._send(
            200,
            {
                "object": "list",
                "data": [
                    {"id": n, "object": "model", "created": 0, "owned_by": "soraweb-simulator"}
                    for n in names
                ],
            },
        )

    def h_files(self, token: str, ext: str) -> None:
        sim = self.sim
        with sim._lock:
            job_id = sim._by_token.get(token)
        job = sim._get(job_id) if job_id else None
        if job is None:
            raise _Reply(404, {"error": {"message": "No such file."}})
        view = sim.view(job)
        if view.state == "expired":
            # What an object store says to a signed URL past its expiry.
            raise _Reply(403, EXPIRED_XML, content_type="application/xml")
        if not view.has_result:
            raise _Reply(404, {"error": {"message": "No such file (yet)."}})
        types = {"mp4": "video/mp4", "webp": "image/webp", "jpg": "image/jpeg"}
        self._send_file(sim.asset_path(job, ext), types[ext])

    # ----------------------------------------------------------------- 1. unified

    def h_unified_create(self) -> None:
        sim = self.sim
        data = self._json()
        required = ("images", "model", "orientation", "prompt", "size", "duration")
        missing = [name for name in required if name not in data or data[name] is None]
        if missing:
            raise _error(
                400,
                f"Missing required field(s): {', '.join(missing)}. Every field of "
                "images, model, orientation, prompt, size, duration must be sent "
                "(images as [] for text-to-video).",
                param=missing[0],
            )
        images = data["images"]
        if not isinstance(images, list):
            raise _error(400, "Field 'images' must be an array of image URLs.", param="images")
        for i, url in enumerate(images):
            if not isinstance(url, str) or not re.match(r"^(https?://|data:image/)", url):
                raise _error(
                    400, f"images[{i}] must be an http(s) or data: image URL.", param="images"
                )
        model = data["model"]
        if not isinstance(model, str) or not model.strip():
            raise _error(400, "Field 'model' must be a non-empty string.", param="model")
        prompt = data["prompt"]
        if not isinstance(prompt, str) or not prompt.strip():
            raise _error(400, "Field 'prompt' must be a non-empty string.", param="prompt")
        orientation = data["orientation"]
        if orientation not in ORIENTATIONS:
            raise _error(
                400,
                f"Invalid orientation {orientation!r}: use 'portrait' or 'landscape'.",
                param="orientation",
            )
        size = data["size"]
        if size not in ("small", "large"):
            raise _error(400, f"Invalid size {size!r}: use 'small' or 'large'.", param="size")
        duration = _int_value(data["duration"])
        if duration is None:
            raise _error(
                400, "Field 'duration' must be an integer number of seconds.", param="duration"
            )
        rule = sim.rule_for(model)
        if size not in rule.sizes:
            raise _error(
                400,
                f"Model {model} does not support size '{size}': use "
                + " or ".join(f"'{s}'" for s in rule.sizes)
                + ".",
                param="size",
            )
        _check_duration(rule, model, duration)
        faults = self._create_gate(prompt)
        if faults.no_id:
            # Some model variants answer in chat shape: a 200 that carries no task id.
            raise _Reply(
                200, _chat_completion_body(f"chatcmpl-{secrets.token_hex(12)}", model, "OK")
            )
        job = sim._new_job(
            format="unified",
            job_id=drift.job_id(
                faults, f"{model}:task_{''.join(secrets.choice(_ALNUM) for _ in range(26))}"
            ),
            prompt=prompt,
            model=model,
            orientation=orientation,
            size=size,
            seconds=duration,
            large=size == "large",
            images=list(images),
            faults=faults,
            extra={k: data[k] for k in ("watermark", "private", "aspect_ratio") if k in data},
            aspect=_ratio(data.get("aspect_ratio")),
            media=_media(rule, "unified", data),
        )
        self._after_store(job)
        self._send(
            200,
            {"id": job.id, "status": "pending", "status_update_time": int(job.created_at * 1000)},
        )

    def h_unified_query(self) -> None:
        sim = self.sim
        job_id = self.query.get("id", "").strip()
        if not job_id:
            raise _error(400, "Query parameter 'id' is required.", param="id")
        job = sim._get(job_id)
        if job is None:
            raise _error(404, f"Task not found: {job_id}", code="task_not_found")
        self._poll_gate(job)
        view = sim.view(job)
        status = {
            "queued": "pending",
            "running": "rendering" if job.faults.odd_status else "processing",
        }.get(view.state, view.state)
        body: dict[str, Any] = {
            "id": job.id,
            "status": status,
            "video_url": sim.file_url(job, "mp4") if view.has_result else None,
            "enhanced_prompt": _enhanced(job.prompt),
            "status_update_time": int(view.changed_at * 1000),
            "detail": {"pending_info": {"progress_pct": round(view.progress, 4)}},
            "width": job.width,
            "height": job.height,
            "n_frames": job.seconds * sim.video_fps,
        }
        if view.error:
            body["fail_reason"] = view.error
        f = job.faults
        body["status"] = drift.status_word(f, view.state, status)
        if f.progress_style:
            body.pop("detail")
            drift.set_progress(body, "progress", f, view.state, view.progress)
        drift.place_url(body, ("video_url",), f, None)
        drift.place_refusal(body, ("fail_reason",), f, None)
        self._send(200, body)

    # ----------------------------------------------------------------- 2. chat

    def h_chat_completions(self) -> None:
        sim = self.sim
        data = self._json()
        model = data.get("model")
        if not isinstance(model, str) or not model.strip():
            raise _error(400, "Field 'model' is required.", param="model")
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _error(400, "Field 'messages' must be a non-empty array.", param="messages")
        prompt, images = _chat_prompt(messages)
        if not prompt:
            raise _error(400, "No user message with text found in 'messages'.", param="messages")
        stream = data.get("stream", False)
        if not isinstance(stream, bool):
            raise _error(400, "Field 'stream' must be a boolean.", param="stream")
        orientation, seconds, large = _chat_params(model, prompt)
        refusal = drift.string_tools_error(
            faults_mod.parse(sim.drift_markers + prompt), data.get("tools")
        )
        if refusal:
            raise _error(400, refusal, param="tools", code="invalid_type")
        faults = self._create_gate(prompt)
        job = sim._new_job(
            format="chat",
            job_id=drift.job_id(faults, f"chatcmpl-{secrets.token_hex(14)}"),
            prompt=prompt,
            model=model,
            orientation=orientation,
            size="large" if large else "small",
            seconds=seconds,
            large=large,
            images=images,
            faults=faults,
            media=_media(sim.rule_for(model), "chat", {"content": images}),
        )
        self._after_store(job)
        if stream:
            self._chat_stream(job)
        else:
            self._chat_blocking(job)

    def _result_text(self, job: Job, view: JobView) -> str:
        if view.state == "failed":
            return f"❌ 生成失败: {view.error}\n"
        url = self.sim.file_url(job, "mp4")
        parts = []
        if self.sim.chat_result_style in ("both", "markdown"):
            parts.append(f"> ✅ 视频生成成功，[点击这里]({url}) 查看视频~~~\n\n")
        if self.sim.chat_result_style in ("both", "html"):
            parts.append(f"```html\n<video src='{url}' controls></video>\n```\n")
        return "".join(parts)

    def _wait_terminal(self, job: Job, on_tick: Callable[[JobView], None] | None) -> JobView:
        while True:
            view = self.sim.view(job)
            if on_tick is not None:
                on_tick(view)
            if view.terminal:
                return view
            if self.sim._sleep(0.25):
                raise _Abort

    def _chat_blocking(self, job: Job) -> None:
        def watch(view: JobView) -> None:
            if job.faults.drop and (view.progress >= 0.4 or view.terminal):
                raise _Abort

        view = self._wait_terminal(job, watch)
        text = QUEUED_LINE + PROGRESS_PREFIX + f"{int(view.progress * 100)}..\n\n"
        text += self._result_text(job, view)
        self._send(200, _chat_completion_body(job.id, job.model, text))

    def _chat_stream(self, job: Job) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
            payload = {
                "id": job.id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": job.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            line = "data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
            self._write_chunk((line + "\n\n").encode())
            state["last_write"] = time.monotonic()

        state: dict[str, Any] = {"last_write": time.monotonic(), "pct": -1, "quarter": 0}
        self._write_chunk(b": keep-alive\n\n")
        chunk({"role": "assistant", "content": ""})
        chunk({"reasoning_content": QUEUED_LINE})

        def on_tick(view: JobView) -> None:
            if job.faults.drop and (view.progress >= 0.4 or view.terminal):
                # Cut the stream the way a dying proxy does: no [DONE], no final chunk.
                raise _Abort
            if view.state == "running":
                if state["pct"] < 0:
                    chunk({"reasoning_content": PROGRESS_PREFIX})
                pct = int(view.progress * 100)
                if pct > state["pct"]:
                    chunk({"reasoning_content": f"{pct}.."})
                    state["pct"] = pct
                    job.progress_sent.append((time.time(), pct))
                if pct // 25 > state["quarter"]:
                    state["quarter"] = pct // 25
                    chunk({"content": f"**Video Generation Progress**: {pct}% (processing)\n\n"})
            if time.monotonic() - state["last_write"] >= 0.5:
                chunk({"content": ""})

        view = self._wait_terminal(job, on_tick)
        if view.state != "failed":
            chunk({"reasoning_content": "100..\n\n"})
        chunk({"content": self._result_text(job, view)})
        chunk({}, finish="stop")
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")

    def _write_chunk(self, data: bytes) -> None:
        # Chunked transfer encoding, like a real gateway; an empty chunk ends the body.
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    # ----------------------------------------------------------------- 3. openai

    def _openai_form(self) -> tuple[dict[str, Any], dict[str, tuple[str, str, bytes]]]:
        ctype = self.headers.get("Content-Type", "")
        if ctype.lower().startswith("multipart/form-data"):
            return _parse_multipart(ctype, self.body)
        if ctype.lower().startswith("application/json") or not ctype:
            return self._json(), {}
        raise _error(400, f"Unsupported Content-Type {ctype!r}: send multipart/form-data or JSON.")

    def _openai_prompt(self, value: Any) -> str:
        if value is None:
            raise _error(
                400,
                "Missing required parameter: 'prompt'.",
                param="prompt",
                code="missing_required_parameter",
            )
        if not isinstance(value, str):
            raise _error(
                400,
                "Invalid type for 'prompt': expected a string.",
                param="prompt",
                code="invalid_type",
            )
        if not 1 <= len(value) <= 32000:
            raise _error(
                400,
                f"Invalid 'prompt': string length must be between 1 and 32000, got {len(value)}.",
                param="prompt",
                code="string_above_max_length" if value else "empty_string",
            )
        return value

    def h_openai_create(self) -> None:
        sim = self.sim
        fields, files = self._openai_form()
        prompt = self._openai_prompt(fields.get("prompt"))
        model = fields.get("model", "sora-2")
        if not isinstance(model, str) or not model:
            raise _error(
                400,
                "Invalid type for 'model': expected a string.",
                param="model",
                code="invalid_type",
            )
        rule = sim.rule_for(model)
        seconds = fields.get("seconds", "4")
        if not isinstance(seconds, str):
            raise _error(
                400,
                f"Invalid type for 'seconds': expected one of {_quoted(OPENAI_SECONDS)} "
                f"(a string), but got {_json_type(seconds)} instead.",
                param="seconds",
                code="invalid_type",
            )
        if seconds not in rule.openai_seconds:
            raise _error(
                400,
                f"Invalid value: '{seconds}'. Supported values are: {_quoted(rule.openai_seconds)}.",
                param="seconds",
                code="invalid_value",
            )
        size = fields.get("size", "720x1280")
        dims = _wxh(size) if isinstance(size, str) else None
        allowed = rule.openai_sizes
        if dims is None or (allowed is not None and size not in allowed):
            shown = _quoted(allowed) if allowed else "WIDTHxHEIGHT"
            raise _error(
                400,
                f"Invalid value: {size!r}. Supported values are: {shown}.",
                param="size",
                code="invalid_value",
            )
        images = self._openai_reference(fields, files, dims)
        faults = self._create_gate(prompt)
        job = self._openai_new_job(
            prompt=prompt,
            model=model,
            size=size,
            seconds=int(seconds),
            dims=dims,
            images=images,
            faults=faults,
            media=_media(rule, "openai", fields, files),
        )
        self._after_store(job)
        self._send(200, self._video_object(job))

    def _openai_reference(
        self,
        fields: dict[str, Any],
        files: dict[str, tuple[str, str, bytes]],
        dims: tuple[int, int],
    ) -> list[str]:
        if "input_reference" in files:
            filename, _ctype, data = files["input_reference"]
            try:
                with Image.open(io.BytesIO(data)) as img:
                    img_size = img.size
            except Exception as exc:
                raise _error(
                    400,
                    f"Invalid 'input_reference': not a readable image ({exc}).",
                    param="input_reference",
                    code="invalid_image",
                ) from exc
            if self.sim.check_reference_size and img_size != dims:
                raise _error(
                    400,
                    "Inpaint image must match the requested width and height "
                    f"(got {img_size[0]}x{img_size[1]}, expected {dims[0]}x{dims[1]}).",
                    param="input_reference",
                    code="invalid_value",
                )
            return [f"upload:{filename}"]
        ref = fields.get("input_reference")
        if ref is None:
            return []
        if isinstance(ref, dict) and isinstance(ref.get("image_url") or ref.get("file_id"), str):
            return [ref.get("image_url") or f"file:{ref['file_id']}"]
        raise _error(
            400,
            "Invalid 'input_reference': upload an image file (multipart) or send "
            '{"image_url": ...} / {"file_id": ...}.',
            param="input_reference",
            code="invalid_value",
        )

    def _openai_new_job(
        self,
        *,
        prompt: str,
        model: str,
        size: str,
        seconds: int,
        dims: tuple[int, int],
        images: list[str],
        faults: Faults,
        remixed_from: str | None = None,
        media: Media | None = None,
    ) -> Job:
        return self.sim._new_job(
            format="openai",
            job_id=drift.job_id(faults, f"video_{secrets.token_hex(24)}"),
            prompt=prompt,
            model=model,
            orientation="landscape" if dims[0] > dims[1] else "portrait",
            size=size,
            seconds=seconds,
            large=max(dims) >= 1700,
            images=images,
            faults=faults,
            remixed_from=remixed_from,
            aspect=dims,
            media=media,
        )

    def _video_object(self, job: Job) -> dict[str, Any]:
        view = self.sim.view(job)
        status = {
            "queued": "queued",
            "running": "rendering" if job.faults.odd_status else "in_progress",
            "expired": "completed",
        }.get(view.state, view.state)
        error = None
        if view.error:
            code = "moderation_blocked" if job.faults.moderation else "video_generation_failed"
            error = {"code": code, "message": view.error}
        body: dict[str, Any] = {
            "id": job.id,
            "object": "video",
            "model": job.model,
            "status": status,
            "progress": int(view.progress * 100),
            "created_at": int(job.created_at),
            "completed_at": int(view.completed_at) if view.completed_at else None,
            "expires_at": int(view.expires_at) if view.expires_at else None,
            "prompt": job.prompt,
            "size": job.size if "x" in job.size else f"{job.width}x{job.height}",
            "seconds": str(job.seconds),
            "remixed_from_video_id": job.remixed_from,
            "error": error,
        }
        return self._drifted_video_object(job, view, body)

    def _drifted_video_object(self, job: Job, view: JobView, body: dict[str, Any]):
        f = job.faults
        body["status"] = drift.status_word(f, view.state, body["status"])
        drift.set_progress(body, "progress", f, view.state, view.progress)
        if f.meta_url and view.has_result:
            body["metadata"] = {"url": self.sim.file_url(job, "mp4")}
        drift.place_refusal(body, ("error",), f, None)
        return body

    def _openai_job(self, job_id: str) -> Job:
        job = self.sim._get(job_id)
        if job is None:
            raise _error(
                404, f"Video with id '{job_id}' not found.", param="video_id", code="not_found"
            )
        return job

    def _poll_after_ms(self) -> int:
        sim = self.sim
        if sim.poll_after_ms is not None:
            return int(sim.poll_after_ms)
        return int(min(10000, max(200, sim.job_seconds * 1000 / 8)))

    def h_openai_retrieve(self, id: str) -> None:
        job = self._openai_job(id)
        self._poll_gate(job)
        headers = {}
        view = self.sim.view(job)
        if not view.terminal:
            headers["openai-poll-after-ms"] = str(self._poll_after_ms())
        if job.faults.no_url:
            # new-api rc.30 answers GET /v1/videos/{task_id} in its own shape, with no URL.
            body = drift.rc30_object(job.faults, job.id, view.state, view.progress, view.error)
            self._send(200, body, headers=headers)
            return
        self._send(200, self._video_object(job), headers=headers)

    def h_openai_content(self, id: str) -> None:
        sim = self.sim
        job = self._openai_job(id)
        variant = self.query.get("variant", "video") or "video"
        if job.faults.no_variant:
            variant = "video"  # a gateway that drops the query string
        kinds = {
            "video": ("mp4", "video/mp4"),
            "thumbnail": ("webp", "image/webp"),
            "spritesheet": ("jpg", "image/jpeg"),
        }
        if variant not in kinds:
            raise _error(
                400,
                f"Invalid value: '{variant}'. Supported values are: {_quoted(kinds)}.",
                param="variant",
                code="invalid_value",
            )
        view = sim.view(job)
        if view.state == "expired":
            raise _error(404, f"The assets of video '{id}' have expired.", code="video_expired")
        if view.state == "failed":
            raise _error(404, f"Video '{id}' failed and has no content.", code="video_failed")
        if not view.has_result:
            raise _error(
                404,
                f"Video '{id}' is not ready yet (status {view.state}); poll it first.",
                code="video_not_ready",
            )
        ext, ctype = kinds[variant]
        if sim.content_redirect:
            raise _Reply(
                302, b"", content_type="text/plain", headers={"Location": sim.file_url(job, ext)}
            )
        self._send_file(sim.asset_path(job, ext), ctype)

    def h_openai_remix(self, id: str) -> None:
        sim = self.sim
        source = self._openai_job(id)
        fields, _files = self._openai_form()
        prompt = self._openai_prompt(fields.get("prompt"))
        if not sim.view(source).has_result:
            raise _error(
                400,
                f"Video '{id}' cannot be remixed: only completed videos can be remixed.",
                param="video_id",
                code="invalid_value",
            )
        dims = _wxh(source.size) or (source.width, source.height)
        faults = self._create_gate(prompt)
        job = self._openai_new_job(
            prompt=prompt,
            model=source.model,
            size=source.size,
            seconds=source.seconds,
            dims=dims,
            images=[],
            faults=faults,
            remixed_from=source.id,
            media=Media(audio=source.audio),
        )
        self._after_store(job)
        self._send(200, self._video_object(job))

    def h_openai_delete(self, id: str) -> None:
        job = self._openai_job(id)
        if job.faults.no_delete:
            # What a FastAPI gateway without the route answers.
            raise _Reply(405, {"detail": "Method Not Allowed"}, headers={"Allow": "GET"})
        with self.sim._lock:
            job.deleted = True
        self._send(200, {"id": job.id, "object": "video.deleted", "deleted": True})

    def h_openai_list(self) -> None:
        sim = self.sim
        order = self.query.get("order", "desc") or "desc"
        if order not in ("asc", "desc"):
            raise _error(
                400,
                f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
                param="order",
                code="invalid_value",
            )
        try:
            limit = int(self.query.get("limit") or 20)
        except ValueError as exc:
            raise _error(400, "Invalid 'limit': expected an integer.", param="limit") from exc
        limit = min(max(limit, 1), 100)
        with sim._lock:
            jobs = [j for j in sim._jobs.values() if j.format == "openai" and not j.deleted]
        jobs.sort(key=lambda j: j.seq, reverse=order == "desc")
        after = self.query.get("after")
        if after:
            ids = [j.id for j in jobs]
            jobs = jobs[ids.index(after) + 1 :] if after in ids else []
        page = jobs[:limit]
        data = [self._video_object(j) for j in page]
        self._send(
            200,
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": len(jobs) > limit,
            },
        )

    # ----------------------------------------------------------------- 4. newapi

    def h_newapi_create(self) -> None:
        sim = self.sim
        data = self._json()
        prompt = data.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _error(
                400, "Field 'prompt' is required and must be a non-empty string.", param="prompt"
            )
        model = data.get("model")
        if not isinstance(model, str) or not model.strip():
            raise _error(400, "Field 'model' is required.", param="model")
        images: list[str] = []
        if data.get("image") is not None:
            if not isinstance(data["image"], str):
                raise _error(400, "Field 'image' must be a URL string.", param="image")
            images.append(data["image"])
        if data.get("images") is not None:
            if not isinstance(data["images"], list) or not all(
                isinstance(u, str) for u in data["images"]
            ):
                raise _error(400, "Field 'images' must be an array of URL strings.", param="images")
            images.extend(data["images"])
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise _error(400, "Field 'metadata' must be an object.", param="metadata")
        if "duration" in data:
            duration = _int_value(data["duration"])
        elif "seconds" in data:
            duration = _int_value(data["seconds"])
        else:
            duration = 10
        if duration is None:
            raise _error(
                400,
                "Field 'duration' must be an integer (or 'seconds' a numeric string).",
                param="duration",
            )
        rule = sim.rule_for(model)
        _check_duration(rule, model, duration, "newapi")
        _check_content_roles(rule, metadata.get("content"))
        size = data.get("size") or "small"
        if not isinstance(size, str):
            raise _error(400, "Field 'size' must be a string.", param="size")
        dims = _wxh(size.replace("*", "x"))
        orientation = data.get("orientation") or metadata.get("orientation")
        # Vendors name the ratio differently; new-api copies metadata onto the vendor's body.
        ratio = _ratio(
            metadata.get("ratio") or metadata.get("aspect_ratio") or metadata.get("aspectRatio")
        )
        shape = dims or ratio
        if orientation is None:
            orientation = "landscape" if shape and shape[0] > shape[1] else "portrait"
        if orientation not in ORIENTATIONS:
            raise _error(400, f"Invalid orientation {orientation!r}.", param="orientation")
        if dims is None and size.lower() not in ("small", "large", "720p", "1080p"):
            raise _error(
                400, f"Invalid size {size!r}: use WIDTHxHEIGHT, small or large.", param="size"
            )
        large = (max(dims) >= 1700) if dims else size.lower() in ("large", "1080p")
        faults = self._create_gate(prompt)
        job = sim._new_job(
            format="newapi",
            job_id=drift.job_id(
                faults, f"task_{''.join(secrets.choice(_ALNUM) for _ in range(32))}"
            ),
            prompt=prompt,
            model=model,
            orientation=orientation,
            size=size,
            seconds=duration,
            large=large,
            images=images,
            faults=faults,
            extra={"metadata": metadata},
            aspect=shape,
            media=_media(rule, "newapi", data),
        )
        self._after_store(job)
        self._send(200, {"task_id": job.id, "status": "queued"})

    def h_newapi_query(self, id: str) -> None:
        sim = self.sim
        shape = (
            self.query.get("shape") or self.headers.get("X-Sim-Newapi-Shape") or sim.newapi_shape
        ).lower()
        job = sim._get(id)
        if job is None:
            if shape == "flat":
                raise _error(404, f"Task not found: {id}", code="task_not_exist")
            raise _Reply(404, {"code": "task_not_exist", "message": "task_not_exist", "data": None})
        self._poll_gate(job)
        view = sim.view(job)
        url = sim.file_url(job, "mp4") if view.state in ("completed", "expired") else None
        if shape == "flat":
            status = {
                "running": "rendering" if job.faults.odd_status else "in_progress",
                "expired": "completed",
            }.get(view.state, view.state)
            error = None
            if view.error:
                code = "moderation_blocked" if job.faults.moderation else "generation_failed"
                error = {"code": code, "message": view.error}
            flat = {
                "task_id": job.id,
                "status": status,
                "url": url,
                "format": "mp4",
                "metadata": {
                    "duration": job.seconds,
                    "fps": sim.video_fps,
                    "width": job.width,
                    "height": job.height,
                    "seed": int(hashlib.sha256(job.id.encode()).hexdigest()[:8], 16),
                },
                "error": error,
            }
            flat["status"] = drift.status_word(job.faults, view.state, status)
            drift.set_progress(flat, "progress", job.faults, view.state, view.progress)
            drift.place_url(flat, ("url",), job.faults, None)
            drift.place_refusal(flat, ("error",), job.faults, None)
            self._send(200, flat)
            return
        if view.state == "queued":
            # The queue phase walks through new-api's three pre-start words.
            third = (time.time() - job.created_at) / max(job.run_seconds * sim.queue_fraction, 1e-6)
            status = ("NOT_START", "SUBMITTED", "QUEUED")[min(2, int(third * 3))]
        else:
            status = {
                "running": "UNKNOWN" if job.faults.odd_status else "IN_PROGRESS",
                "completed": "SUCCESS",
                "expired": "SUCCESS",
                "failed": "FAILURE",
            }[view.state]
        started = job.created_at + job.run_seconds * sim.queue_fraction
        data = {
            "task_id": job.id,
            "action": "generate" if job.images else "textGenerate",
            "status": status,
            "fail_reason": view.error or "",
            "submit_time": int(job.created_at),
            "start_time": int(started) if view.state != "queued" else 0,
            "finish_time": int(view.changed_at) if view.terminal else 0,
            "progress": f"{int(view.progress * 100)}%",
            "result_url": url or "",
        }
        data["status"] = drift.status_word(job.faults, view.state, status)
        drift.set_progress(data, "progress", job.faults, view.state, view.progress)
        drift.place_url(data, ("result_url",), job.faults, "")
        drift.place_refusal(data, ("fail_reason",), job.faults, "")
        self._send(200, {"code": "success", "message": "", "data": data})


# --------------------------------------------------------------------------- helpers


def _int_value(value: Any) -> int | None:
    """An integer, or a string of digits (relays disagree which one to send)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _check_duration(rule: ModelRule, model: str, duration: int, fmt: str = "unified") -> None:
    durations = rule.durations_for(fmt)
    if durations is None:
        if not 1 <= duration <= 60:
            raise _error(
                400, f"Invalid duration {duration}: use 1 to 60 seconds.", param="duration"
            )
    elif duration not in durations:
        allowed = " or ".join(str(d) for d in durations)
        raise _error(
            400,
            f"Model {model} does not support duration {duration}: use {allowed}.",
            param="duration",
        )


def _check_content_roles(rule: ModelRule, content: Any) -> None:
    """Vendor content[] items (new-api metadata): a last frame needs a first one, and no role
    may carry more items than the model declares."""
    if content is None:
        return
    if not isinstance(content, list) or not all(isinstance(i, dict) for i in content):
        raise _error(400, "Field 'metadata.content' must be an array of objects.", param="content")
    roles = [str(item.get("role", "")) for item in content]
    if "last_frame" in roles and "first_frame" not in roles:
        raise _error(
            400,
            "A content item with role 'last_frame' needs one with role 'first_frame'.",
            param="content",
            code="invalid_value",
        )
    for role in dict.fromkeys(roles):
        limit = rule.role_limits.get(role)
        if limit is not None and roles.count(role) > limit:
            raise _error(
                400,
                f"At most {limit} content item(s) with role '{role}' are allowed.",
                param="content",
                code="invalid_value",
            )


@dataclass(frozen=True)
class Media:
    """What a create asked the clip to carry: sound, and the first and last pictures."""

    audio: bool | None = None
    first: bytes | None = None
    last: bytes | None = None


_TRUE = {"true", "1", "on", "yes"}
_FALSE = {"false", "0", "off", "no"}


def _at(body: Any, path: str) -> Any:
    """The value at a dotted path of a body (``metadata.content[]`` is the list itself)."""
    node = body
    for step in path.removesuffix("[]").split("."):
        node = node.get(step) if isinstance(node, dict) else None
    return node


def _switch(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    return None


def _picture_bytes(value: Any) -> bytes | None:
    """A picture sent inline: a data: URL (bare, or in an ``image_url`` object). Outside URLs
    are not fetched: the clip then shows no picture."""
    if isinstance(value, dict):
        value = value.get("image_url", value.get("url"))
        if isinstance(value, dict):
            value = value.get("url")
    if not isinstance(value, str) or not value.startswith("data:"):
        return None
    head, _sep, payload = value.partition(",")
    try:
        return base64.b64decode(payload) if head.endswith(";base64") else payload.encode()
    except (ValueError, binascii.Error):
        return None


def _media(
    rule: ModelRule,
    fmt: str,
    body: dict[str, Any],
    files: Mapping[str, tuple[str, str, bytes]] | None = None,
) -> Media:
    """Sound and first / last frames, read where the model's catalogue mapping puts them in
    this format (models the catalogue lacks: ``audio`` / ``generate_audio`` and the first
    picture)."""
    places = rule.media.get(fmt)
    if places is None:  # not a catalogue model: the plainest spelling
        places = {
            "audio": catalogue_models.Place(to="metadata.audio" if fmt == "newapi" else "audio"),
            "first_frame": catalogue_models.Place(
                to="input_reference"
                if fmt == "openai"
                else "content[]"
                if fmt == "chat"
                else "images[]",
                file=fmt == "openai",
            ),
        }
    audio = None
    where = places.get("audio")
    if where is not None:
        raw = _at(body, where.to)
        audio = _switch(raw)
    if audio is None:
        for name in ("generate_audio", "audio"):
            audio = _switch(body.get(name)) if isinstance(body, dict) else None
            if audio is not None:
                break
    if audio is None and where is not None:
        audio = rule.audio_default

    def picture(slot: str) -> bytes | None:
        place = places.get(slot)
        if place is None:
            return None
        if place.file:
            part = (files or {}).get(place.to.removesuffix("[]"))
            return part[2] if part else None
        value = _at(body, place.to)
        if place.to.endswith("[]") or isinstance(value, list):
            items = value if isinstance(value, list) else []
            if place.role:
                value = next(
                    (i for i in items if isinstance(i, dict) and i.get("role") == place.role), None
                )
            else:
                value = items[place.index] if len(items) > place.index else None
        return _picture_bytes(value)

    return Media(audio=audio, first=picture("first_frame"), last=picture("last_frame"))


def _ratio(value: Any) -> tuple[int, int] | None:
    """``"16:9"`` as (16, 9); anything else (adaptive, missing) as None."""
    match = re.fullmatch(r"(\d{1,3}):(\d{1,3})", str(value or "").strip())
    if not match or not int(match.group(1)) or not int(match.group(2)):
        return None
    return int(match.group(1)), int(match.group(2))


def _wxh(value: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d{2,5})x(\d{2,5})", value.strip().lower())
    return (int(match.group(1)), int(match.group(2))) if match else None


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    return f"a {type(value).__name__}"


def _enhanced(prompt: str) -> str:
    clean = faults_mod.strip_markers(prompt)
    return f"{clean}. Cinematic lighting, smooth camera motion, rich detail."


def _chat_completion_body(completion_id: str, model: str, text: str) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 60, "total_tokens": 80},
    }


def _chat_prompt(messages: list[Any]) -> tuple[str, list[str]]:
    """Text and image URLs of the last user message (string or multi-part content)."""
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content.strip(), []
        texts: list[str] = []
        images: list[str] = []
        if isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "text" and isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif part.get("type") == "image_url":
                    ref = part.get("image_url")
                    url = ref.get("url") if isinstance(ref, dict) else ref
                    if isinstance(url, str):
                        images.append(url)
        return "\n".join(texts).strip(), images
    return "", []


def _chat_params(model: str, prompt: str) -> tuple[str, int, bool]:
    """Orientation, seconds and size from a model name like ``sora2-landscape-10s``,
    falling back to words in the prompt, then to portrait / 10 s (15 s for pro)."""
    name = model.lower()
    if "landscape" in name or "横屏" in name:
        orientation = "landscape"
    elif "portrait" in name or "竖屏" in name:
        orientation = "portrait"
    elif re.search(r"\blandscape\b|横屏|16:9", prompt, re.IGNORECASE):
        orientation = "landscape"
    else:
        orientation = "portrait"
    large = "pro" in name or "hd" in name or "large" in name
    match = re.search(r"(\d{1,2})s\b", name)
    seconds = int(match.group(1)) if match else (15 if "pro" in name else 10)
    return orientation, seconds, large


_WHOLE = (0, -1)  # marker: answer a Range header we do not handle with the whole file


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range as inclusive (start, end); None when unsatisfiable; ``_WHOLE``
    for several ranges or another unit, answered with the whole file as RFC 9110 allows."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return _WHOLE
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0 or size == 0:
                return None
            return max(0, size - suffix), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


def _parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, Any], dict[str, tuple[str, str, bytes]]]:
    """Fields and files of a multipart/form-data body (binary-safe, no cgi module)."""
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise _error(400, "multipart/form-data without a boundary.")
    fields: dict[str, Any] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part.removeprefix(b"\r\n")
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        data = data.removesuffix(b"\r\n")
        headers = Message()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip():
                headers[name.strip()] = value.strip()
        field_name = headers.get_param("name", header="content-disposition")
        if not isinstance(field_name, str):
            continue
        filename = headers.get_param("filename", header="content-disposition")
        if isinstance(filename, str):
            files[field_name] = (filename, headers.get_content_type(), data)
        else:
            fields[field_name] = data.decode("utf-8", "replace")
    return fields, files


# --------------------------------------------------------------------------- command line


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"SORAWEB_SIMULATOR_{name}", default)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``manage.py runsimulator`` and ``python -m soraweb.simulator.server``.
    Every option also reads ``SORAWEB_SIMULATOR_<NAME>`` from the environment."""
    add = parser.add_argument
    add("--host", default=_env("HOST", "127.0.0.1"), help="address to bind (default 127.0.0.1)")
    add("--port", type=int, default=int(_env("PORT", "8001") or 8001), help="port (default 8001)")
    add("--api-key", default=_env("API_KEY"), help="require 'Authorization: Bearer <key>'")
    add(
        "--job-seconds",
        type=float,
        default=float(_env("JOB_SECONDS", "6") or 6),
        help="how long a job takes (default 6)",
    )
    add("--webhook-url", default=_env("WEBHOOK_URL"), help="POST video.completed/failed here")
    add("--webhook-secret", default=_env("WEBHOOK_SECRET"), help="whsec_... signing secret")
    add(
        "--hang-seconds",
        type=float,
        default=float(_env("HANG_SECONDS", "45") or 45),
        help="how long [sim:hang] / [sim:pollhang] hang (default 45)",
    )
    add(
        "--latency",
        type=float,
        default=float(_env("LATENCY", "0") or 0),
        help="extra delay before every answer, in seconds",
    )
    add(
        "--result-ttl",
        type=float,
        default=float(_env("RESULT_TTL", "3600") or 3600),
        help="seconds a result URL lives after completion (default 3600; 0 = forever)",
    )
    add(
        "--newapi-shape",
        choices=("code", "flat"),
        default=_env("NEWAPI_SHAPE", "code"),
        help="default shape of GET /v1/video/generations/{id}",
    )
    add(
        "--chat-result-style",
        choices=("both", "markdown", "html"),
        default=_env("CHAT_RESULT_STYLE", "both"),
        help="how the chat format gives the URL",
    )
    add(
        "--public-url",
        default=_env("PUBLIC_URL"),
        help="base URL put into result links, e.g. http://simulator:8001/v1 under Docker",
    )
    add(
        "--drift",
        default=_env("DRIFT", ""),
        help="comma-separated drift markers applied to every job, e.g. longid,nourl,nodelete",
    )
    add(
        "--catalogue",
        action="append",
        default=[f for f in (_env("CATALOGUE") or "").split(",") if f],
        help="a catalogue JSON file whose models the relay sells as well as the presets "
        "(repeatable; the file an admin exported or imports)",
    )
    add("--serve-seconds", type=float, default=None, help=argparse.SUPPRESS)


def simulator_from_options(
    options: Mapping[str, Any], *, log_stream: TextIO | None = None, quiet: bool = False
) -> Simulator:
    ttl = options.get("result_ttl")
    files = list(options.get("catalogue") or [])
    rules = rules_from_catalogue([catalogue_models.PRESETS_FILE, *files]) if files else None
    return Simulator(
        host=options["host"],
        port=options["port"],
        api_key=options.get("api_key"),
        job_seconds=options["job_seconds"],
        webhook_url=options.get("webhook_url"),
        webhook_secret=options.get("webhook_secret"),
        hang_seconds=options["hang_seconds"],
        latency=options["latency"],
        result_ttl=ttl if ttl else None,
        newapi_shape=options["newapi_shape"],
        chat_result_style=options["chat_result_style"],
        public_base_url=options.get("public_url"),
        drift=(options.get("drift") or "").split(","),
        model_rules=rules,
        quiet=quiet,
        log_stream=log_stream,
    )


def serve(sim: Simulator, say: Callable[[str], None], serve_seconds: float | None = None) -> None:
    """Run until Ctrl-C (or for ``serve_seconds``), saying where to point the app."""
    sim.start()
    say(f"Relay simulator listening on {sim.base_url}")
    say(
        "  formats: unified /video/create, chat /chat/completions, openai /videos, "
        "newapi /video/generations"
    )
    if sim.api_key:
        say("  API key required (Authorization: Bearer ...)")
    try:
        deadline = time.monotonic() + serve_seconds if serve_seconds else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        say("Relay simulator stopped.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m soraweb.simulator.server", description="soraweb relay simulator"
    )
    add_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    options = vars(parser.parse_args(argv))
    sim = simulator_from_options(options, quiet=options["quiet"])
    serve(sim, lambda line: print(line, flush=True), options.get("serve_seconds"))


if __name__ == "__main__":
    main()
