"""An admin attaches a preset to a provider in two clicks, edits the model's durations and a
price row with ordinary controls (checkboxes and fields, no JSON), saves, and the studio form
offers the change (#11 item 5). Screenshots of the catalogue pages in English and Chinese at
1366 px. Its own stack: the other browser tests expect the seeds' menus only."""

from __future__ import annotations

import json

import pytest

from soraweb.catalogue.presets import PRESETS_FILE
from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    ARTIFACTS,
    login,
    manage,
    open_page,
    screenshot,
    start_stack,
    stop_stack,
)
from tests.e2e.test_csp import RECORD_VIOLATIONS

pytestmark = pytest.mark.browser
ZH_ADMIN, ZH_PASSWORD = "lan", "lan-e2e-pass-8"  # noqa: S105 - a throwaway account
BROKEN = """{
  "format": "soraweb-catalogue",
  "version": 1,
  "models": [
    {"name": "x", "params": [{"name": "duration", "type": "number"}], "wire": {"newapi": {}}}
  ]
}
"""


@pytest.fixture(scope="module")
def catalogue_stack(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("catalogue-stack"))
    try:
        manage(
            stack,
            "shell",
            "-c",
            "from django.contrib.auth.models import User\n"
            f"User.objects.create_superuser(username={ZH_ADMIN!r}, password={ZH_PASSWORD!r})",
        )
        yield stack
    finally:
        stop_stack(stack)


def test_attach_a_preset_in_two_clicks_edit_it_and_the_studio_offers_the_change(
    browser, catalogue_stack, tmp_path
):
    stack = catalogue_stack
    with open_page(browser, viewport={"width": 1366, "height": 900}, locale="en-US") as page:
        refused = []
        page.on(
            "console", lambda m: refused.append(m.text) if "Content Security" in m.text else None
        )
        page.add_init_script(RECORD_VIOLATIONS)
        login(page, stack, ADMIN_USER, ADMIN_PASSWORD)
        page.goto(stack.url("/admin/videos/provider/"))
        page.locator("#result_list tbody tr th a").first.click()
        link = page.get_by_role("link", name="Add models from presets")
        link.wait_for()
        screenshot(page, "catalogue-provider-en")
        link.click()
        offers = page.locator("table.cat-offers")
        offers.wait_for()
        assert "Veo 3.1" in offers.inner_text() and "Hailuo" not in offers.inner_text()
        screenshot(page, "catalogue-presets-en")
        # The two clicks: tick Veo 3.1, then Add.
        page.locator("input[name=preset][value='veo-3.1']").check()
        page.get_by_role("button", name="Add", exact=True).click()
        page.locator(".messagelist").get_by_text("Added to").wait_for()
        screenshot(page, "catalogue-changelist-en")

        page.locator("#result_list").get_by_role("link", name="Veo 3.1", exact=True).click()
        editor = page.locator("#catalogue-editor")
        editor.wait_for()
        assert page.locator("textarea[name=spec]").count() == 0
        # The vendored script adds rows (no inline script: the CSP would refuse it).
        rows = editor.locator("tbody.cat-param")
        before = rows.count()
        editor.get_by_role("button", name="Add a setting").click()
        assert rows.count() == before + 1
        assert page.evaluate("window.__csp") == []
        assert page.locator("input[name='cat-p-count']").input_value() == str(before + 1)
        duration = editor.locator("tbody.cat-param", has=page.locator("input[value=duration]"))
        six = duration.locator("input[type=checkbox][value='6']")
        assert six.is_checked()
        six.uncheck()  # no 6-second videos any more
        # The last price row (no sound, HD) goes from $0.20 to $0.25 a second.
        amount = page.locator("#cat-price input[name$='-amount'][value='0.20']")
        amount.fill("0.25")
        screenshot(page, "catalogue-editor-en")
        # Wait for the saved page itself: the page before it also shows a success message.
        with page.expect_navigation():
            page.locator("input[name=_continue]").click()
        page.locator(".messagelist .success").wait_for()
        assert page.locator("#cat-price input[name$='-amount'][value='0.25']").count() == 1

        page.goto(stack.url("/"))
        page.get_by_label("Model").select_option(label="Veo 3.1")
        # The form swaps in Veo's settings: 4 and 8 seconds, no 6 any more (other models'
        # lengths are listed greyed out, "not with Veo 3.1").
        page.wait_for_function(
            "() => [...document.querySelectorAll('select[name=duration] option:not([disabled])')]"
            ".map(o => o.value).join(',') === '4,8'"
        )
        assert page.locator("select[name=duration] option[value='6']").count() == 0
        page.get_by_label("Sound").select_option("false")
        page.locator("select[name=duration]").select_option("8")
        # 8 seconds at the new $0.25 a second.
        page.wait_for_function(
            "() => document.querySelector('#estimate').innerText.includes('2.00')"
        )
        screenshot(page, "catalogue-studio-en")

        # A broken file is answered with its lines.
        broken = tmp_path / "broken.json"
        broken.write_text(BROKEN, encoding="utf-8")
        page.goto(stack.url("/admin/videos/videomodel/"))
        page.get_by_role("link", name="Import file").click()
        page.locator("input[type=file]").set_input_files(broken)
        page.get_by_role("button", name="Show what will change").click()
        problems = page.locator("ul.cat-problems")
        problems.wait_for()
        assert "line 5, column" in problems.inner_text()
        screenshot(page, "catalogue-import-errors-en")
        # A good file: a preview first, nothing written until Import is pressed.
        doc = json.loads(PRESETS_FILE.read_text(encoding="utf-8"))
        doc["models"] = [m for m in doc["models"] if m["id"] in ("kling-3", "veo-3.1")]
        good = tmp_path / "two.json"
        good.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        page.locator("input[type=file]").set_input_files(good)
        page.get_by_role("button", name="Show what will change").click()
        preview = page.locator("table.cat-offers")
        preview.wait_for()
        assert "will be added" in preview.inner_text() and "will be changed" in preview.inner_text()
        screenshot(page, "catalogue-import-preview-en")
        page.get_by_role("button", name="Import", exact=True).click()
        page.locator(".messagelist").get_by_text("Imported 2 model(s)").wait_for()

        # Kling's camera moves are objects: rows of parts, never a JSON cell; a row is added and
        # saved as a nested part.
        page.locator("#result_list").get_by_role("link", name="Kling 3", exact=True).click()
        wire = page.locator("details.cat-format", has=page.locator("[name='cat-w-newapi-on']"))
        move = wire.locator(".cat-kv", has=page.locator("input[name$='-key'][value=forward_up]"))
        parts = move.locator(".cat-parts")
        parts.wait_for()  # the editor page has loaded
        assert parts.is_visible() and move.locator(".cat-scalar").is_hidden()
        assert parts.locator("input[name$='-path']").first.input_value() == "type"
        parts.get_by_role("button", name="Add a part").click()
        rows = parts.locator(".cat-part[data-row]")
        assert rows.count() == 3
        for n, where, number in ((1, "config.horizontal", "-2.5"), (2, "config.zoom", "3")):
            row = rows.nth(n)
            row.locator("input[name$='-path']").fill(where)
            row.locator("select").select_option("number")
            row.locator("input[name$='-value']").fill(number)
        # A blank "always sent" value turned into a group of fields shows its rows of parts.
        constant = wire.locator(".cat-pairs .cat-value").last
        assert constant.locator(".cat-parts").is_hidden()
        constant.locator("select.cat-kind").select_option("object")
        assert constant.locator(".cat-parts").is_visible()
        assert constant.locator(".cat-scalar").is_hidden()
        assert wire.locator("option[value=json]").count() == 0
        # Every Remove (of a field row and of a part) is whole inside the format's block.
        clipped = wire.evaluate(
            """box => { const edge = box.getBoundingClientRect().right;
              return [...box.querySelectorAll('.cat-delete')]
                .filter(l => l.getBoundingClientRect().right > edge + 0.5).length; }"""
        )
        assert clipped == 0, f"{clipped} Remove labels run past the block's edge"
        move.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        wire.screenshot(path=str(ARTIFACTS / "catalogue-wire-parts-en.png"))
        with page.expect_navigation():
            page.locator("input[name=_continue]").click()
        page.locator(".messagelist .success").wait_for()
        saved = [p.input_value() for p in move.locator("input[name$='-path']").all()]
        assert saved[:3] == ["type", "config.horizontal", "config.zoom"], saved
        assert page.evaluate("window.__csp") == []
        assert not refused, refused

    with open_page(browser, viewport={"width": 1366, "height": 900}, locale="zh-CN") as page:
        login(page, stack, ZH_ADMIN, ZH_PASSWORD)
        page.goto(stack.url("/admin/videos/videomodel/"))
        page.get_by_role("link", name="从预设添加").click()
        page.locator("select#id_provider").wait_for()
        if page.locator("table.cat-offers").count() == 0:
            page.get_by_role("button", name="显示它的预设").click()
        offers = page.locator("table.cat-offers")
        assert "已添加" in offers.inner_text()
        assert "不同中转站" in offers.inner_text()
        screenshot(page, "catalogue-presets-zh")
        page.goto(stack.url("/admin/videos/videomodel/"))
        page.locator("#result_list").get_by_role("link", name="Veo 3.1", exact=True).click()
        page.locator("#catalogue-editor").get_by_text("设置与输入文件").wait_for()
        screenshot(page, "catalogue-editor-zh")
        page.goto(stack.url("/admin/videos/videomodel/import/"))
        page.locator("input[type=file]").set_input_files(broken)
        page.get_by_role("button", name="显示将要改动的内容").click()
        page.locator("ul.cat-problems").wait_for()
        assert "文件未导入" in page.locator(".errornote").inner_text()
        screenshot(page, "catalogue-import-errors-zh")
