"""What several pipeline steps share: the provider client, backoff, limits, picture fitting."""

from __future__ import annotations

import logging

from soraweb.providers import make_client
from soraweb.providers.base import VideoProvider
from soraweb.providers.http import full_jitter_delay
from soraweb.videos.models import ImageFit, Provider, VideoJob
from soraweb.videos.params import frame_of
from soraweb.videos.selectors import provider_needs_exact_image, video_frame

logger = logging.getLogger(__name__)

MAX_SUBMIT_ATTEMPTS = 4
MAX_ARCHIVE_ATTEMPTS = 5
MAX_PERMANENT_POLL_ERRORS = 3


def provider_client(provider: Provider) -> VideoProvider:
    return make_client(provider.config())


def backoff_seconds(
    attempt: int, *, base: float = 2.0, cap: float = 300.0, retry_after: float | None = None
) -> float:
    """Exponential backoff with full jitter; never sooner than the provider asked, nor under 1 s."""
    return max(full_jitter_delay(attempt, base=base, cap=cap), retry_after or 0.0, 1.0)


def reference_fit_for(
    job: VideoJob, *, body: dict | None = None, values: dict | None = None
) -> tuple[str, tuple[int, int] | None]:
    """How (crop, pad or "" for unchanged) and to what frame a job's reference image is fitted.

    The frame is the size the wire body asks for (``1024x1792``, ``1280*720``), else the one the
    aspect ratio and resolution make, else the old size tokens'. Jobs from before the choice
    existed get a crop where the format insists on an exact size.
    """
    frame = frame_of(body or {}, values or {})
    if frame is None:
        frame = video_frame(size=job.size, orientation=job.orientation)
    mode = job.image_fit
    if not mode:
        mode = ImageFit.CROP if provider_needs_exact_image(job.provider) else ImageFit.NONE
    return ("" if mode == ImageFit.NONE else mode), frame
