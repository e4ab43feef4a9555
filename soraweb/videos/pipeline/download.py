"""Copy a finished video from the provider into our storage.

The download is streamed to a temporary file in constant memory (hashing as it goes), checked
(an MP4 ``ftyp`` box and a frame that decodes), and only then moved into storage. The poster is
the provider's thumbnail where the format offers one, else a frame taken in the same pass that
checks the file.

The check and the poster read back only what they need: the moov box (the index, wherever the
encoder put it: up front with faststart, else after the media) and the first second of frames.
A gigabyte download is therefore written once and read back by a few hundred kilobytes, which
the page cache still holds. Taking the poster from the bytes as they stream past would save
nothing more and cannot work when the moov box comes last (nothing decodes before it arrives).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from soraweb.providers.base import ProviderError, VideoProvider

if TYPE_CHECKING:
    from av.video.frame import VideoFrame

logger = logging.getLogger(__name__)

# A stream that fills a buffer in place is read READ_BUFFER at a time into a ring of two
# HASH_BATCH halves: each piece is written while it sits in the CPU's cache (copying megabyte
# pieces into the page cache from main memory cost more system time than all the rest: ~2.7 s of
# CPU per GB against ~1.9 s, curl ~1.4 s), and each full half is hashed on a second thread. A
# stream that hands out new chunks gets large ones, so Python's work per chunk stays negligible.
READ_BUFFER = 64 * 1024
HASH_BATCH = 1024 * 1024
CHUNK = 1024 * 1024
HEARTBEAT_BYTES = 8 * 1024 * 1024
POSTER_AT_SECONDS = 1.0
POSTER_MAX_FRAMES = 240
# The poster's JPEG quantiser (FFmpeg's mjpeg qscale, 2 best .. 31): 3 gives about the bytes of
# PIL's JPEG quality 88, and a frame at least as close to the decoded one.
POSTER_QSCALE = 3


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
    read_back: int = 0  # bytes of the downloaded file read again to check it and take the poster


@dataclass
class VideoFacts:
    width: int
    height: int
    seconds: float
    poster: Path | None  # a JPEG in the incoming folder, when one was asked for
    bytes_read: int  # of the file, to learn all this


class _CountedReader:
    """The downloaded file as the demuxer reads it, counting the bytes it reads back."""

    def __init__(self, fh) -> None:
        self._fh = fh
        self.bytes_read = 0

    def read(self, n: int = -1) -> bytes:
        data = self._fh.read(n)
        self.bytes_read += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()


class _MovableFile(File):
    """A File whose bytes already sit on disk, so FileSystemStorage moves it instead of copying."""

    def temporary_file_path(self) -> str:
        assert self.file is not None  # made from an open temporary file
        return self.file.name


def _incoming_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / ".incoming"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)  # downloads in progress are private
    return path


class _Body:
    """Copies a download into a file and a SHA-256, counting bytes against the limit."""

    def __init__(self, out, *, max_bytes: int, heartbeat: Callable[[], None] | None) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.size = 0
        self._max_bytes = max_bytes
        self._heartbeat = heartbeat
        self._next_beat = HEARTBEAT_BYTES

    def _count(self, n: int) -> None:
        self.size += n
        if self.size > self._max_bytes:
            raise ArchiveError(
                f"the file is larger than the {self._max_bytes // (1024 * 1024)} MB limit",
                permanent=True,
            )
        if self._heartbeat and self.size >= self._next_beat:
            self._heartbeat()
            self._next_beat = self.size + HEARTBEAT_BYTES

    def copy(self, stream) -> None:
        fill = getattr(stream, "readinto", None)
        if fill is None:
            for chunk in stream.chunks(CHUNK):
                self._count(len(chunk))
                self.digest.update(chunk)
                self.out.write(chunk)
            return
        # Two halves of a ring, filled READ_BUFFER at a time and written at once (while the
        # piece is in the CPU cache); a full half is hashed on a second thread while the other
        # fills (hashlib lets go of the GIL), so hashing, which costs about as much CPU as all
        # the rest, runs beside the download instead of after each piece.
        ring = memoryview(bytearray(2 * HASH_BATCH))
        hashed: list[Future | None] = [None, None]
        half, start, pos = 0, 0, 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as hasher:
            while True:
                n = fill(ring[pos : min(pos + READ_BUFFER, start + HASH_BATCH)])
                if n:
                    self._count(n)
                    self.out.write(ring[pos : pos + n])
                    pos += n
                if pos > start and (not n or pos == start + HASH_BATCH):
                    hashed[half] = hasher.submit(self.digest.update, ring[start:pos])
                    half ^= 1
                    start = pos = half * HASH_BATCH
                    pending = hashed[half]
                    if pending is not None:  # in order; and the half is free again
                        pending.result()
                        hashed[half] = None
                if not n:
                    break
            for job in hashed:
                if job is not None:
                    job.result()


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
    fd, name = tempfile.mkstemp(dir=_incoming_dir(), suffix=".part")
    path = Path(name)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            client.open_content(remote_id, video_url=video_url, variant=variant) as stream,
        ):
            body = _Body(out, max_bytes=max_bytes, heartbeat=heartbeat)
            body.copy(stream)
            expected = stream.content_length
        if expected is not None and body.size != expected:
            raise ArchiveError(f"the download stopped after {body.size} of {expected} bytes")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, body.digest.hexdigest(), body.size


def inspect_video(path: Path, *, poster: bool = True) -> VideoFacts:
    """Check that the file is an MP4 with a decodable video frame, learn its size and length,
    and (``poster``) save a JPEG frame from about one second in (the middle of a shorter clip).

    One open, one pass: the demuxer reads the moov box and decodes from the first keyframe to
    the poster's moment. A frame that does not decode, or no frame at all, fails the check.

    Memory (the worker's peak while archiving, as the archive benchmark measures it): PyAV's
    import is most of it (~17 MB, FFmpeg's libraries and PyAV's modules); the rest is kept
    small. The demuxer is named (the ftyp box is checked here already), so FFmpeg does not run
    every demuxer's probe over the head of the file (~1 MB of code); the poster is encoded by
    FFmpeg's own JPEG encoder from the decoded YUV frame, not through an RGB copy and PIL
    (PIL's import, the RGB frame and PIL's encoder cost ~6 MB); and its encoder runs on one
    thread, since FFmpeg's automatic threading gives every thread its own copy of the encoder's
    buffers (~3 MB more at 2 cores, and more with more cores) to make one small picture.
    """
    # Imported here: PyAV costs about 17 MB per process, and only the archive step needs it
    # (a worker that only reads chat streams or polls never loads it).
    import av

    with path.open("rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[4:8] != b"ftyp":
            raise ArchiveError("the downloaded file is not an MP4 video")
        fh.seek(0)
        reader = _CountedReader(fh)
        try:
            with av.open(reader, mode="r", format=MP4_DEMUXER) as container:
                if not container.streams.video:
                    raise ArchiveError("the downloaded file has no video track")
                stream = container.streams.video[0]
                width, height = stream.codec_context.width, stream.codec_context.height
                seconds = float(container.duration / av.time_base) if container.duration else None
                if seconds is None and stream.duration and stream.time_base:
                    seconds = float(stream.duration * stream.time_base)
                seconds = seconds or 0.0
                at = min(POSTER_AT_SECONDS, max(0.0, seconds / 2))
                frame = None
                for n, frame in enumerate(container.decode(stream)):
                    # A frame budget, for streams whose frames carry no time.
                    if not poster or (frame.time or 0.0) >= at or n >= POSTER_MAX_FRAMES:
                        break
                if frame is None:
                    raise ArchiveError("the downloaded video has no frame that can be decoded")
            # The demuxer and the decoder are freed now, so the encoder reuses their memory.
            del stream, container
            jpeg = _encode_jpeg(frame) if poster else None
        except av.error.FFmpegError as exc:
            raise ArchiveError(
                f"the downloaded video cannot be decoded ({exc.__class__.__name__})"
            ) from exc
    poster_path = _save_jpeg(jpeg) if jpeg is not None else None
    return VideoFacts(width, height, seconds, poster_path, len(head) + reader.bytes_read)


# FFmpeg's name for its ISO base media demuxer (MP4, MOV, 3GP: whatever starts with an ftyp box).
MP4_DEMUXER = "mp4"


def _encode_jpeg(frame: VideoFrame) -> bytes:
    """The frame as a baseline JPEG (full-range 4:2:0 YCbCr, as JFIF wants), by FFmpeg."""
    import av

    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = frame.width, frame.height, "yuvj420p"
    encoder.time_base = frame.time_base or Fraction(1, av.time_base)  # required; unused here
    encoder.thread_count = 1  # see inspect_video: threads would each copy the encoder's buffers
    encoder.qmin = encoder.qmax = POSTER_QSCALE
    # Limited-range video to full-range JPEG (the range conversion an RGB copy also did).
    picture = frame.reformat(format="yuvj420p", threads=1)
    picture.pts = None
    return b"".join(bytes(packet) for packet in [*encoder.encode(picture), *encoder.encode(None)])


def _save_jpeg(jpeg: bytes) -> Path:
    fd, name = tempfile.mkstemp(dir=_incoming_dir(), suffix=".jpg")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(jpeg)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
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
    from PIL import Image  # here, like PyAV in inspect_video: only a provider's thumbnail needs it

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
    return _save_jpeg(buf.getvalue())


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
        offers_thumbnail = client.offers_thumbnail or bool(job.remote_thumbnail_url)
        facts = inspect_video(video_path, poster=not offers_thumbnail)
        read_back = facts.bytes_read
        poster_path = facts.poster or _provider_thumbnail(client, job)
        if poster_path is None:  # the provider's thumbnail would not do: our own frame after all
            facts = inspect_video(video_path, poster=True)
            read_back += facts.bytes_read
            poster_path = facts.poster
        base = f"videos/{job.created_at:%Y/%m}/job-{job.pk}-{sha256[:10]}"
        video_name = _store(video_path, base + ".mp4")
        if poster_path is None:  # inspect_video(poster=True) raises when it cannot take one
            raise ArchiveError("could not take a poster frame from the video")
        poster_name = _store(poster_path, base + "-poster.jpg")
    except BaseException:
        video_path.unlink(missing_ok=True)
        if poster_path:
            poster_path.unlink(missing_ok=True)
        raise
    logger.info(
        "job %s: saved %d bytes; read back %d of them to check the video and take its poster",
        job.pk,
        size,
        read_back,
    )
    return ArchiveResult(
        video_name, poster_name, sha256, size, facts.width, facts.height, facts.seconds, read_back
    )


def discard(result: ArchiveResult) -> None:
    for name in (result.video_name, result.poster_name):
        if name:
            default_storage.delete(name)
