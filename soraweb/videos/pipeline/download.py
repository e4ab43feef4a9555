"""Copy a finished video from the provider into our storage.

The download is streamed to a temporary file in constant memory (hashing as it goes), checked
(an MP4 ``ftyp`` box and a frame that decodes), and only then moved into storage. The poster is
the provider's thumbnail where the format offers one, else a frame taken with ffmpeg.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import imageio_ffmpeg
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from PIL import Image

from soraweb.providers.base import ProviderError, VideoProvider

logger = logging.getLogger(__name__)

CHUNK = 256 * 1024
HEARTBEAT_BYTES = 8 * 1024 * 1024


class ArchiveError(Exception):
    """The downloaded file is not a usable video.

    Usually worth another try (a truncated download); ``permanent`` when trying again cannot help.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass
class ArchiveResult:
    video_name: str
    poster_name: str
    sha256: str
    size: int
    width: int | None
    height: int | None
    seconds: float | None


class _MovableFile(File):
    """A File whose bytes already sit on disk, so FileSystemStorage moves it instead of copying."""

    def temporary_file_path(self) -> str:
        assert self.file is not None  # made from an open temporary file
        return self.file.name


def _incoming_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / ".incoming"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)  # downloads in progress are private
    return path


def download_to_temp(
    client: VideoProvider,
    remote_id: str,
    *,
    video_url: str | None,
    variant: str,
    max_bytes: int,
    heartbeat: Callable[[], None] | None = None,
) -> tuple[Path, str, int]:
    """Stream one result into a temporary file; returns (path, sha256, size).

    ``heartbeat`` is called every few megabytes so a long download can keep its lease.
    """
    digest = hashlib.sha256()
    next_beat = HEARTBEAT_BYTES
    size = 0
    fd, name = tempfile.mkstemp(dir=_incoming_dir(), suffix=".part")
    path = Path(name)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            client.open_content(remote_id, video_url=video_url, variant=variant) as stream,
        ):
            for chunk in stream.chunks(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ArchiveError(
                        f"the file is larger than the {max_bytes // (1024 * 1024)} MB limit",
                        permanent=True,
                    )
                digest.update(chunk)
                out.write(chunk)
                if heartbeat and size >= next_beat:
                    heartbeat()
                    next_beat = size + HEARTBEAT_BYTES
            expected = stream.content_length
        if expected is not None and size != expected:
            raise ArchiveError(f"the download stopped after {size} of {expected} bytes")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, digest.hexdigest(), size


def probe_video(path: Path) -> tuple[int, int, float]:
    """Check that the file is an MP4 with a decodable video frame; return width, height, seconds."""
    with path.open("rb") as fh:
        head = fh.read(12)
    if len(head) < 12 or head[4:8] != b"ftyp":
        raise ArchiveError("the downloaded file is not an MP4 video")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ArchiveError("the downloaded file has no video track")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            seconds = float(container.duration / av.time_base) if container.duration else None
            if seconds is None and stream.duration and stream.time_base:
                seconds = float(stream.duration * stream.time_base)
            for _frame in container.decode(stream):
                break
            else:
                raise ArchiveError("the downloaded video has no frame that can be decoded")
    except av.error.FFmpegError as exc:
        raise ArchiveError(
            f"the downloaded video cannot be decoded ({exc.__class__.__name__})"
        ) from exc
    return width, height, seconds or 0.0


def make_poster(video: Path, seconds: float) -> Path:
    """A JPEG frame from about one second in (or the middle of a very short clip)."""
    fd, name = tempfile.mkstemp(dir=_incoming_dir(), suffix=".jpg")
    os.close(fd)
    at = min(1.0, max(0.0, seconds / 2))
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-ss",
        f"{at:.2f}",
        "-i",
        str(video),
        "-frames:v",
        "1",
        "-q:v",
        "3",
        name,
    ]
    proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    if proc.returncode != 0 or not os.path.getsize(name):
        Path(name).unlink(missing_ok=True)
        output = proc.stderr.decode(errors="replace")
        if "No space left on device" in output or "Disk quota exceeded" in output:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        # ffmpeg's own words go to the log; the job's history gets a sentence.
        logger.warning("ffmpeg could not take a poster frame: %s", output[-1000:])
        raise ArchiveError("could not take a poster frame from the video")
    return Path(name)


def _provider_thumbnail(client: VideoProvider, job) -> Path | None:
    """The provider's own thumbnail, as a JPEG file, where the format offers one."""
    if not client.offers_thumbnail and not job.remote_thumbnail_url:
        return None
    try:
        path, _digest, _size = download_to_temp(
            client,
            job.remote_id,
            video_url=job.remote_thumbnail_url or None,
            variant="thumbnail",
            max_bytes=20 * 1024 * 1024,
        )
    except (ProviderError, ArchiveError) as exc:
        logger.info("job %s: no provider thumbnail (%s), taking a frame instead", job.pk, exc)
        return None
    try:
        with Image.open(path) as img:
            img.load()
            buf = io.BytesIO()
            img.convert("RGB").save(buf, "JPEG", quality=88)
    except Exception as exc:  # any undecodable thumbnail: fall back to our own frame
        logger.info("job %s: provider thumbnail unreadable (%s)", job.pk, exc)
        return None
    finally:
        path.unlink(missing_ok=True)
    fd, name = tempfile.mkstemp(dir=_incoming_dir(), suffix=".jpg")
    with os.fdopen(fd, "wb") as out:
        out.write(buf.getvalue())
    return Path(name)


def _store(path: Path, name: str) -> str:
    with path.open("rb") as fh:
        stored = default_storage.save(name, _MovableFile(fh, name=str(path)))
    path.unlink(missing_ok=True)  # moved already on local storage; a copy elsewhere
    return stored


def fetch_and_verify(
    client: VideoProvider, job, *, heartbeat: Callable[[], None] | None = None
) -> ArchiveResult:
    video_path, sha256, size = download_to_temp(
        client,
        job.remote_id,
        video_url=job.remote_video_url or None,
        variant="video",
        max_bytes=settings.SORAWEB_MAX_VIDEO_BYTES,
        heartbeat=heartbeat,
    )
    poster_path: Path | None = None
    try:
        width, height, seconds = probe_video(video_path)
        poster_path = _provider_thumbnail(client, job) or make_poster(video_path, seconds)
        base = f"videos/{job.created_at:%Y/%m}/job-{job.pk}-{sha256[:10]}"
        video_name = _store(video_path, base + ".mp4")
        poster_name = _store(poster_path, base + "-poster.jpg")
    except BaseException:
        video_path.unlink(missing_ok=True)
        if poster_path:
            poster_path.unlink(missing_ok=True)
        raise
    return ArchiveResult(video_name, poster_name, sha256, size, width, height, seconds)


def discard(result: ArchiveResult) -> None:
    for name in (result.video_name, result.poster_name):
        if name:
            default_storage.delete(name)
