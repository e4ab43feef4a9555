"""Format 3, openai: ``/v1/videos`` as OpenAI's Videos API serves it (create as multipart
or JSON, list, retrieve, delete, content variants, remix).

Ids are ``video_<hex>``; failures carry the reason in ``error.message``.
"""

from __future__ import annotations

import io
import re
import secrets
from typing import Any

from PIL import Image

from .. import drift
from ..faults import Faults
from ..http import ID, BaseHandler, Reply, Route, api_error, parse_multipart
from ..store import OPENAI_SECONDS, Job, JobView, Media
from .shared import json_type, media_of, parse_wxh, quoted

ROUTES: list[Route] = [
    ("POST", re.compile(r"/v1/videos"), "openai_create", True),
    ("GET", re.compile(r"/v1/videos"), "openai_list", True),
    ("GET", re.compile(rf"/v1/videos/{ID}"), "openai_retrieve", True),
    ("DELETE", re.compile(rf"/v1/videos/{ID}"), "openai_delete", True),
    ("GET", re.compile(rf"/v1/videos/{ID}/content"), "openai_content", True),
    ("POST", re.compile(rf"/v1/videos/{ID}/remix"), "openai_remix", True),
]


class OpenAIRoutes(BaseHandler):
    """The openai format's handlers."""

    def _openai_form(self) -> tuple[dict[str, Any], dict[str, tuple[str, str, bytes]]]:
        ctype = self.headers.get("Content-Type", "")
        if ctype.lower().startswith("multipart/form-data"):
            return parse_multipart(ctype, self.body)
        if ctype.lower().startswith("application/json") or not ctype:
            return self._json(), {}
        raise api_error(
            400, f"Unsupported Content-Type {ctype!r}: send multipart/form-data or JSON."
        )

    def _openai_prompt(self, value: Any) -> str:
        if value is None:
            raise api_error(
                400,
                "Missing required parameter: 'prompt'.",
                param="prompt",
                code="missing_required_parameter",
            )
        if not isinstance(value, str):
            raise api_error(
                400,
                "Invalid type for 'prompt': expected a string.",
                param="prompt",
                code="invalid_type",
            )
        if not 1 <= len(value) <= 32000:
            raise api_error(
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
            raise api_error(
                400,
                "Invalid type for 'model': expected a string.",
                param="model",
                code="invalid_type",
            )
        rule = sim.rule_for(model)
        seconds = fields.get("seconds", "4")
        if not isinstance(seconds, str):
            raise api_error(
                400,
                f"Invalid type for 'seconds': expected one of {quoted(OPENAI_SECONDS)} "
                f"(a string), but got {json_type(seconds)} instead.",
                param="seconds",
                code="invalid_type",
            )
        if seconds not in rule.openai_seconds:
            raise api_error(
                400,
                f"Invalid value: '{seconds}'. Supported values are: {quoted(rule.openai_seconds)}.",
                param="seconds",
                code="invalid_value",
            )
        size = fields.get("size", "720x1280")
        dims = parse_wxh(size) if isinstance(size, str) else None
        allowed = rule.openai_sizes
        if dims is None or (allowed is not None and size not in allowed):
            shown = quoted(allowed) if allowed else "WIDTHxHEIGHT"
            raise api_error(
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
            media=media_of(rule, "openai", fields, files),
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
                raise api_error(
                    400,
                    f"Invalid 'input_reference': not a readable image ({exc}).",
                    param="input_reference",
                    code="invalid_image",
                ) from exc
            if self.sim.check_reference_size and img_size != dims:
                raise api_error(
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
        raise api_error(
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
            raise api_error(
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
            raise api_error(
                400,
                f"Invalid value: '{variant}'. Supported values are: {quoted(kinds)}.",
                param="variant",
                code="invalid_value",
            )
        view = sim.view(job)
        if view.state == "expired":
            raise api_error(404, f"The assets of video '{id}' have expired.", code="video_expired")
        if view.state == "failed":
            raise api_error(404, f"Video '{id}' failed and has no content.", code="video_failed")
        if not view.has_result:
            raise api_error(
                404,
                f"Video '{id}' is not ready yet (status {view.state}); poll it first.",
                code="video_not_ready",
            )
        ext, ctype = kinds[variant]
        if sim.content_redirect:
            raise Reply(
                302, b"", content_type="text/plain", headers={"Location": sim.file_url(job, ext)}
            )
        self._send_file(sim.asset_path(job, ext), ctype)

    def h_openai_remix(self, id: str) -> None:
        sim = self.sim
        source = self._openai_job(id)
        fields, _files = self._openai_form()
        prompt = self._openai_prompt(fields.get("prompt"))
        if not sim.view(source).has_result:
            raise api_error(
                400,
                f"Video '{id}' cannot be remixed: only completed videos can be remixed.",
                param="video_id",
                code="invalid_value",
            )
        dims = parse_wxh(source.size) or (source.width, source.height)
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
            raise Reply(405, {"detail": "Method Not Allowed"}, headers={"Allow": "GET"})
        self.sim.store.delete(job)
        self._send(200, {"id": job.id, "object": "video.deleted", "deleted": True})

    def h_openai_list(self) -> None:
        sim = self.sim
        order = self.query.get("order", "desc") or "desc"
        if order not in ("asc", "desc"):
            raise api_error(
                400,
                f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
                param="order",
                code="invalid_value",
            )
        try:
            limit = int(self.query.get("limit") or 20)
        except ValueError as exc:
            raise api_error(400, "Invalid 'limit': expected an integer.", param="limit") from exc
        limit = min(max(limit, 1), 100)
        jobs = [j for j in sim.store.ordered("openai") if not j.deleted]
        if order == "desc":
            jobs.reverse()
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
