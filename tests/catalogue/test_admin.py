"""The catalogue in the admin: models edited with ordinary controls (never JSON text), presets
attached to a provider in two clicks, and the catalogue file imported and exported with
buttons, with the file's line-precise errors."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from soraweb.catalogue.presets import PRESETS_FILE
from soraweb.videos.models import Provider, VideoModel
from tests.catalogue.browserform import as_post, form_fields

pytestmark = pytest.mark.django_db
PRESETS = json.loads(PRESETS_FILE.read_text(encoding="utf-8"))["models"]
FORM = "videomodel_form"


@pytest.fixture
def boss(django_user_model):
    return django_user_model.objects.create_superuser(username="boss", password="pw-boss-123456")


@pytest.fixture
def admin_http(client, boss):
    client.force_login(boss)
    return client


def relay(fmt: str = "newapi", name: str = "") -> Provider:
    return Provider.objects.create(
        name=name or f"Relay {fmt}", base_url="https://relay.example.com/v1", wire_format=fmt
    )


def page_fields(http, url: str) -> dict[str, list[str]]:
    response = http.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    return as_post(form_fields(html, FORM))


def change_url(model: VideoModel) -> str:
    return reverse("admin:videos_videomodel_change", args=[model.pk])


@pytest.mark.parametrize("preset", PRESETS, ids=[m["id"] for m in PRESETS])
def test_opening_and_saving_a_preset_unchanged_keeps_its_entry(admin_http, preset):
    provider = relay(next(iter(preset["wire"])))
    model = VideoModel.objects.create(
        provider=provider, name=preset["name"], display_name=preset["label"]["en"], spec=preset
    )
    data = page_fields(admin_http, change_url(model))
    assert not any(name == "spec" for name in data)  # no JSON text box to edit
    response = admin_http.post(change_url(model), data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    model.refresh_from_db()
    assert model.spec == preset


def preset(preset_id: str) -> dict:
    return next(m for m in PRESETS if m["id"] == preset_id)


def attach(provider: Provider, preset_id: str) -> VideoModel:
    spec = preset(preset_id)
    return VideoModel.objects.create(
        provider=provider, name=spec["name"], display_name=spec["label"]["en"], spec=spec
    )


def param_prefix(data: dict[str, list[str]], name: str) -> str:
    key = next(
        k for k, v in data.items() if k.endswith("-name") and k.startswith("cat-p-") and v == [name]
    )
    return key.removesuffix("-name")


def test_duration_choices_and_a_price_row_are_edited_with_checkboxes_and_fields(admin_http):
    model = attach(relay("unified"), "veo-3.1")
    data = page_fields(admin_http, change_url(model))
    pre = param_prefix(data, "duration")
    assert data[f"{pre}-iv"] == ["4", "6", "8"]  # one ticked box per offered duration
    data[f"{pre}-iv"] = ["4", "8"]  # untick 6 seconds
    last_row = max(
        int(k.split("-")[2])
        for k, v in data.items()
        if k.startswith("cat-pr-") and k.endswith("-amount") and v != [""]
    )
    assert data[f"cat-pr-{last_row}-amount"] == ["0.20"]
    data[f"cat-pr-{last_row}-amount"] = ["0.25"]
    assert admin_http.post(change_url(model), data).status_code == 302
    model.refresh_from_db()
    duration = next(p for p in model.spec["params"] if p["name"] == "duration")
    assert duration["values"] == [4, 8]
    assert model.spec["price"]["rows"][-1] == {"amount": "0.25"}
    assert model.catalogue_spec().param("duration").values == (4, 8)


def test_a_broken_value_is_refused_next_to_its_row_in_words(admin_http):
    model = attach(relay("newapi"), "kling-3")
    data = page_fields(admin_http, change_url(model))
    pre = param_prefix(data, "mode")
    data[f"{pre}-default"] = ["ultra"]
    response = admin_http.post(change_url(model), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "each is shown next to its row" in html
    row = html[html.index(f'name="{pre}-name"') :]
    row = row[: row.index("</tbody>")]
    assert "default: must be one of std, pro" in row
    model.refresh_from_db()
    assert model.spec == preset("kling-3")  # nothing saved


def test_the_editor_shows_no_json_box_only_a_read_only_details_block(admin_http):
    model = attach(relay("newapi"), "wan-2.6")
    html = admin_http.get(change_url(model)).content.decode()
    assert "<textarea" not in html.split('id="catalogue-editor"')[1].split("cat-json")[0]
    assert "Show as JSON (for developers, read-only)" in html
    assert 'name="spec"' not in html


def offers_page(http, provider: Provider) -> str:
    url = reverse("admin:videos_videomodel_presets") + f"?provider={provider.pk}"
    response = http.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_presets_are_attached_to_a_provider_in_two_clicks(admin_http):
    provider = relay("unified")
    attach(provider, "veo-3.1")
    html = offers_page(admin_http, provider)
    sold = [m for m in PRESETS if "unified" in m["wire"]]
    for m in sold:
        assert m["label"]["en"] in html
    assert "Hailuo 02" not in html  # not sold in the unified format
    assert 'value="veo-3.1"' not in html  # already attached: shown, not offered again
    assert "already added" in html
    assert "prices differ between relays" in html
    response = admin_http.post(
        reverse("admin:videos_videomodel_presets"),
        {"provider": provider.pk, "preset": ["seedance-2.0", "kling-3", "veo-3.1"]},
    )
    assert response.status_code == 302
    names = set(provider.models.values_list("name", flat=True))
    assert names == {preset(i)["name"] for i in ("veo-3.1", "seedance-2.0", "kling-3")}
    made = provider.models.get(name=preset("kling-3")["name"])
    assert made.spec == preset("kling-3")


def test_the_presets_page_speaks_chinese(admin_http):
    provider = relay("newapi")
    admin_http.cookies["django_language"] = "zh-hans"
    html = admin_http.get(
        reverse("admin:videos_videomodel_presets") + f"?provider={provider.pk}",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    ).content.decode()
    assert "Grok Imagine 视频" in html
    assert "不同中转站的模型名称" in html


def test_the_provider_page_links_to_its_presets(admin_http):
    provider = relay("newapi")
    html = admin_http.get(
        reverse("admin:videos_provider_change", args=[provider.pk])
    ).content.decode()
    assert reverse("admin:videos_videomodel_presets") + f"?provider={provider.pk}" in html


BROKEN = """{
  "format": "soraweb-catalogue",
  "version": 1,
  "models": [
    {
      "name": "x-video",
      "params": [
        {"name": "duration", "type": "number", "values": [5]}
      ],
      "wire": {"newapi": {}}
    }
  ]
}
"""


def upload(http, provider: Provider, text: str, name: str = "catalogue.json"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return http.post(
        reverse("admin:videos_videomodel_import"),
        {
            "provider": provider.pk,
            "file": SimpleUploadedFile(name, text.encode(), "application/json"),
        },
    )


def test_a_broken_file_is_answered_with_its_lines_and_changes_nothing(admin_http):
    provider = relay("newapi")
    response = upload(admin_http, provider, BROKEN)
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        "line 8, column 38: models[0].params[0].type: must be one of choice, int, bool, text, slot"
        in html
    )
    assert not provider.models.exists()
    response = upload(admin_http, provider, '{"format": "soraweb-catalogue",\n  "models": [}')
    assert "line 2, column 14" in response.content.decode()


def test_import_shows_what_changes_then_imports_on_confirm(admin_http):
    provider = relay("newapi")
    kling = attach(provider, "kling-3")
    changed = json.loads(json.dumps(preset("kling-3")))
    changed["price"]["rows"][0]["amount"] = "0.99"
    doc = {"format": "soraweb-catalogue", "version": 1, "models": [changed, preset("vidu-q2")]}
    response = upload(admin_http, provider, json.dumps(doc, indent=2))
    html = response.content.decode()
    assert "will be changed" in html and "will be added" in html
    assert "The models go to Relay newapi." in html
    assert provider.models.count() == 1  # a preview only
    fields = as_post(form_fields(html))
    confirm = {k: v for k, v in fields.items() if k in ("provider", "text", "csrfmiddlewaretoken")}
    response = admin_http.post(
        reverse("admin:videos_videomodel_import"), {**confirm, "confirm": "1"}
    )
    assert response.status_code == 302
    kling.refresh_from_db()
    assert kling.spec["price"]["rows"][0]["amount"] == "0.99"
    assert provider.models.filter(name="viduq2").exists()


def test_export_downloads_what_the_command_writes(admin_http):
    from io import StringIO

    from django.core.management import call_command

    provider = relay("newapi", name="My relay")
    attach(provider, "kling-3")
    attach(provider, "wan-2.6")
    response = admin_http.get(
        reverse("admin:videos_videomodel_export") + f"?provider={provider.pk}"
    )
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="catalogue-my-relay.json"'
    out = StringIO()
    import sys

    real, sys.stdout = sys.stdout, out
    try:
        call_command("catalogue", "export", "--provider", "My relay")
    finally:
        sys.stdout = real
    assert response.content.decode() == out.getvalue()
    assert [m["id"] for m in json.loads(out.getvalue())["models"]] == ["kling-3", "wan-2.6"]


@pytest.mark.parametrize("page", ["presets", "import", "export"])
def test_catalogue_pages_need_staff_with_change_permission(client, django_user_model, page):
    url = reverse(f"admin:videos_videomodel_{page}")
    assert client.get(url).status_code == 302  # to the login page
    viewer = django_user_model.objects.create_user(
        username="v", password="pw-v-1234567", is_staff=True
    )
    viewer.user_permissions.add(Permission.objects.get(codename="view_videomodel"))
    client.force_login(viewer)
    assert client.get(url).status_code == 403
    assert client.post(url, {}).status_code == 403


def test_import_and_add_need_the_csrf_token(boss):
    from django.test import Client

    http = Client(enforce_csrf_checks=True)
    http.force_login(boss)
    provider = relay("newapi")
    for page in ("presets", "import"):
        response = http.post(
            reverse(f"admin:videos_videomodel_{page}"),
            {"provider": provider.pk, "preset": "kling-3"},
        )
        assert response.status_code == 403
    assert not provider.models.exists()


def test_a_row_written_the_old_way_opens_in_the_editor_and_saves_as_an_entry(admin_http):
    from tests.catalogue.test_app import legacy_model

    model = legacy_model(relay("unified"))
    before = model.catalogue_spec()
    data = page_fields(admin_http, change_url(model))
    assert admin_http.post(change_url(model), data).status_code == 302
    model.refresh_from_db()
    assert model.spec  # now a catalogue entry, offering what the old columns offered
    assert model.catalogue_spec() == before


def row_html(html: str, field_name: str, end: str) -> str:
    start = html.rindex("<tr", 0, html.index(f'name="{field_name}"'))
    return html[start : html.index(end, start)]


def test_price_and_wire_problems_are_shown_on_their_own_rows(admin_http):
    model = attach(relay("newapi"), "kling-3")
    data = page_fields(admin_http, change_url(model))
    data["cat-pr-1-amount"] = ["a lot"]
    data["cat-w-newapi-f-0-to"] = ["metadata..sound"]
    response = admin_http.post(change_url(model), data)
    assert response.status_code == 200
    html = response.content.decode()
    price_row = row_html(html, "cat-pr-1-amount", "</tr>")
    assert "must be a number written as a string, e.g. &quot;0.10&quot;" in price_row
    field_row = row_html(html, "cat-w-newapi-f-0-to", "</tr>")
    assert "to: write a field name, a dotted path" in field_row
    assert "must be a number" not in field_row
    assert 'value="a lot"' in price_row  # what was typed stays, to be corrected


def test_problems_are_said_in_chinese_for_a_chinese_admin(admin_http):
    model = attach(relay("newapi"), "kling-3")
    admin_http.cookies["django_language"] = "zh-hans"
    data = page_fields(admin_http, change_url(model))
    pre = param_prefix(data, "mode")
    data[f"{pre}-default"] = ["ultra"]
    html = admin_http.post(change_url(model), data).content.decode()
    assert "default: 必须是以下之一：std, pro" in html
    assert "每个问题都显示在对应的行旁边" in html
    response = upload(admin_http, relay("newapi", name="Other"), BROKEN)
    assert (
        "第 8 行第 38 列: models[0].params[0].type: 必须是以下之一：" in response.content.decode()
    )


def camera_cell(data: dict[str, list[str]], key: str) -> str:
    field = next(
        k for k, v in data.items() if k.endswith("-to") and v == ["metadata.camera_control"]
    ).removesuffix("-to")
    return next(
        k
        for k, v in data.items()
        if k.startswith(f"{field}-v-") and k.endswith("-key") and v == [key]
    ).removesuffix("-key")


def test_an_object_value_is_rows_of_parts_with_no_structured_or_json_input(admin_http):
    model = attach(relay("newapi"), "kling-3")
    html = admin_http.get(change_url(model)).content.decode()
    editor = html.split('id="catalogue-editor"')[1].split("cat-json")[0]
    assert 'value="json"' not in editor and "structured" not in editor
    data = as_post(form_fields(html, FORM))
    cell = camera_cell(data, "down_back")
    assert data[f"{cell}-kind"] == ["object"]
    assert data[f"{cell}-value"] == [""]  # no cell holds the object as text
    assert (data[f"{cell}-o-0-path"], data[f"{cell}-o-0-kind"]) == (["type"], ["text"])
    assert data[f"{cell}-o-0-value"] == ["down_back"]
    assert not [v for vs in data.values() for v in vs if is_json_group(v)]


def is_json_group(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict | list)
    except ValueError:
        return False


def test_a_wrong_part_is_refused_in_words_next_to_its_value(admin_http):
    model = attach(relay("newapi"), "kling-3")
    data = page_fields(admin_http, change_url(model))
    cell = camera_cell(data, "right_turn_forward")
    data |= {
        f"{cell}-o-1-path": ["config.zoom"],
        f"{cell}-o-1-kind": ["number"],
        f"{cell}-o-1-value": ["a bit"],
    }
    response = admin_http.post(change_url(model), data)
    assert response.status_code == 200
    html = response.content.decode()
    start = html.index(f'name="{cell}-kind"')
    block = html[start : html.index('<div class="cat-kv">', start)]  # up to the next value
    assert "config.zoom: “a bit” is not a number." in block
    model.refresh_from_db()
    assert model.spec == preset("kling-3")


def test_a_list_of_groups_is_refused_with_a_clear_message_not_edited(admin_http):
    spec = json.loads(json.dumps(preset("kling-3")))
    spec["wire"]["newapi"]["static"] = {"shots": [{"at": 0, "move": "pan"}]}
    model = VideoModel.objects.create(
        provider=relay("newapi"), name=spec["name"], display_name="Kling", spec=spec
    )
    html = admin_http.get(change_url(model)).content.decode()
    said = "“shots” is a list of groups of fields, which the editor does not take"
    assert said in html
    data = as_post(form_fields(html, FORM))
    response = admin_http.post(change_url(model), data)
    assert response.status_code == 200  # refused, not saved half-changed
    assert said in response.content.decode()
    model.refresh_from_db()
    assert model.spec == spec
    key = next(k for k, v in data.items() if k.endswith("-key") and v == ["shots"])
    data[key] = [""]  # remove it: the rest saves
    assert admin_http.post(change_url(model), data).status_code == 302
    model.refresh_from_db()
    assert "static" not in model.spec["wire"]["newapi"]
