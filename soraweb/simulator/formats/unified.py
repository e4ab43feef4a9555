"""Format 1, unified: ``POST /v1/video/create`` and ``GET /v1/video/query?id=...``.

Ids are ``<model>:task_<26 chars>``; failures carry the reason in ``fail_reason``.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from .. import drift
from ..http import BaseHandler, Reply, Route, api_error
from ..store import ORIENTATIONS
from .shared import chat_completion_body, check_duration, enhanced, int_value, media_of, parse_ratio

_ALNUM = string.ascii_lowercase + string.digits

ROUTES: list[Route] = [
    ("POST", re.compile(r"/v1/video/create"), "unified_create", True),
    ("GET", re.compile(r"/v1/video/query"), "unified_query", True),
]


class UnifiedRoutes(BaseHandler):
    """The unified format's handlers."""

    def h_unified_create(self) -> None:
        sim = self.sim
        data = self._json()
        required = ("images", "model", "orientation", "prompt", "size", "duration")
        missing = [name for name in required if name not in data or data[name] is None]
        if missing:
            raise api_error(
                400,
                f"Missing required field(s): {', '.join(missing)}. Every field of "
                "images, model, orientation, prompt, size, duration must be sent "
                "(images as [] for text-to-video).",
                param=missing[0],
            )
        images = data["images"]
        if not isinstance(images, list):
            raise api_error(400, "Field 'images' must be an array of image URLs.", param="images")
        for i, url in enumerate(images):
            if not isinstance(url, str) or not re.match(r"^(https?://|data:image/)", url):
                raise api_error(
                    400, f"images[{i}] must be an http(s) or data: image URL.", param="images"
                )
        model = data["model"]
        if not isinstance(model, str) or not model.strip():
            raise api_error(400, "Field 'model' must be a non-empty string.", param="model")
        prompt = data["prompt"]
        if not isinstance(prompt, str) or not prompt.strip():
            raise api_error(400, "Field 'prompt' must be a non-empty string.", param="prompt")
        orientation = data["orientation"]
        if orientation not in ORIENTATIONS:
            raise api_error(
                400,
                f"Invalid orientation {orientation!r}: use 'portrait' or 'landscape'.",
                param="orientation",
            )
        size = data["size"]
        if size not in ("small", "large"):
            raise api_error(400, f"Invalid size {size!r}: use 'small' or 'large'.", param="size")
        duration = int_value(data["duration"])
        if duration is None:
            raise api_error(
                400, "Field 'duration' must be an integer number of seconds.", param="duration"
            )
        rule = sim.rule_for(model)
        if size not in rule.sizes:
            raise api_error(
                400,
                f"Model {model} does not support size '{size}': use "
                + " or ".join(f"'{s}'" for s in rule.sizes)
                + ".",
                param="size",
            )
        check_duration(rule, model, duration)
        faults = self._create_gate(prompt)
        if faults.no_id:
            # Some model variants answer in chat shape: a 200 that carries no task id.
            raise Reply(200, chat_completion_body(f"chatcmpl-{secrets.token_hex(12)}", model, "OK"))
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
            aspect=parse_ratio(data.get("aspect_ratio")),
            media=media_of(rule, "unified", data),
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
            raise api_error(400, "Query parameter 'id' is required.", param="id")
        job = sim._get(job_id)
        if job is None:
            raise api_error(404, f"Task not found: {job_id}", code="task_not_found")
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
            "enhanced_prompt": enhanced(job.prompt),
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
