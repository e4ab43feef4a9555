"""The new-api gateway format: ``POST /video/generations``, ``GET /video/generations/{id}``.

new-api's code wraps answers as ``{"code": "success", "data": {...}}`` with upper-case
statuses, while its docs show a flat ``{task_id, status, url, error}``; both are accepted.
"""

from __future__ import annotations

from typing import Any

from .base import (
    CreateRequest,
    CreateResult,
    JobStatus,
    ProgressCallback,
    WireFormat,
)
from .common import BaseClient, find_video_url, first_text, image_url, path_id
from .normalise import find_error_text, parse_progress

_SUCCESS_CODES = frozenset({"success", "ok", "0", "200"})


class NewApiClient(BaseClient):
    wire_format = WireFormat.NEWAPI
    polls = True
    supports_remix = False
    supports_cancel = False

    def wire_body(self, request: CreateRequest) -> dict[str, Any]:
        """The JSON body ``create`` sends: the catalogue's, or one built from the old knobs."""
        if request.body is not None:
            return {**request.body, **request.extra}
        images = [image_url(image) for image in request.images]
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "model": request.model,
            "images": images,
            "size": request.size,
            "duration": int(request.duration),
            "metadata": {"orientation": request.orientation},
        }
        if images:
            body["image"] = images[0]  # upstreams that take a single image read this one
        body.update(request.extra)
        return body

    def create(
        self, request: CreateRequest, *, on_progress: ProgressCallback | None = None
    ) -> CreateResult:
        body = self.wire_body(request)
        response = self.http.request("POST", "/video/generations", json_body=body, create=True)
        data = self._unwrap(self.http.json(response, create=True))
        task_id = first_text(data, "task_id", "id")
        if not task_id:
            raise self.http.error(
                "The provider accepted the request but returned no task id.", permanent=True
            )
        return self._accepted(task_id, self._parse(data))

    def status(self, remote_id: str) -> JobStatus:
        response = self.http.request("GET", f"/video/generations/{path_id(remote_id)}")
        return self._parse(self._unwrap(self.http.json(response)))

    def _unwrap(self, body: dict[str, Any]) -> dict[str, Any]:
        """The task object of either documented shape; a non-success ``code`` is an error."""
        code = body.get("code")
        if code is None:
            return body
        if str(code).strip().lower() not in _SUCCESS_CODES:
            reason = find_error_text(body)
            said = f": {reason}" if reason and reason != str(code) else ""
            # The provider looked at the request and said no; asking again will not change it.
            raise self.http.error(
                f"The provider reported an error (code {code}){said}", permanent=True
            )
        data = body.get("data")
        if not isinstance(data, dict):
            raise self.http.error(
                "The provider answered success but without the task's details.", permanent=False
            )
        return data

    def _parse(self, data: dict[str, Any]) -> JobStatus:
        url, source = find_video_url(data, "result_url", "url", "video_url")
        return self._job_status(
            data, progress=parse_progress(data.get("progress")), video_url=url, video_source=source
        )
