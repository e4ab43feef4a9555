"""The seeds' "unified" relay format: ``POST /video/create`` then ``GET /video/query?id=``."""

from __future__ import annotations

from typing import Any

from .base import (
    CreateRequest,
    CreateResult,
    JobStatus,
    ProgressCallback,
    WireFormat,
)
from .common import BaseClient, find_video_url, first_text, image_url
from .http import shorten
from .normalise import parse_progress


class UnifiedClient(BaseClient):
    wire_format = WireFormat.UNIFIED
    polls = True
    supports_remix = False
    supports_cancel = False

    def wire_body(self, request: CreateRequest) -> dict[str, Any]:
        """The JSON body ``create`` sends: the catalogue's, or one built from the old knobs."""
        if request.body is not None:
            return {**request.body, **request.extra}
        # Every field is required by these relays (a missing one is a 400), images included.
        body: dict[str, Any] = {
            "images": [image_url(image) for image in request.images],
            "model": request.model,
            "orientation": request.orientation,
            "prompt": request.prompt,
            "size": request.size,
            "duration": int(request.duration),
        }
        # Merged last so a catalogue entry can adapt a field for one relay (one seed documents
        # duration as a string) or add optional ones (watermark, private).
        body.update(request.extra)
        return body

    def create(
        self, request: CreateRequest, *, on_progress: ProgressCallback | None = None
    ) -> CreateResult:
        body = self.wire_body(request)
        response = self.http.request("POST", "/video/create", json_body=body, create=True)
        data = self.http.json(response, create=True)
        remote_id = data.get("id") or data.get("task_id")
        if isinstance(remote_id, int) and not isinstance(remote_id, bool):
            remote_id = str(remote_id)
        # A chat completion carries an id too ("chatcmpl-..."), but not one we could poll.
        chat_shaped = "choices" in data or str(data.get("object", "")).startswith("chat.")
        if chat_shaped or not isinstance(remote_id, str) or not remote_id.strip():
            raise self.http.error(self._missing_id_message(data), permanent=True)
        return self._accepted(remote_id.strip(), self._parse(data))

    def status(self, remote_id: str) -> JobStatus:
        response = self.http.request("GET", "/video/query", params={"id": remote_id})
        return self._parse(self.http.json(response))

    def _parse(self, data: dict[str, Any]) -> JobStatus:
        progress = None
        detail = data.get("detail")
        if isinstance(detail, dict) and isinstance(detail.get("pending_info"), dict):
            # Documented as a 0..1 fraction; a JavaScript relay may send 1 for 1.0.
            progress = parse_progress(detail["pending_info"].get("progress_pct"), fraction=True)
        if progress is None:
            progress = parse_progress(data.get("progress"))
        url, source = find_video_url(data, "video_url", "url", "result_url")
        return self._job_status(data, progress=progress, video_url=url, video_source=source)

    @staticmethod
    def _missing_id_message(data: dict[str, Any]) -> str:
        choices = data.get("choices")
        if isinstance(choices, list) or str(data.get("object", "")).startswith("chat."):
            # A chat-completion-shaped 200: some model variants answer this way (spec 1).
            text = ""
            if isinstance(choices, list) and choices and isinstance(choices[0], dict):
                message = choices[0].get("message")
                if isinstance(message, dict) and isinstance(message.get("content"), str):
                    text = f' It said: "{shorten(message["content"], 160)}"'
            return (
                "The provider answered with a chat reply instead of a task id, so there is no "
                "job to follow. This model probably needs the chat wire format." + text
            )
        reason = first_text(data, "message", "msg", "error")
        said = f' It said: "{shorten(reason, 160)}"' if reason else ""
        return "The provider accepted the request but returned no task id." + said
