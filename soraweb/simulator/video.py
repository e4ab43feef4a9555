"""Real, playable clips for the simulator: one H.264 MP4 per job, plus a thumbnail and a
spritesheet cut from it.

The static ffmpeg that imageio-ffmpeg ships may have no usable fonts, so the text (the prompt
and the job id) is drawn with Pillow into a transparent PNG and laid over an ffmpeg test
pattern. Every clip differs per job: the text, the hue of the pattern and the audio tone all
derive from the job id.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import struct
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

# Generous: a 15 s clip takes well under a second on one core, but CI machines stall.
FFMPEG_TIMEOUT = 120


class RenderError(RuntimeError):
    """ffmpeg failed or is missing; the message carries ffmpeg's own complaint."""


@dataclass(frozen=True)
class ClipSpec:
    width: int
    height: int
    seconds: float
    fps: int
    title: str  # shown large: usually the prompt
    subtitle: str  # shown small: the job id and parameters
    seed: str  # anything unique per job (its id): drives hue and tone
    audio: bool = True
    # Pictures (encoded image bytes) the clip starts and ends on, as image-to-video models do.
    first_frame: bytes | None = None
    last_frame: bytes | None = None


# How long the first and last pictures are held at each end of a clip.
FRAME_HOLD_SECONDS = 0.5


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def frame_size(
    orientation: str, large: bool, width_small: int, width_large: int
) -> tuple[int, int]:
    """Frame size for a clip: ``width_*`` is the short side, the long side is 16:9 of it."""
    short = _even(width_large if large else width_small)
    long = _even(round(short * 16 / 9))
    return (long, short) if orientation == "landscape" else (short, long)


def _even(n: int) -> int:
    # yuv420p needs even dimensions.
    return max(2, int(n) // 2 * 2)


def _seed_int(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big")


# Fonts with Chinese glyphs, where the machine has one (Pillow's own font has none: a Chinese
# prompt would be drawn as empty boxes).
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


def _font(size: int, text: str) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if any(ord(ch) > 0x2E7F for ch in text):
        for path in CJK_FONTS:
            if os.path.exists(path):
                return ImageFont.truetype(path, size=size)
    return ImageFont.load_default(size=size)


def overlay_png(spec: ClipSpec) -> bytes:
    """A transparent PNG the size of the frame with the clip's text on a dark band."""
    img = Image.new("RGBA", (spec.width, spec.height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    title_size = max(12, spec.width // 18)
    sub_size = max(10, spec.width // 32)
    title_font = _font(title_size, spec.title)
    sub_font = _font(sub_size, spec.subtitle)

    # Roughly how many average glyphs fit across the band.
    chars = max(10, int(spec.width * 0.9 / (title_size * 0.55)))
    lines = textwrap.wrap(spec.title, width=chars)[:6] or ["(empty prompt)"]
    sub_lines = textwrap.wrap(spec.subtitle, width=int(chars * title_size / sub_size))[:3]

    line_h = int(title_size * 1.25)
    sub_h = int(sub_size * 1.3)
    band_h = line_h * len(lines) + sub_h * len(sub_lines) + title_size
    top = (spec.height - band_h) // 2
    draw.rectangle((0, top, spec.width, top + band_h), fill=(0, 0, 0, 170))
    y = top + title_size // 2
    for line in lines:
        draw.text((spec.width // 20, y), line, font=title_font, fill=(255, 255, 255, 255))
        y += line_h
    for line in sub_lines:
        draw.text((spec.width // 20, y), line, font=sub_font, fill=(255, 220, 120, 255))
        y += sub_h
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def frame_png(data: bytes, width: int, height: int) -> bytes | None:
    """A given picture cropped to fill the frame (as image-to-video models frame it), as PNG;
    None for bytes that are not a picture."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            fitted = ImageOps.fit(img.convert("RGB"), (width, height))
    except Exception:  # noqa: BLE001 - any undecodable upload: the clip goes without it
        return None
    buf = io.BytesIO()
    fitted.save(buf, format="PNG")
    return buf.getvalue()


def render_clip(spec: ClipSpec, out_path: Path, *, faststart: bool = True) -> None:
    """Write an H.264/yuv420p MP4, with the moov atom up front (+faststart) unless asked not to:
    encoders that write as they go (and many relays' files) put it after the media.

    The clip has a sound track only when ``spec.audio``; a first / last picture is held for
    FRAME_HOLD_SECONDS at the start / end, so the first and last decoded frames are those
    pictures."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    png_path = out_path.with_suffix(".overlay.png")
    png_path.write_bytes(overlay_png(spec))
    pictures: list[tuple[str, Path]] = []
    for which, data in (("first", spec.first_frame), ("last", spec.last_frame)):
        png = frame_png(data, spec.width, spec.height) if data else None
        if png is not None:
            path = out_path.with_suffix(f".{which}.png")
            path.write_bytes(png)
            pictures.append((which, path))
    seed = _seed_int(spec.seed)
    hue = seed % 360
    tone = 220 + seed % 660
    seconds = f"{spec.seconds:g}"
    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={spec.width}x{spec.height}:rate={spec.fps}:duration={seconds}",
        "-i",
        str(png_path),
    ]
    graph = f"[0:v]hue=h={hue}[bg];[bg][1:v]overlay=0:0[v0]"
    hold = min(FRAME_HOLD_SECONDS, spec.seconds / 3)
    for i, (which, path) in enumerate(pictures):
        cmd += ["-loop", "1", "-framerate", str(spec.fps), "-t", seconds, "-i", str(path)]
        when = f"lt(t,{hold:g})" if which == "first" else f"gte(t,{spec.seconds - hold:g})"
        graph += f";[v{i}][{2 + i}:v]overlay=0:0:enable='{when}'[v{i + 1}]"
    graph += f";[v{len(pictures)}]format=yuv420p[v]"
    audio_input = 2 + len(pictures)
    if spec.audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=22050:duration={seconds}"]
    cmd += ["-filter_complex", graph, "-map", "[v]"]
    if spec.audio:
        cmd += ["-map", f"{audio_input}:a", "-c:a", "aac", "-b:a", "32k"]
    cmd += [
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        # A keyframe every 2 s keeps seeking in the browser player snappy.
        "-g",
        str(spec.fps * 2),
        # The test pattern is noisy; a high CRF keeps a 15 s clip around a megabyte.
        "-crf",
        "30",
        "-t",
        seconds,
        *(["-movflags", "+faststart"] if faststart else []),
        str(out_path),
    ]
    try:
        _run(cmd)
    finally:
        png_path.unlink(missing_ok=True)
        for _which, path in pictures:
            path.unlink(missing_ok=True)


def top_level_boxes(path: Path) -> list[tuple[bytes, int, int]]:
    """(type, offset, size) of each top-level box of an MP4 (ftyp, moov, mdat, free, ...)."""
    boxes = []
    total = path.stat().st_size
    with path.open("rb") as fh:
        offset = 0
        while offset + 8 <= total:
            fh.seek(offset)
            head = fh.read(16)
            size, kind = struct.unpack(">I4s", head[:8])
            if size == 1:
                size = struct.unpack(">Q", head[8:16])[0]
            elif size == 0:
                size = total - offset
            if size < 8:
                raise RenderError(f"broken MP4 box {kind!r} at {offset}")
            boxes.append((kind, offset, size))
            offset += size
    return boxes


def pad_clip(src: Path, dst: Path, total_bytes: int) -> None:
    """Copy ``src`` to ``dst`` grown to ``total_bytes`` by a ``free`` box, which players skip.

    The padding goes right before the moov box when the moov comes last (so it stays last, as a
    long recording's would be) and at the very end otherwise. Either way no box the sample
    offsets point into moves, so the file plays as before. The padding is a hole in the file:
    making a gigabyte costs no disk writes.
    """
    boxes = top_level_boxes(src)
    data = src.read_bytes()
    pad = total_bytes - len(data)
    if pad < 8:
        shutil.copyfile(src, dst)
        return
    if pad > 0xFFFFFFFF:
        raise RenderError("padding larger than 4 GB is not supported")
    moov = next((b for b in boxes if b[0] == b"moov"), None)
    split = moov[1] if moov and moov[1] + moov[2] == len(data) and moov[1] > boxes[0][2] else None
    head, tail = (data[:split], data[split:]) if split else (data, b"")
    with dst.open("wb") as out:
        out.write(head)
        out.write(struct.pack(">I4s", pad, b"free"))
        out.seek(pad - 8, os.SEEK_CUR)
        if tail:
            out.write(tail)
        else:
            out.truncate(total_bytes)


def extract_frame(video_path: Path, at_seconds: float) -> Image.Image:
    """One decoded frame as a Pillow image (via a PNG piped out of ffmpeg)."""
    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-ss",
        f"{max(0.0, at_seconds):.3f}",
        "-i",
        str(video_path),
        "-frames:v",
        "1",
        "-f",
        "image2pipe",
        "-c:v",
        "png",
        "-",
    ]
    data = _run(cmd)
    img = Image.open(io.BytesIO(data))
    img.load()
    return img.convert("RGB")


def render_thumbnail(video_path: Path, out_path: Path, seconds: float) -> None:
    """A still from the first third of the clip; the format follows the suffix (.webp/.jpg)."""
    img = extract_frame(video_path, min(1.0, seconds / 3))
    fmt = "WEBP" if out_path.suffix == ".webp" else "JPEG"
    img.save(out_path, format=fmt, quality=80)


def render_spritesheet(video_path: Path, out_path: Path, seconds: float, *, tiles: int = 3) -> None:
    """A tiles x tiles JPEG grid of small frames spread evenly over the clip."""
    count = tiles * tiles
    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-i",
        str(video_path),
        "-vf",
        f"fps={count}/{max(seconds, 0.1):g},scale=160:160:force_original_aspect_ratio=decrease,"
        f"tile={tiles}x{tiles}",
        "-frames:v",
        "1",
        "-f",
        "image2pipe",
        "-c:v",
        "mjpeg",
        "-q:v",
        "5",
        "-",
    ]
    out_path.write_bytes(_run(cmd))


def _run(cmd: list[str]) -> bytes:
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=FFMPEG_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"ffmpeg could not run: {exc}") from exc
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip()[-500:]
        raise RenderError(f"ffmpeg exited with {proc.returncode}: {tail}")
    return proc.stdout
