"""English and Simplified Chinese: the browser's language is respected, the switcher works before
signing in, and the committed catalogue is complete, consistent and compiled."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.translation.template import templatize

from soraweb.videos.management.commands.compiletranslations import po_files

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "soraweb/locale/zh_Hans/LC_MESSAGES/django.po"

# The studio's own files: every string in them must be in the catalogue and translated. (Other
# parts of soraweb add strings that are translated when they are finished; the .mo check below
# covers the whole catalogue.)
STUDIO_TEMPLATES = [
    *sorted((ROOT / "templates/videos").glob("*.html")),
    *sorted((ROOT / "templates/registration").glob("*.html")),
]
STUDIO_PYTHON = [
    ROOT / "soraweb/videos" / name
    for name in ("forms.py", "views.py", "selectors.py", "images.py", "templatetags/studio.py")
]


def _key(entry) -> tuple:
    return (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")


def _value(entry):
    if entry.msgid_plural:
        return tuple(v for _, v in sorted(entry.msgstr_plural.items()))
    return entry.msgstr


# --- the browser's language, and the switcher ------------------------------------------------------


@pytest.mark.django_db
def test_a_browser_asking_for_zh_cn_gets_chinese(client):
    html = client.get(
        reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.8"
    ).content.decode()
    assert '<html lang="zh-hans">' in html
    assert "<h1>登录</h1>" in html and ">用户名</label>" in html
    html = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9").content.decode()
    assert "<h1>Sign in</h1>" in html


@pytest.mark.django_db
def test_the_switcher_works_before_signing_in_and_wins_over_the_browser(client):
    html = client.get(reverse("login")).content.decode()
    assert 'action="/language/"' in html and 'name="language" value="zh-hans"' in html
    assert '<span class="lang-long">简体中文</span>' in html
    response = client.post(
        reverse("videos:set_language"), {"language": "zh-hans", "next": "/accounts/login/"}
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    html = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h1>登录</h1>" in html
    assert 'value="zh-hans" lang="zh-hans" class="lang-btn" aria-pressed="true"' in html
    # Somewhere else is never a place to be sent back to.
    response = client.post(
        reverse("videos:set_language"), {"language": "en", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_signed_in_pages_and_messages_from_code_are_chinese(client, member):
    client.force_login(member)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    html = client.get(reverse("videos:studio")).content.decode()
    for text in [
        "创建视频",
        ">提示词</label>",
        ">生成</button>",
        "我的任务",
        "9:16 竖屏",  # the catalogue's label of portrait for Sora 2
        "预计费用：",
    ]:
        assert text in html, text
    response = client.post(reverse("videos:studio"), {"prompt": " "}, HTTP_HX_REQUEST="true")
    assert "请描述你想要的视频。" in response.content.decode()


# --- the catalogue ------------------------------------------------------------------------------


def test_every_compiled_catalogue_matches_its_po_file():
    """The .mo files are committed (a machine without GNU gettext still runs translated), so one
    that was not recompiled after its .po changed would silently show old or English text."""
    assert po_files(), "no .po files found"
    for po_path in po_files():
        mo_path = po_path.with_suffix(".mo")
        assert mo_path.exists(), f"{mo_path} is missing: run `make messages`"
        po = polib.pofile(str(po_path))
        mo = polib.mofile(str(mo_path))
        want = {_key(e): _value(e) for e in po.translated_entries()}
        have = {_key(e): _value(e) for e in mo if e.msgid}
        assert have == want, (
            f"{mo_path} is stale: run `make messages` (or manage.py compiletranslations)"
        )
        assert mo.metadata.get("Plural-Forms") == po.metadata.get("Plural-Forms")


def test_translations_keep_every_placeholder():
    po = polib.pofile(str(PO))
    assert po.metadata["Plural-Forms"].startswith("nplurals=1;")
    assert not po.metadata_is_fuzzy
    placeholder = re.compile(r"%%?\(\w+\)[sd]|<[^>]+>")
    for entry in po.translated_entries():
        for text in (entry.msgstr,) if not entry.msgid_plural else entry.msgstr_plural.values():
            assert sorted(placeholder.findall(text)) == sorted(
                placeholder.findall(entry.msgid_plural or entry.msgid)
            ), entry.msgid


def _template_strings(path: Path) -> set[str]:
    code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
    literal = r"u?('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    found = set()
    for match in re.finditer(rf"\b(?:gettext|ngettext|pgettext|npgettext|_)\(\s*{literal}", code):
        found.add(ast.literal_eval(match.group(1)))
    return found


def _python_strings(path: Path) -> set[str]:
    names = {
        "_",
        "gettext",
        "gettext_lazy",
        "ngettext",
        "ngettext_lazy",
        "pgettext",
        "pgettext_lazy",
    }
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) in names
        ):
            args = node.args[1:] if getattr(node.func, "id", "").startswith("p") else node.args
            if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
                found.add(args[0].value)
    return found


def test_every_string_of_the_studio_is_in_the_catalogue_and_translated():
    """Checked without GNU gettext: the strings are read the way makemessages reads them."""
    po = polib.pofile(str(PO))
    translated = {e.msgid for e in po.translated_entries()}
    strings = set()
    for path in STUDIO_TEMPLATES:
        strings |= _template_strings(path)
    for path in STUDIO_PYTHON:
        strings |= _python_strings(path)
    assert len(strings) > 150  # the extraction really found the studio's strings
    missing = sorted(s for s in strings if s not in translated)
    assert not missing, f"untranslated (run `make messages`, then translate): {missing}"
