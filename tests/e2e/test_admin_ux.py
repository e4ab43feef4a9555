"""Issue #14, items 8, 9 and 11, in a real browser and in both languages: the admin as
non-developers see it, pages that fit a laptop and a phone, the gallery's CSV download, and
axe-core (vendored: tests/e2e/axe.min.js, MPL-2.0) finding nothing serious on the pages people use.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import (
    ROOT,
    create_user,
    login,
    manage,
    open_page,
    screenshot,
    seed_finished_videos,
    start_stack,
    stop_stack,
)
from tests.e2e.test_ops import SEED as OPS_SEED

pytestmark = pytest.mark.browser

AXE = (Path(__file__).parent / "axe.min.js").read_text()
LANGS = {"en": "en-US", "zh": "zh-CN"}
FORMULA_PROMPT = "=SUM(A1:A9) a lighthouse drawn in chalk"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """One stack for the module: a fortnight of spend (tests/e2e/test_ops.py's seed), a member,
    and 32 finished videos of the admin's own (more than "My jobs" shows at once)."""
    stack = start_stack(tmp_path_factory.mktemp("adminux"))
    try:
        subprocess.run([sys.executable, "-c", OPS_SEED], env=stack.env, cwd=ROOT, check=True)
        create_user(stack, "noor", "noor-pass-12345")
        specs = [
            {
                "prompt": FORMULA_PROMPT if i == 0 else f"a red kite over green hills, take {i}",
                "owner": "admin",
                "model": "sora-2" if i % 2 else "sora-2-pro",
                "orientation": "landscape" if i % 3 else "portrait",
            }
            for i in range(32)
        ]
        ids = seed_finished_videos(stack, specs)
        yield stack, ids
    finally:
        stop_stack(stack)


def lang_page(browser, lang: str, width: int = 1280, height: int = 900, **extra):
    return open_page(
        browser, viewport={"width": width, "height": height}, locale=LANGS[lang], **extra
    )


def sideways(page) -> dict:
    """What scrolls sideways: the page itself, and any element that scrolls inside it."""
    return page.evaluate(
        """() => ({
            page: document.documentElement.scrollWidth - window.innerWidth,
            inner: [...document.querySelectorAll('*')]
                .filter(e => e.scrollWidth > e.clientWidth + 1
                             && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
                .map(e => `${e.tagName}.${e.className} ${e.scrollWidth}>${e.clientWidth}`),
        })"""
    )


# --- Item 8: the admin for non-developers ---------------------------------------------------------

BRAND = {"en": "soraweb admin", "zh": "soraweb 管理"}
ADVANCED = {
    "en": [
        "Permission groups",
        "Background tasks: waiting",
        "Background tasks: scheduled",
        "Background tasks: done",
        "Background tasks: failed",
        "Sign-in lockouts (failed attempts)",
        "Sign-in log: wrong passwords",
        "Sign-in log: all sign-ins",
        "Two-factor devices (authenticator apps)",
    ],
    "zh": [
        "权限组",
        "后台任务：排队中",
        "后台任务：定时计划",
        "后台任务：已完成",
        "后台任务：失败",
        "登录锁定（失败的尝试）",
        "登录记录：密码错误",
        "登录记录：全部登录",
        "两步验证设备（身份验证器应用）",
    ],
}
FIRST = {
    "en": ("Videos", ["Video jobs", "Providers", "Video models"]),
    "zh": ("视频", ["视频任务", "服务商", "视频模型"]),
}


def sections(page, scope: str) -> list[tuple[str, list[str]]]:
    return page.evaluate(
        """scope => [...document.querySelectorAll(scope + ' .module')].map(m => [
            m.querySelector('caption').innerText.trim(),
            [...m.querySelectorAll('th[scope=row]')].map(th => th.innerText.trim()),
        ])""",
        scope,
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_admin_is_soraweb_and_keeps_developer_tables_under_advanced(browser, seeded, lang):
    stack, _ids = seeded
    with lang_page(browser, lang) as page:
        page.goto(stack.url("/admin/login/"))
        screenshot(page, f"after-admin-login-{lang}")
        assert BRAND[lang] in page.title(), page.title()
        assert page.locator("#site-name").inner_text() == BRAND[lang]
        assert "Django" not in page.title() + page.locator("body").inner_text()

        login(page, stack)
        page.goto(stack.url("/admin/"))
        screenshot(page, f"after-admin-index-{lang}")
        assert BRAND[lang] in page.title() and "Django" not in page.title(), page.title()
        assert page.locator("#site-name").inner_text() == BRAND[lang]
        shown = sections(page, "#content-main")
        names = [name for name, _models in shown]
        assert names[0].casefold() == FIRST[lang][0].casefold(), names
        assert shown[0][1][:3] == FIRST[lang][1], shown[0]
        assert names[-1].casefold() == {"en": "advanced", "zh": "高级"}[lang], names
        assert shown[-1][1] == ADVANCED[lang], shown[-1]
        # The libraries' own sections are gone (they were "Axes", "OTP_TOTP", ...).
        assert not {n.casefold() for n in names} & {"axes", "otp_totp", "background tasks"}

        # The sidebar on every other admin page says the same, in the same order.
        page.goto(stack.url("/admin/videos/videojob/"))
        assert sections(page, "#nav-sidebar") == shown
        assert BRAND[lang] in page.title()


WIRE_HELP = {
    "en": [
        "unified",
        "chat",
        "openai",
        "newapi",
        "Not sure? Ask your relay which endpoint it documents.",
    ],
    "zh": [
        "unified",
        "chat",
        "openai",
        "newapi",
        "不确定？请问您的中转站，它的文档写的是哪个接口地址。",
    ],
}
KEEP_KEY = {"en": "Leave empty to keep the current key", "zh": "留空"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_provider_form_explains_wire_formats_and_adding_has_no_key_to_keep(
    browser, seeded, lang
):
    stack, _ids = seeded
    with lang_page(browser, lang) as page:
        login(page, stack)
        page.goto(stack.url("/admin/videos/provider/add/"))
        help_text = page.locator(".field-wire_format .help").inner_text()
        for words in WIRE_HELP[lang]:
            assert words in help_text, help_text
        assert "/video/create" in help_text and "/chat/completions" in help_text
        assert "/videos" in help_text and "/video/generations" in help_text
        form_text = page.locator("#provider_form").inner_text()
        assert KEEP_KEY[lang] not in form_text, form_text
        assert page.locator("#id_clear_api_key").count() == 0
        assert page.locator("#id_clear_webhook_secret").count() == 0
        screenshot(page, f"after-provider-add-{lang}")

        # Saved with a key, the same form on the provider's page offers to keep or remove it.
        page.locator("#id_name").fill(f"Relay {lang}")
        page.locator("#id_base_url").fill("https://relay.example.com/v1")
        page.locator("#id_api_key").fill("sk-test-never-shown")
        page.locator("input[name=_continue]").click()
        page.locator(".messagelist .success").wait_for()
        assert page.locator("#id_clear_api_key").count() == 1
        assert page.locator("#id_clear_webhook_secret").count() == 1
        assert "sk-test-never-shown" not in page.content()
        screenshot(page, f"after-provider-change-{lang}")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_jobs_list_fits_a_laptop(browser, seeded, lang):
    stack, _ids = seeded
    with lang_page(browser, lang, width=1366, height=768) as page:
        login(page, stack)
        page.goto(stack.url("/admin/videos/videojob/"))
        page.locator("#result_list").wait_for()
        screenshot(page, f"after-jobs-1366-{lang}")
        found = sideways(page)
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), found
        assert found["page"] <= 0 and found["inner"] == [], found
        # Both the model and its provider are still there, in one column.
        first = page.locator("#result_list tbody tr").first
        assert first.locator("td.field-model_and_provider small").inner_text().strip()


# --- Item 9: the operations pages on a phone -------------------------------------------------------

OPS_PAGES = {
    "ops": "/ops/",
    "spend": "/ops/spend/",
    "spend-30-days": "/ops/spend/?range=30",
    "notices": "/notices/",
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_operations_pages_do_not_scroll_sideways_on_a_phone(browser, seeded, lang):
    stack, _ids = seeded
    with lang_page(browser, lang, width=390, height=844, is_mobile=True, has_touch=True) as page:
        login(page, stack)
        for name, path in OPS_PAGES.items():
            page.goto(stack.url(path))
            screenshot(page, f"after-phone-{name}-{lang}")
            found = sideways(page)
            assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), found
            assert found["page"] <= 0 and found["inner"] == [], (path, found)
        # Each person's row still names its columns once the table is stacked.
        page.goto(stack.url("/ops/spend/"))
        cell = page.locator("#people-h ~ .table-scroll tbody tr td").nth(2)
        label = cell.evaluate("td => getComputedStyle(td, '::before').content")
        assert label.strip('"') == {"en": "Spent", "zh": "已花费"}[lang], label


# --- Item 11: CSV downloads and the rest ----------------------------------------------------------


def read_csv(download) -> list[list[str]]:
    body = Path(download.path()).read_bytes().decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_gallery_downloads_the_ticked_videos_as_csv(browser, seeded, lang):
    stack, ids = seeded
    with lang_page(browser, lang, accept_downloads=True) as page:
        login(page, stack, "noor", "noor-pass-12345")  # anyone on the team, not only the owner
        page.goto(stack.url("/gallery/"))
        formula_tile = page.locator(f"#tile-{ids[0]}")
        other_tile = page.locator(f"#tile-{ids[5]}")
        formula_tile.get_by_label({"en": "Select", "zh": "选择"}[lang]).check()
        other_tile.get_by_label({"en": "Select", "zh": "选择"}[lang]).check()
        screenshot(page, f"after-gallery-selected-{lang}")
        # The box fits beside the favourite button: nothing of either is cut off by the tile.
        clipped = formula_tile.evaluate(
            """tile => { const edge = tile.getBoundingClientRect().right;
                return [...tile.querySelectorAll('.tile-foot > *')]
                    .filter(el => el.getBoundingClientRect().right > edge + 0.5).length; }"""
        )
        assert clipped == 0
        with page.expect_download() as info:
            page.get_by_role("button", name={"en": "Download CSV", "zh": "下载 CSV"}[lang]).click()
        header, *rows = read_csv(info.value)
        assert info.value.suggested_filename.startswith("soraweb-videos-")
        assert header[0] == {"en": "job", "zh": "任务"}[lang], header
        assert sorted(int(r[0]) for r in rows) == sorted([ids[0], ids[5]])
        formula_row = next(r for r in rows if int(r[0]) == ids[0])
        assert formula_row[4] == "'" + FORMULA_PROMPT  # text in a spreadsheet, not a formula

        # Nothing ticked: every video the filters find.
        page.goto(stack.url("/gallery/?q=take+31"))
        with page.expect_download() as info:
            page.get_by_role("button", name={"en": "Download CSV", "zh": "下载 CSV"}[lang]).click()
        _header, *rows = read_csv(info.value)
        assert [int(r[0]) for r in rows] == [ids[31]]

    # Signed out, the address sends a person to sign in rather than giving the list away.
    anonymous = requests.get(
        stack.url(f"/gallery.csv?job={ids[0]}"), allow_redirects=False, timeout=10
    )
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous.headers["Location"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_rest_of_item_11_works(browser, seeded, lang):
    """My jobs past 30, a notice read by opening it, the favicon and the batch CSV template: all
    there already, and this keeps them working in both languages (the rejected rows' download
    is tests/videos/test_batch_csv_files.py's)."""
    stack, ids = seeded
    with lang_page(browser, lang, accept_downloads=True) as page:
        login(page, stack)
        # The tab's icon is served.
        for icon in page.locator("link[rel=icon]").evaluate_all("ls => ls.map(l => l.href)"):
            assert requests.get(icon, timeout=10).status_code == 200, icon
        # My jobs: 30 at first, the older ones one click away.
        assert page.locator("#job-list .job-card").count() == 30
        page.get_by_role("link", name={"en": "Older jobs", "zh": "更早的任务"}[lang]).click()
        page.wait_for_function("() => document.querySelectorAll('#job-list .job-card').length > 30")
        # Opening the job a notice is about reads it: the bell counts one fewer.
        prompt = f"a notice to read in {lang}"
        manage(
            stack,
            "shell",
            "-c",
            "from django.contrib.auth.models import User\n"
            "from soraweb.ops.models import Notice\n"
            "from soraweb.videos.models import VideoJob\n"
            f"Notice.objects.create(user=User.objects.get(username='admin'), kind='succeeded', "
            f"job=VideoJob.objects.get(pk={ids[2] if lang == 'en' else ids[3]}), "
            f"prompt_excerpt={prompt!r})",
        )
        page.goto(stack.url("/notices/"))
        before = int(page.locator("#notice-bell .badge").inner_text())
        page.locator(".notice-item", has_text=prompt).get_by_role("link").click()
        page.wait_for_url(re.compile(r".*/jobs/\d+/$"))
        page.goto(stack.url("/notices/"))
        after = page.locator("#notice-bell .badge")
        assert (int(after.inner_text()) if after.count() else 0) == before - 1
        assert "notice-unread" not in (
            page.locator(".notice-item", has_text=prompt).get_attribute("class") or ""
        )
        # The batch page's template downloads, and so do the rows it rejected.
        page.goto(stack.url("/batch/"))
        with page.expect_download() as info:
            page.locator("#csv-template").click()
        assert "prompt" in Path(info.value.path()).read_text(encoding="utf-8-sig").splitlines()[0]


# --- Item 11: axe-core finds nothing serious ------------------------------------------------------

STUDIO_PAGES = [
    "/",
    "/batch/",
    "/gallery/",
    "/jobs/{job}/",
    "/jobs/{job}/delete/",
    "/notices/",
    "/accounts/password/",
    "/accounts/two-factor/",
    "/ops/",
    "/ops/spend/",
]
ADMIN_PAGES = [
    "/admin/",
    "/admin/videos/videojob/",
    "/admin/videos/videojob/{job}/change/",
    "/admin/videos/provider/",
    "/admin/videos/provider/add/",
    "/admin/videos/provider/1/change/",
    "/admin/videos/videomodel/",
    "/admin/videos/videomodel/1/change/",
    "/admin/videos/videomodel/add-from-preset/",
    "/admin/videos/videomodel/import/",
]


def axe_findings(page) -> list[dict]:
    page.add_script_tag(content=AXE)
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({rule: v.id, impact: v.impact,
                        where: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width", [1280, 390])
def test_axe_finds_nothing_serious_on_the_studio_and_the_admin(browser, seeded, lang, width):
    stack, ids = seeded
    # The page's own CSP would refuse the injected axe script; only this test's browser skips it.
    with lang_page(browser, lang, width=width, height=900, bypass_csp=True) as page:
        login(page, stack)
        found = {}
        for path in STUDIO_PAGES + ADMIN_PAGES:
            page.goto(stack.url(path.format(job=ids[1])))
            findings = axe_findings(page)
            if findings:
                found[path] = findings
        assert found == {}, found
