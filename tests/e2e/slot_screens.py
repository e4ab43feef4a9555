"""Screenshots of the picture slots on the create form and of a job's page, desktop (1366 px)
and phone (390 px), English and Chinese. Not a test: ``python -m tests.e2e.slot_screens PREFIX``
(used for the before/after pictures of #11 / #14 item 3; it works on the code before the
per-slot inputs too)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from soraweb.catalogue.presets import PRESETS_FILE
from tests.e2e.conftest import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    create_user,
    login,
    manage,
    open_page,
    screenshot,
    start_stack,
    stop_stack,
)

USER, PASSWORD = "mia", "mia-shots-pass-3"  # noqa: S105 - a throwaway account
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
LOCALES = {"en": "en-US", "zh": "zh-CN"}


def _fill_slots(page, files: list[Path]) -> None:
    old = page.locator("#id_images")
    if old.count():
        old.set_input_files([str(f) for f in files])
        return
    page.locator("input[type=file][name=slot_first_frame]").set_input_files(str(files[0]))
    page.locator("input[type=file][name=slot_last_frame]").set_input_files(str(files[1]))


def main(prefix: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="slot-shots-"))
    first, last = tmp / "first-wide.png", tmp / "last-wide.png"
    img = Image.new("RGB", (1600, 900), (220, 60, 40))
    for x in range(0, 1600, 200):  # stripes, so a crop and bars look different
        img.paste((250, 200, 40), (x, 0, x + 100, 900))
    img.save(first)
    Image.new("RGB", (1280, 720), (30, 60, 210)).save(last)
    stack = start_stack(tmp / "stack")
    try:
        doc = json.loads(PRESETS_FILE.read_text(encoding="utf-8"))
        doc["models"] = [m for m in doc["models"] if m["id"] in ("seedance-2.0", "veo-3.1")]
        path = tmp / "models.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        manage(stack, "catalogue", "import", str(path))
        create_user(stack, USER, PASSWORD)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            job_url = None
            for lang, locale in LOCALES.items():
                for device, viewport in SIZES.items():
                    with open_page(browser, viewport=viewport, locale=locale) as page:
                        login(page, stack, USER, PASSWORD)
                        page.locator("#id_prompt").fill(f"Slots {lang} {device}")
                        page.locator("#id_video_model").select_option(label="Seedance 2.0")
                        page.locator("select[name=aspect_ratio]").wait_for()
                        page.wait_for_timeout(500)
                        page.locator("select[name=aspect_ratio]").select_option("9:16")
                        page.wait_for_timeout(500)
                        _fill_slots(page, [first, last])
                        page.locator("input[name=image_fit][value=crop]").check()
                        page.wait_for_timeout(800)
                        box = page.locator(".picture-box")
                        box.screenshot(
                            path=str(ARTIFACTS / f"{prefix}-fit-crop-{device}-{lang}.png")
                        )
                        page.locator("input[name=image_fit][value=pad]").check()
                        page.wait_for_timeout(800)
                        box.screenshot(
                            path=str(ARTIFACTS / f"{prefix}-fit-bars-{device}-{lang}.png")
                        )
                        page.locator(".picture-box").scroll_into_view_if_needed()
                        screenshot(page, f"{prefix}-create-{device}-{lang}")
                        if job_url is None:
                            page.locator("#create-form button[type=submit]").click()
                            page.locator(".job-card .job-prompt a").first.wait_for(timeout=30_000)
                            job_url = page.locator(".job-card .job-prompt a").first.get_attribute(
                                "href"
                            )
                            page.wait_for_timeout(6000)
                    with open_page(browser, viewport=viewport, locale=locale) as page:
                        login(page, stack, USER, PASSWORD)
                        page.goto(stack.url(job_url))
                        page.wait_for_timeout(500)
                        screenshot(page, f"{prefix}-job-{device}-{lang}")
            browser.close()
    finally:
        stop_stack(stack)
    print("saved under", ARTIFACTS)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "shot")
