"""``Simulator``: the relay simulator assembled from its parts, ``store`` (jobs and the clock
they read), ``http`` (server and plumbing), ``formats/`` (one module per wire format) and
``webhooks`` (signed events); it starts and stops the threads and answers a test's questions.

Callers import it as ``soraweb.simulator.server.Simulator``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
import traceback
import weakref
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from . import faults as faults_mod
from .faults import Faults
from .formats import Handler
from .http import Server
from .store import (
    DEFAULT_MODEL_RULES,
    PERMISSIVE_RULE,
    Clock,
    Job,
    JobStore,
    JobView,
    Media,
    ModelRule,
)
from .video import ClipSpec, frame_size, pad_clip, render_clip, render_spritesheet, render_thumbnail
from .webhooks import WebhookSender

_WILDCARD_HOSTS = ("", "0.0.0.0", "::")  # noqa: S104 - compared against, never bound here


class Simulator:
    """A local relay. ``start()`` serves in daemon threads; ``stop()`` ends everything.

    The main knobs: ``job_seconds`` (run time of a job), ``hang_seconds`` (how long the hang
    markers hang), ``result_ttl`` (seconds a result lives after completion; None = forever),
    ``latency`` (added before every answer), ``newapi_shape`` ("code" or "flat"),
    ``video_width_small`` / ``video_width_large`` (short side of the rendered clip),
    ``webhook_url`` / ``webhook_secret`` (Standard-Webhooks events), ``clock`` (where job times
    come from: the wall clock by default, a ``store.FakeClock`` in tests). README.md lists the
    rest.
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
        clock: Clock | None = None,
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
        self.latency = float(latency)
        self.hang_seconds = float(hang_seconds)
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
        self.model_rules = dict(DEFAULT_MODEL_RULES if model_rules is None else model_rules)
        # Drift markers applied to every job, as if each prompt carried them (drift.py).
        self.drift_markers = "".join(f"[sim:{name.strip()}]" for name in drift if name.strip())
        self.quiet = quiet
        self.log_stream = log_stream or sys.stderr

        self.store = JobStore(clock, queue_fraction=queue_fraction, result_ttl=result_ttl)
        self._request_log: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self.webhooks = WebhookSender(
            url=webhook_url or None,
            secret=webhook_secret or None,
            formats=webhook_formats,
            retry_delays=webhook_retry_delays,
            clock=self.store.clock,
            stop=self._stop,
            lock=self.store.lock,
            log=self._log,
        )
        self._httpd: Server | None = None
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
        self._httpd = Server((self.host, self.port), Handler, self)
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

    # ----------------------------------------------------------------- settings kept elsewhere

    @property
    def clock(self) -> Clock:
        return self.store.clock

    @property
    def queue_fraction(self) -> float:
        return self.store.queue_fraction

    @queue_fraction.setter
    def queue_fraction(self, value: float) -> None:
        self.store.queue_fraction = min(max(float(value), 0.0), 0.9)

    @property
    def result_ttl(self) -> float | None:
        return self.store.result_ttl

    @result_ttl.setter
    def result_ttl(self, value: float | None) -> None:
        self.store.result_ttl = value

    @property
    def webhook_url(self) -> str | None:
        return self.webhooks.url

    @webhook_url.setter
    def webhook_url(self, value: str | None) -> None:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("webhook_url must be an http(s) URL")
        self.webhooks.url = value or None

    @property
    def webhook_secret(self) -> str | None:
        return self.webhooks.secret

    @webhook_secret.setter
    def webhook_secret(self, value: str | None) -> None:
        self.webhooks.secret = value or None

    @property
    def webhook_formats(self) -> frozenset[str]:
        return self.webhooks.formats

    @property
    def webhook_retry_delays(self) -> tuple[float, ...]:
        return self.webhooks.retry_delays

    # The store's state, under the names subclasses (tests/faults) reach for.
    @property
    def _lock(self) -> threading.RLock:
        return self.store.lock

    @property
    def _jobs(self) -> dict[str, Job]:
        return self.store.jobs

    @property
    def _by_token(self) -> dict[str, str]:
        return self.store.by_token

    @property
    def _pending(self) -> set[str]:
        return self.store.pending

    # ----------------------------------------------------------------- public inspection

    @property
    def create_count(self) -> int:
        return self.store.count()

    def creates_for_prompt(self, text: str) -> int:
        return self.store.creates_for_prompt(text)

    def attempts_for_prompt(self, text: str) -> int:
        """Valid create requests whose prompt contains ``text``, including those a fault
        marker turned away (429/502/garbage) and so never became a job."""
        return self.store.attempts_for_prompt(text)

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
        return [self.job(job.id) for job in self.store.ordered()]

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
        self.store.force(job)
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
            return [dict(entry) for entry in self.webhooks.entries]

    # ----------------------------------------------------------------- job store

    def _get(self, remote_id: str, *, include_deleted: bool = False) -> Job | None:
        return self.store.get(remote_id, include_deleted=include_deleted)

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
        job = self.store.add(
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
            run_seconds=max(run, 0.05),
            faults=faults,
            remixed_from=remixed_from,
            extra=extra or {},
            media=media,
        )
        if self.prerender and not faults.failure_reason and self._executor is not None:
            with contextlib.suppress(RuntimeError):  # executor already shut down: stopping
                self._executor.submit(self._prerender, job)
        return job

    # Handlers count through these (not the store directly), so a subclass can watch them.
    def _note_attempt(self, prompt: str) -> int:
        """Count a valid create attempt; return how many came before it for this prompt."""
        return self.store.note_attempt(prompt)

    def _accepted_before(self, prompt: str) -> int:
        return self.store.accepted_before(prompt)

    def _note_poll(self, job: Job) -> int:
        return self.store.note_poll(job)

    def view(self, job: Job, now: float | None = None) -> JobView:
        """Where the job is at ``now`` (default: the clock's now)."""
        return self.store.view(job, now)

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
        for job, view in self.store.settle():
            if job.deleted or not self.webhooks.wants(job.format):
                continue
            self.webhooks.send(
                job.id, "video.failed" if view.state == "failed" else "video.completed"
            )

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
