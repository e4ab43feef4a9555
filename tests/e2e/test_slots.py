"""Picture slots in a real browser (#11, #14 item 3): a model with a first and a last frame gets
two labelled drop zones; a picture dropped on one and chosen in the other each show the frame
that will be sent, at the video's aspect ratio, cropped or with bars; the rules between slots
disable what cannot be filled, with the reason; and the job's page shows the fitted copy the
provider received, at the video's pixel size."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from soraweb.catalogue.presets import PRESETS_FILE
from tests.e2e.conftest import create_user, login, manage, open_page, start_stack, stop_stack

pytestmark = pytest.mark.browser
USER, PASSWORD = "ola", "ola-e2e-pass-5"  # noqa: S105 - a throwaway account


@pytest.fixture(scope="module")
def slots_stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slots-stack")
    stack = start_stack(tmp)
    try:
        doc = json.loads(PRESETS_FILE.read_text(encoding="utf-8"))
        doc["models"] = [m for m in doc["models"] if m["id"] == "seedance-2.0"]
        path = tmp / "seedance.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        assert "Imported 1 model(s)" in manage(stack, "catalogue", "import", str(path))
        create_user(stack, USER, PASSWORD)
        yield stack
    finally:
        stop_stack(stack)


def wide_png() -> bytes:
    img = Image.new("RGB", (1600, 900), (220, 60, 40))
    for x in range(0, 1600, 200):
        img.paste((250, 200, 40), (x, 0, x + 100, 900))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


DROP = """([selector, b64, name]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, {type: "image/png"}));
  const zone = document.querySelector(selector);
  zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
  zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
}"""

PASTE = """b64 => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], "pasted.png", {type: "image/png"}));
  document.activeElement.dispatchEvent(
    new ClipboardEvent("paste", {clipboardData: dt, bubbles: true, cancelable: true}));
}"""

TALL = """() => {
  const el = document.querySelector("#picture-slots .slot[data-slot=first_frame] .preview-frame");
  const r = el.getBoundingClientRect();
  return Math.abs(r.width / r.height - 9 / 16) < 0.03;
}"""

BOX = """el => { const r = el.getBoundingClientRect();
  return {ratio: r.width / r.height, fit: getComputedStyle(el.querySelector("img")).objectFit}; }"""


def test_two_slots_drop_and_choose_preview_the_sent_frame_and_the_job_shows_the_copy(
    browser, slots_stack, tmp_path
):
    stack = slots_stack
    last_file = tmp_path / "last.png"
    Image.new("RGB", (1280, 720), (30, 60, 210)).save(last_file)
    with open_page(browser, viewport={"width": 1366, "height": 900}, locale="en-US") as page:
        login(page, stack, USER, PASSWORD)
        page.get_by_label("Prompt", exact=True).fill("Two frames, fitted")
        page.get_by_label("Model").select_option(label="Seedance 2.0")
        first = page.locator("#picture-slots .slot[data-slot=first_frame]")
        last = page.locator("#picture-slots .slot[data-slot=last_frame]")
        first.wait_for()
        page.get_by_label("Aspect ratio").select_option("16:9")
        page.get_by_label("Resolution").select_option("720p")
        page.wait_for_function(
            "() => document.querySelector('#estimate').innerText.includes('1280 × 720')"
        )
        # Each slot is its own labelled input; the last frame waits for a first one, and says so.
        assert page.get_by_label("First frame", exact=True).count() == 1
        assert last.locator("input.slot-input").is_disabled()
        assert (
            "A last frame needs a first frame." in last.locator("[data-slot-reason]").inner_text()
        )

        page.evaluate(
            DROP, ["#id_slot_first_frame", base64.b64encode(wide_png()).decode(), "wide.png"]
        )
        preview = first.locator(".preview-frame")
        preview.wait_for()
        first.get_by_text("Your picture: 1600 × 900 pixels.").wait_for()
        assert "Sent cropped to 1280 × 720" in first.inner_text()
        box = preview.evaluate(BOX)
        assert abs(box["ratio"] - 16 / 9) < 0.03 and box["fit"] == "cover", box
        # References cannot go with a first frame (a catalogue rule): disabled, with the reason.
        ref = page.locator("#picture-slots .slot[data-slot=reference_images]").first
        assert ref.locator("input.slot-input").is_disabled()
        assert "cannot be combined with a first frame" in ref.inner_text()

        assert last.locator("input.slot-input").is_enabled()
        last.locator("input.slot-input").set_input_files(str(last_file))
        last.get_by_text("Already the right size: sent unchanged.").wait_for()
        # Remove it, then paste it back from the clipboard into the focused slot.
        last.get_by_role("button", name="Remove").click()
        last.locator(".slot-preview").wait_for(state="hidden")
        assert last.locator("input.slot-input").evaluate("i => i.files.length") == 0
        last.locator("input.slot-input").focus()
        page.evaluate(PASTE, base64.b64encode(last_file.read_bytes()).decode())
        last.get_by_text("Already the right size: sent unchanged.").wait_for()
        assert last.locator("input.slot-input").evaluate("i => i.files[0].name") == "pasted.png"

        # 9:16: the frame turns tall; bars: the whole picture inside it, on black.
        page.get_by_label("Aspect ratio").select_option("9:16")
        page.wait_for_function(TALL)
        assert "Sent cropped to 720 × 1280" in first.inner_text()
        assert preview.evaluate(BOX)["fit"] == "cover"
        page.get_by_label("Add bars to fit the frame").check()
        first.get_by_text("with black bars").wait_for()
        box = first.locator(".preview-frame").evaluate(BOX)
        assert abs(box["ratio"] - 9 / 16) < 0.03 and box["fit"] == "contain", box
        assert (
            first.locator(".preview-frame").evaluate("el => getComputedStyle(el).backgroundColor")
            == "rgb(0, 0, 0)"
        )
        # This relay takes any size: "Send unchanged" is offered and the hint says what it does.
        assert page.get_by_label("Send unchanged").is_enabled()
        assert (
            "“Send unchanged” sends your picture as it is" in page.locator("#fit-hint").inner_text()
        )

        page.get_by_role("button", name="Generate", exact=True).click()
        card = page.locator(".job-card", has_text="Two frames, fitted")
        card.wait_for()
        page.locator('.job-card[data-state="succeeded"]', has_text="Two frames, fitted").wait_for(
            timeout=90_000
        )
        card.locator(".job-prompt a").click()
        page.wait_for_url("**/jobs/**")
        sent = page.locator(".sent-picture img[data-sent]")
        assert sent.count() == 2
        page.wait_for_function(
            "() => [...document.querySelectorAll('.sent-picture img')].every(i => i.complete && i.naturalWidth)"
        )
        assert sent.evaluate_all("els => els.map(i => [i.naturalWidth, i.naturalHeight])") == [
            [720, 1280],
            [720, 1280],
        ]
        original = page.locator(".sent-picture img[data-original]").first
        assert original.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [1600, 900]
        assert (
            "sent: 720 × 1280 (Add bars to fit the frame)"
            in page.locator(".sent-pictures").inner_text()
        )
