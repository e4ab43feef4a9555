"""Format 4, newapi: ``POST /v1/video/generations`` and ``GET /v1/video/generations/{id}``,
answered in new-api's ``{"code": "success", "data": {...}}`` shape or (``flat``) the plain one.

Ids are ``task_<32 chars>``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string

from .. import drift
from ..http import ID, BaseHandler, Reply, Route, api_error
from ..store import ORIENTATIONS
from .shared import check_content_roles, check_duration, int_value, media_of, parse_ratio, parse_wxh

_ALNUM = string.ascii_lowercase + string.digits

ROUTES: list[Route] = [
    ("POST", re.compile(r"/v1/video/generations"), "newapi_create", True),
    ("GET", re.compile(rf"/v1/video/generations/{ID}"), "newapi_query", True),
]


class NewapiRoutes(BaseHandler):
    """The newapi format's handlers."""

    def h_newapi_create(self) -> None:
        sim = self.sim
        data = self._json()
        prompt = data.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise api_error(
                400, "Field 'prompt' is required and must be a non-empty string.", param="prompt"
            )
        model = data.get("model")
        if not isinstance(model, str) or not model.strip():
            raise api_error(400, "Field 'model' is required.", param="model")
        images: list[str] = []
        if data.get("image") is not None:
            if not isinstance(data["image"], str):
                raise api_error(400, "Field 'image' must be a URL string.", param="image")
            images.append(data["image"])
        if data.get("images") is not None:
            if not isinstance(data["images"], list) or not all(
                isinstance(u, str) for u in data["images"]
            ):
                raise api_error(
                    400, "Field 'images' must be an array of URL strings.", param="images"
                )
            images.extend(data["images"])
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise api_error(400, "Field 'metadata' must be an object.", param="metadata")
        if "duration" in data:
            duration = int_value(data["duration"])
        elif "seconds" in data:
            duration = int_value(data["seconds"])
        else:
            duration = 10
        if duration is None:
            raise api_error(
                400,
                "Field 'duration' must be an integer (or 'seconds' a numeric string).",
                param="duration",
            )
        rule = sim.rule_for(model)
        check_duration(rule, model, duration, "newapi")
        check_content_roles(rule, metadata.get("content"))
        size = data.get("size") or "small"
        if not isinstance(size, str):
            raise api_error(400, "Field 'size' must be a string.", param="size")
        dims = parse_wxh(size.replace("*", "x"))
        orientation = data.get("orientation") or metadata.get("orientation")
        # Vendors name the ratio differently; new-api copies metadata onto the vendor's body.
        ratio = parse_ratio(
            metadata.get("ratio") or metadata.get("aspect_ratio") or metadata.get("aspectRatio")
        )
        shape = dims or ratio
        if orientation is None:
            orientation = "landscape" if shape and shape[0] > shape[1] else "portrait"
        if orientation not in ORIENTATIONS:
            raise api_error(400, f"Invalid orientation {orientation!r}.", param="orientation")
        if dims is None and size.lower() not in ("small", "large", "720p", "1080p"):
            raise api_error(
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
            media=media_of(rule, "newapi", data),
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
                raise api_error(404, f"Task not found: {id}", code="task_not_exist")
            raise Reply(404, {"code": "task_not_exist", "message": "task_not_exist", "data": None})
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
            elapsed = sim.clock.now() - job.created_at
            third = elapsed / max(job.run_seconds * sim.queue_fraction, 1e-6)
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
