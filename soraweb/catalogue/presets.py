"""Presets for the models relays sell in late 2026, written as catalogue data.

Parameters and limits come from ``shared/spec/providers.md`` section 7 and the vendors' public
API pages; prices are indicative list prices per second (US dollars) where one is published.
Every preset says so: relays rename models and set their own prices, so an admin attaches a
preset and then edits the name and the price rows for their relay.

``presets.json`` next to this file is this module's output (``python -m
soraweb.catalogue.presets``); the simulator reads that file, never this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PRESETS_FILE = Path(__file__).with_name("presets.json")

NOTE = {
    "en": "Names, limits and prices differ between relays: check your relay's list and edit "
    "the model name and the price rows to match it.",
    "zh": "不同中转站的模型名称、限制和价格各不相同：请对照您所用中转站的价目表，修改模型名称和价格。",
}

_RATIO_LABELS = {
    "16:9": ("16:9 wide", "16:9 横屏"),
    "9:16": ("9:16 tall", "9:16 竖屏"),
    "1:1": ("1:1 square", "1:1 方形"),
    "4:3": ("4:3", "4:3"),
    "3:4": ("3:4", "3:4"),
    "21:9": ("21:9 cinema", "21:9 宽银幕"),
    "adaptive": ("Match the picture", "跟随图片比例"),
}
_RES_LABELS = {
    "360p": ("360p", "360p"),
    "480p": ("480p", "480p"),
    "512p": ("512p", "512p"),
    "720p": ("720p HD", "720p 高清"),
    "768p": ("768p", "768p"),
    "1080p": ("1080p Full HD", "1080p 全高清"),
    "4k": ("4K Ultra HD", "4K 超高清"),
}


def _l(en: str, zh: str) -> dict[str, str]:
    return {"en": en, "zh": zh}


def ratio(*values: str, default: str | None = None) -> dict[str, Any]:
    return {
        "name": "aspect_ratio",
        "type": "choice",
        "label": _l("Aspect ratio", "画面比例"),
        "choices": [{"value": v, "label": _l(*_RATIO_LABELS[v])} for v in values],
        "default": default or values[0],
    }


def resolution(*values: str, default: str | None = None) -> dict[str, Any]:
    return {
        "name": "resolution",
        "type": "choice",
        "label": _l("Resolution", "分辨率"),
        "choices": [{"value": v, "label": _l(*_RES_LABELS[v])} for v in values],
        "default": default or values[0],
    }


def duration(values: list[int] | tuple[int, int], default: int) -> dict[str, Any]:
    out: dict[str, Any] = {"name": "duration", "type": "int", "label": _l("Duration", "时长")}
    if isinstance(values, tuple):
        out.update({"min": values[0], "max": values[1], "step": 1})
    else:
        out["values"] = list(values)
    out["default"] = default
    return out


def flag(name: str, en: str, zh: str, default: bool | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": "bool", "label": _l(en, zh)}
    if default is not None:
        out["default"] = default
    return out


def audio(default: bool = True) -> dict[str, Any]:
    return flag("audio", "Sound", "生成声音", default)


def watermark(default: bool = False) -> dict[str, Any]:
    return flag("watermark", "Watermark", "水印", default)


def seed() -> dict[str, Any]:
    # Not sent when unset: the relay picks a random one.
    return {
        "name": "seed",
        "type": "int",
        "label": _l("Seed", "随机种子"),
        "min": 0,
        "max": 4294967295,
        "step": 1,
    }


def negative_prompt(limit: int) -> dict[str, Any]:
    return {
        "name": "negative_prompt",
        "type": "text",
        "label": _l("Avoid (negative prompt)", "不希望出现的内容"),
        "max_length": limit,
    }


IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp"]


def slot(name: str, en: str, zh: str, *, kind: str = "image", count: int = 1, mb: int = 10):
    return {
        "name": name,
        "type": "slot",
        "label": _l(en, zh),
        "kind": kind,
        "max_count": count,
        "max_bytes": mb * 1024 * 1024,
        **({"content_types": IMAGE_TYPES} if kind == "image" else {}),
    }


def first_frame(mb: int = 10) -> dict[str, Any]:
    return slot("first_frame", "First frame", "首帧图片", mb=mb)


def last_frame(mb: int = 10) -> dict[str, Any]:
    return slot("last_frame", "Last frame", "尾帧图片", mb=mb)


def references(n: int, mb: int = 10) -> dict[str, Any]:
    return slot("reference_images", "Reference pictures", "参考图片", count=n, mb=mb)


LAST_NEEDS_FIRST = {
    "when": {"last_frame": "set"},
    "then": {"first_frame": "set"},
    "message": _l("A last frame needs a first frame.", "使用尾帧时必须同时提供首帧。"),
}
REFS_NOT_WITH_FRAMES = {
    "when": {"reference_images": "set"},
    "then": {"first_frame": "unset"},
    "message": _l(
        "Reference pictures cannot be combined with a first frame.",
        "参考图片不能与首帧图片同时使用。",
    ),
}


def per_second(*rows: tuple[dict[str, Any], str]) -> dict[str, Any]:
    return {
        "per": "second",
        "currency": "USD",
        "rows": [({"when": w} if w else {}) | {"amount": a} for w, a in rows],
    }


def openai_sizes(ratios: list[str], resolutions: list[str]) -> list[str]:
    from .wire import frame_size

    out = []
    for res in resolutions:
        for r in ratios:
            size = frame_size(r, res)
            if size:
                out.append(f"{size[0]}x{size[1]}")
    return out


# --- the families ----------------------------------------------------------------------------------


def _veo(model_id: str, name: str, label: str, prices: dict[str, tuple[str, str]]) -> dict:
    ratios = ["16:9", "9:16"]
    return {
        "id": model_id,
        "name": name,
        "label": _l(label, label),
        "family": "veo",
        "note": NOTE,
        "params": [
            ratio(*ratios),
            resolution("720p", "1080p", "4k"),
            duration([4, 6, 8], 8),
            audio(True),
            negative_prompt(1000),
            seed(),
            flag("enhance_prompt", "Improve my prompt", "自动优化提示词", None),
            first_frame(20),
            last_frame(20),
            references(3, 20),
        ],
        "rules": [
            {
                "when": {"resolution": ["1080p", "4k"]},
                "then": {"duration": [8]},
                "message": _l("1080p and 4K need 8 seconds.", "1080p 和 4K 需要 8 秒时长。"),
            },
            {
                "when": {"reference_images": "set"},
                "then": {"duration": [8]},
                "message": _l("Reference pictures need 8 seconds.", "使用参考图片需要 8 秒时长。"),
            },
            LAST_NEEDS_FIRST,
            REFS_NOT_WITH_FRAMES,
        ],
        "price": per_second(
            ({"resolution": ["4k"], "audio": [True]}, prices["4k"][0]),
            ({"resolution": ["4k"]}, prices["4k"][1]),
            ({"audio": [True]}, prices["hd"][0]),
            ({}, prices["hd"][1]),
        ),
        "wire": {
            "unified": {"model": "{model}"},
            "newapi": {
                "model": "{model}",
                "fields": [
                    {"param": "audio", "to": "metadata.generateAudio"},
                    {"param": "negative_prompt", "to": "metadata.negativePrompt"},
                    {"param": "enhance_prompt", "to": "metadata.enhancePrompt"},
                    {"param": "aspect_ratio", "to": "metadata.aspectRatio"},
                ],
            },
            "openai": {
                "model": "{model}",
                # Gateways map seconds onto Veo's durationSeconds: 4 and 8 exist on both sides.
                "allow": {"duration": [4, 8]},
                "sizes": openai_sizes(ratios, ["720p", "1080p", "4k"]),
            },
        },
    }


def _seedance(model_id: str, name: str, label: str, *, fast: bool) -> dict:
    ratios = ["adaptive", "16:9", "9:16", "1:1", "4:3", "3:4", "21:9"]
    resolutions = ["480p", "720p"] if fast else ["480p", "720p", "1080p"]
    roles = [
        {"param": "first_frame", "to": "metadata.content[]", "role": "first_frame"},
        {"param": "last_frame", "to": "metadata.content[]", "role": "last_frame"},
        {"param": "reference_images", "to": "metadata.content[]", "role": "reference_image"},
        {"param": "reference_videos", "to": "metadata.content[]", "role": "reference_video"},
        {"param": "reference_audios", "to": "metadata.content[]", "role": "reference_audio"},
        {"param": "audio", "to": "metadata.generate_audio"},
    ]
    if fast:
        hd, sd, video = "0.14", "0.07", "0.21"
    else:
        hd, sd, video = "0.20", "0.10", "0.30"
    rows: list[tuple[dict[str, str | list[str]], str]] = [({"reference_videos": "set"}, video)]
    if not fast:
        rows.append(({"resolution": ["1080p"]}, "0.45"))
    rows += [({"resolution": ["720p"]}, hd), ({}, sd)]
    return {
        "id": model_id,
        "name": name,
        "label": _l(label, label),
        "family": "seedance",
        "note": NOTE,
        "params": [
            ratio(*ratios, default="16:9"),
            resolution(*resolutions, default="720p"),
            duration((4, 15), 5),
            audio(True),
            watermark(False),
            seed(),
            first_frame(30),
            last_frame(30),
            references(9, 30),
            slot("reference_videos", "Reference videos", "参考视频", kind="video", count=3, mb=50),
            slot("reference_audios", "Reference sounds", "参考音频", kind="audio", count=3, mb=15),
        ],
        "rules": [LAST_NEEDS_FIRST, REFS_NOT_WITH_FRAMES],
        "price": per_second(*rows),
        "wire": {
            "newapi": {"model": "{model}", "fields": roles},
            "unified": {"model": "{model}", "fields": [{"param": "audio", "to": "generate_audio"}]},
            "openai": {
                "model": "{model}",
                "allow": {"duration": [4, 8, 12], "aspect_ratio": ratios[1:]},
                "sizes": openai_sizes(ratios[1:], resolutions),
            },
        },
    }


def _seedance_15() -> dict:
    ratios = ["adaptive", "16:9", "9:16", "1:1", "4:3", "3:4", "21:9"]
    return {
        "id": "seedance-1.5-pro",
        "name": "doubao-seedance-1-5-pro-251215",
        "label": _l("Seedance 1.5 Pro", "Seedance 1.5 Pro"),
        "family": "seedance",
        "note": NOTE,
        "params": [
            ratio(*ratios, default="16:9"),
            resolution("480p", "720p", "1080p", default="720p"),
            duration((4, 12), 5),
            audio(True),
            flag("camera_fixed", "Keep the camera still", "固定镜头", False),
            watermark(False),
            seed(),
            {
                "name": "service_tier",
                "type": "choice",
                "label": _l("Speed", "处理速度"),
                "choices": [
                    {"value": "default", "label": _l("Normal", "标准")},
                    {"value": "flex", "label": _l("Cheaper, slower", "更便宜、较慢")},
                ],
            },
            first_frame(30),
            last_frame(30),
        ],
        "rules": [LAST_NEEDS_FIRST],
        # The audio track roughly doubles the price.
        "price": per_second(
            ({"resolution": ["1080p"], "audio": [True]}, "0.12"),
            ({"resolution": ["1080p"]}, "0.06"),
            ({"resolution": ["720p"], "audio": [True]}, "0.052"),
            ({"resolution": ["720p"]}, "0.026"),
            ({"audio": [True]}, "0.024"),
            ({}, "0.012"),
        ),
        "wire": {
            "newapi": {
                "model": "{model}",
                "fields": [
                    {"param": "audio", "to": "metadata.generate_audio"},
                    {"param": "first_frame", "to": "metadata.content[]", "role": "first_frame"},
                    {"param": "last_frame", "to": "metadata.content[]", "role": "last_frame"},
                ],
            },
            "unified": {"model": "{model}", "fields": [{"param": "audio", "to": "generate_audio"}]},
        },
    }


def _kling(model_id: str, name: str, label: str, *, v3: bool) -> dict:
    rules = [
        {
            "when": {"last_frame": "set"},
            "then": {"mode": ["pro"]},
            "message": _l("A last frame needs Pro mode.", "尾帧只能在专业模式下使用。"),
        },
        {
            "when": {"camera_control": "set"},
            "then": {"first_frame": "unset"},
            "message": _l(
                "A camera move cannot be combined with a picture.", "镜头运动不能与图片同时使用。"
            ),
        },
        {
            "when": {"audio": [True]},
            "then": {"mode": ["pro"]},
            "message": _l("Sound needs Pro mode.", "声音只能在专业模式下生成。"),
        },
        LAST_NEEDS_FIRST,
    ]
    if v3:
        rules.append(
            {
                "when": {"first_frame": "set"},
                "then": {"duration": list(range(3, 11))},
                "message": _l(
                    "With a picture a video is at most 10 seconds.", "使用图片时最长 10 秒。"
                ),
            }
        )
    moves = ["down_back", "forward_up", "right_turn_forward", "left_turn_forward"]
    move_labels = {
        "down_back": ("Pull back and down", "下移拉远"),
        "forward_up": ("Push in and up", "推进上移"),
        "right_turn_forward": ("Turn right, move in", "右旋推进"),
        "left_turn_forward": ("Turn left, move in", "左旋推进"),
    }
    return {
        "id": model_id,
        "name": name,
        "label": _l(label, label),
        "family": "kling",
        "note": NOTE,
        "params": [
            ratio("16:9", "9:16", "1:1"),
            duration((3, 15) if v3 else [5, 10], 5),
            {
                "name": "mode",
                "type": "choice",
                "label": _l("Quality", "质量模式"),
                "choices": [
                    {"value": "std", "label": _l("Standard (720p)", "标准 (720p)")},
                    {"value": "pro", "label": _l("Pro (1080p)", "专业 (1080p)")},
                ],
                "default": "std",
            },
            audio(False),
            negative_prompt(2500),
            {
                "name": "camera_control",
                "type": "choice",
                "label": _l("Camera move", "镜头运动"),
                "choices": [{"value": m, "label": _l(*move_labels[m])} for m in moves],
            },
            first_frame(10),
            last_frame(10),
        ],
        "rules": rules,
        "price": per_second(
            ({"mode": ["pro"], "audio": [True]}, "0.20" if v3 else "0.14"),
            ({"mode": ["pro"]}, "0.13" if v3 else "0.07"),
            ({}, "0.10" if v3 else "0.042"),
        ),
        "wire": {
            "newapi": {
                "model": "{model}",
                "fields": [
                    {"param": "audio", "to": "metadata.sound", "write": "onoff"},
                    {"param": "aspect_ratio", "to": "metadata.aspect_ratio"},
                    {
                        "param": "camera_control",
                        "to": "metadata.camera_control",
                        "values": {m: {"type": m} for m in moves},
                    },
                    {"param": "first_frame", "to": "images[]"},
                    {"param": "last_frame", "to": "metadata.image_tail"},
                ],
            },
            # Unified relays require a size: Kling's modes are its sizes (std 720p, pro 1080p).
            "unified": {
                "model": "{model}",
                "fields": [
                    {"param": "mode", "to": "size", "values": {"std": "small", "pro": "large"}},
                    {"param": "mode", "to": "mode"},
                ],
            },
        },
    }


def _wan(model_id: str, name: str, label: str, durations: Any) -> dict:
    return {
        "id": model_id,
        "name": name,
        "label": _l(label, label),
        "family": "wan",
        "note": NOTE,
        "params": [
            ratio("16:9", "9:16", "1:1", "4:3", "3:4"),
            resolution("480p", "720p", "1080p", default="1080p"),
            duration(durations, 5),
            audio(True),
            flag("prompt_extend", "Improve my prompt", "自动优化提示词", True),
            watermark(False),
            seed(),
            negative_prompt(500),
            first_frame(10),
            last_frame(10),
        ],
        "rules": [LAST_NEEDS_FIRST],
        "price": per_second(
            ({"resolution": ["1080p"]}, "0.15"), ({"resolution": ["720p"]}, "0.10"), ({}, "0.05")
        ),
        "wire": {
            "newapi": {
                "model": "{model}",
                "fields": [
                    # DashScope writes sizes with a star and resolutions in capitals.
                    {"param": ["aspect_ratio", "resolution"], "to": "size", "write": "w*h"},
                    {"param": "resolution", "to": "metadata.resolution", "write": "upper"},
                    {"param": "first_frame", "to": "metadata.img_url"},
                    {"param": "last_frame", "to": "metadata.last_frame_url"},
                ],
            },
            "unified": {"model": "{model}"},
        },
    }


def _hailuo(model_id: str, name: str, label: str, resolutions: list[str], default: str) -> dict:
    prices = {"512p": ("0.017", "0.015"), "768p": ("0.045", "0.045"), "1080p": ("0.08", "0.08")}
    rules = [
        {
            "when": {"resolution": ["1080p"]},
            "then": {"duration": [6]},
            "message": _l("1080p is made only at 6 seconds.", "1080p 只能生成 6 秒。"),
        },
        LAST_NEEDS_FIRST,
    ]
    if "512p" in resolutions:
        rules.append(
            {
                "when": {"resolution": ["512p"]},
                "then": {"first_frame": "set"},
                "message": _l("512p needs a first frame.", "512p 需要提供首帧图片。"),
            }
        )
    rows = [({"resolution": [r]}, prices[r][0]) for r in resolutions]
    return {
        "id": model_id,
        "name": name,
        "label": _l(label, label),
        "family": "hailuo",
        "note": NOTE,
        "params": [
            resolution(*resolutions, default=default),
            duration([6, 10], 6),
            flag("prompt_optimizer", "Improve my prompt", "自动优化提示词", True),
            flag("fast_pretreatment", "Faster prompt handling", "快速预处理", None),
            first_frame(20),
            last_frame(20),
        ],
        "rules": rules,
        "price": per_second(*rows),
        "wire": {
            "newapi": {
                "model": "{model}",
                "fields": [
                    {"param": "resolution", "to": "metadata.resolution", "write": "upper"},
                    {"param": "first_frame", "to": "metadata.first_frame_image"},
                    {"param": "last_frame", "to": "metadata.last_frame_image"},
                ],
            },
            # Not offered for unified relays: Hailuo has no orientation to fill that required field.
        },
    }


def _vidu() -> dict:
    return {
        "id": "vidu-q2",
        "name": "viduq2",
        "label": _l("Vidu Q2", "Vidu Q2"),
        "family": "vidu",
        "note": {
            "en": "Vidu bills credits; the prices are relays' dollar lists. " + NOTE["en"],
            "zh": "Vidu 官方按积分计费；此处价格取自中转站的美元价目。" + NOTE["zh"],
        },
        "params": [
            ratio("16:9", "9:16", "1:1"),
            resolution("360p", "720p", "1080p", default="720p"),
            duration((1, 16), 5),
            seed(),
            first_frame(10),
            last_frame(10),
            references(7, 10),
        ],
        "rules": [
            {
                "when": {"resolution": ["1080p"]},
                "then": {"duration": [4]},
                "message": _l("1080p is made only at 4 seconds.", "1080p 只能生成 4 秒。"),
            },
            LAST_NEEDS_FIRST,
            REFS_NOT_WITH_FRAMES,
        ],
        # Vidu's own API bills credits; these are the per-second rates relays list in dollars
        # for viduq2 text-to-video (a 5 s clip: 540p $0.15, 720p $0.25; 1080p 4 s $0.60).
        "price": per_second(
            ({"resolution": ["1080p"]}, "0.15"), ({"resolution": ["720p"]}, "0.05"), ({}, "0.03")
        ),
        "wire": {"newapi": {"model": "{model}"}, "unified": {"model": "{model}"}},
    }


def _grok() -> dict:
    return {
        "id": "grok-imagine-video",
        "name": "grok-imagine-video",
        "label": _l("Grok Imagine video", "Grok Imagine 视频"),
        "family": "grok",
        "note": {
            "en": "xAI lists $0.05 a second at 480p and $0.07 at 720p, sound included; a "
            "picture given costs a little extra. " + NOTE["en"],
            "zh": "xAI 标价：480p 每秒 0.05 美元，720p 每秒 0.07 美元，含声音；提供图片另收少量费用。"
            + NOTE["zh"],
        },
        "params": [
            ratio("16:9", "9:16", "1:1"),
            resolution("480p", "720p", default="720p"),
            duration((1, 15), 6),
            first_frame(10),
        ],
        "price": per_second(({"resolution": ["720p"]}, "0.07"), ({}, "0.05")),
        "wire": {
            "newapi": {
                "model": "{model}",
                "fields": [{"param": "resolution", "to": "metadata.resolution_name"}],
            },
            "openai": {
                "model": "{model}",
                "allow": {"duration": [4, 8, 12]},
                "sizes": openai_sizes(["16:9", "9:16", "1:1"], ["480p", "720p"]),
            },
        },
    }


def _sora(pro: bool) -> dict:
    name = "sora-2-pro" if pro else "sora-2"
    sizes = {"9:16|720p": "720x1280", "16:9|720p": "1280x720"}
    if pro:
        sizes |= {"9:16|1080p": "1024x1792", "16:9|1080p": "1792x1024"}
    seeds_durations = [15] if pro else [10, 15]
    image = [{"param": "first_frame", "to": "images[]"}]
    return {
        "id": name,
        "name": name,
        "label": _l("Sora 2 Pro" if pro else "Sora 2", "Sora 2 Pro" if pro else "Sora 2"),
        "family": "sora",
        "note": {
            "en": "OpenAI switched Sora 2 off in September 2026; relays still sell the name, "
            "sometimes for another model. " + NOTE["en"],
            "zh": "OpenAI 已于 2026 年 9 月停用 Sora 2；中转站仍以此名称出售，有时背后是其他模型。"
            + NOTE["zh"],
        },
        "params": [
            ratio("9:16", "16:9"),
            resolution("720p", "1080p", default="1080p" if pro else "720p"),
            duration([4, 8, 10, 12, 15], 15 if pro else 10),
            first_frame(20),
        ],
        "price": per_second(
            ({"resolution": ["1080p"]}, "0.50" if pro else "0.30"),
            ({}, "0.30" if pro else "0.10"),
        ),
        "wire": {
            # The seeds' format: every field required, sizes small / large, pro large only.
            "unified": {
                "model": "{model}",
                "defaults": False,
                "fields": [
                    {"param": "aspect_ratio", "to": "orientation", "write": "orientation"},
                    {
                        "param": "resolution",
                        "to": "size",
                        "values": {"720p": "small", "1080p": "large"},
                    },
                    {"param": "duration", "to": "duration", "write": "int"},
                    *image,
                ],
                "allow": {
                    "duration": seeds_durations,
                    **({"resolution": ["1080p"]} if pro else {}),
                },
            },
            # OpenAI's documented values: seconds "4" / "8" / "12"; sora-2 only the 720p sizes.
            "openai": {
                "model": "{model}",
                "defaults": False,
                "fields": [
                    {"param": "duration", "to": "seconds", "write": "string"},
                    {"param": ["aspect_ratio", "resolution"], "to": "size", "values": sizes},
                    {"param": "first_frame", "to": "input_reference", "file": True},
                ],
                "allow": {
                    "duration": [4, 8, 12],
                    "resolution": sorted({k.split("|")[1] for k in sizes}),
                },
                "sizes": list(sizes.values()),
            },
            # new-api hands sora to OpenAI's endpoint: the same seconds and sizes, as WxH.
            "newapi": {
                "model": "{model}",
                "defaults": False,
                "fields": [
                    {"param": ["aspect_ratio", "resolution"], "to": "size", "values": sizes},
                    {"param": "duration", "to": "duration", "write": "int"},
                    {"param": "aspect_ratio", "to": "metadata.orientation", "write": "orientation"},
                    {"param": "first_frame", "to": "images[]"},
                    {"param": "first_frame", "to": "image"},
                ],
                "allow": {
                    "duration": [4, 8, 12],
                    "resolution": sorted({k.split("|")[1] for k in sizes}),
                },
            },
            # Chat relays pick orientation and length by the model name.
            "chat": {
                "model": "sora2-pro-{orientation}-{duration}s"
                if pro
                else "sora2-{orientation}-{duration}s",
                "allow": {"duration": seeds_durations},
            },
        },
    }


def preset_models() -> list[dict[str, Any]]:
    veo = {"hd": ("0.40", "0.20"), "4k": ("0.60", "0.40")}
    veo_fast = {"hd": ("0.15", "0.10"), "4k": ("0.35", "0.30")}
    return [
        _veo("veo-3.1", "veo-3.1-generate-preview", "Veo 3.1", veo),
        _veo("veo-3.1-fast", "veo-3.1-fast-generate-preview", "Veo 3.1 Fast", veo_fast),
        _seedance("seedance-2.0", "doubao-seedance-2-0", "Seedance 2.0", fast=False),
        _seedance("seedance-2.0-fast", "doubao-seedance-2-0-fast", "Seedance 2.0 Fast", fast=True),
        _seedance_15(),
        _kling("kling-2.6", "kling-v2-6", "Kling 2.6", v3=False),
        _kling("kling-3", "kling-v3", "Kling 3", v3=True),
        _wan("wan-2.5", "wan2.5-t2v-preview", "Wan 2.5", [5, 10]),
        _wan("wan-2.6", "wan2.6-t2v", "Wan 2.6", (3, 10)),
        _hailuo("hailuo-02", "MiniMax-Hailuo-02", "Hailuo 02", ["512p", "768p", "1080p"], "768p"),
        _hailuo("hailuo-2.3", "MiniMax-Hailuo-2.3", "Hailuo 2.3", ["768p", "1080p"], "768p"),
        _vidu(),
        _grok(),
        _sora(pro=False),
        _sora(pro=True),
    ]


def preset_document() -> dict[str, Any]:
    from .io import document
    from .schema import parse_model

    # Written in the catalogue's canonical form, so an export of the presets is this file.
    return document([parse_model(m, f"presets[{i}]") for i, m in enumerate(preset_models())])


def load_presets() -> list[Any]:
    """The presets as ModelSpecs, read from the shipped JSON file."""
    from .io import load_text

    return load_text(PRESETS_FILE.read_text(encoding="utf-8"))


if __name__ == "__main__":  # regenerate presets.json
    from .io import dumps

    PRESETS_FILE.write_text(dumps(preset_document()), encoding="utf-8")
    print(f"wrote {PRESETS_FILE}")
