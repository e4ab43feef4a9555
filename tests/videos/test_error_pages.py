"""403, 404 and 500 pages inside the site's look, in the reader's language, with a way back; the
500 page renders with nothing but the language (no database, no request context)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.template import loader
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


@override_settings(DEBUG=False)
def test_404_is_in_the_layout_translated_and_leads_back(client, member):
    client.force_login(member)
    response = client.get("/no-such-page/", **ZH)
    html = response.content.decode()
    assert response.status_code == 404
    assert '<html lang="zh-hans">' in html and 'class="site-header"' in html  # the site's layout
    assert "这个页面不存在" in html and "找不到页面 · soraweb" in html
    assert '<a class="btn btn-primary" href="/">返回工作室</a>' in html
    assert "Not Found" not in html


@override_settings(DEBUG=False)
def test_404_for_someone_signed_out_and_in_english(client):
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "This page does not exist" in html and "Back to the studio" in html
    assert "Open the gallery" not in html  # a signed-out visitor could not open it


@override_settings(DEBUG=False)
def test_a_missing_job_is_the_same_page(client, member):
    client.force_login(member)
    response = client.get(reverse("videos:job_detail", args=[999]), **ZH)
    assert response.status_code == 404 and "这个页面不存在" in response.content.decode()


@override_settings(DEBUG=False)
def test_403_is_in_the_layout_translated_and_says_why(client, member):
    client.force_login(member)
    response = client.get(reverse("two_factor"), **ZH)  # for staff only
    html = response.content.decode()
    assert response.status_code == 403
    assert 'class="site-header"' in html and "你无权打开这个页面" in html
    assert "两步" in html  # the reason the view gave, in Chinese
    assert "返回工作室" in html and "403 Forbidden" not in html


@override_settings(DEBUG=False, ROOT_URLCONF="tests.videos.error_urls")
def test_500_is_styled_translated_and_self_contained(member):
    client = Client(raise_request_exception=False)
    client.force_login(member)
    response = client.get("/broken/", **ZH)
    html = response.content.decode()
    assert response.status_code == 500
    assert '<html lang="zh-hans">' in html and "/static/css/app." in html
    assert (
        "我们这边出了问题" in html and '<a class="btn btn-primary" href="/">返回工作室</a>' in html
    )
    assert "a bug in a view" not in html and "Traceback" not in html


def test_the_500_page_needs_no_database_and_no_request():
    with translation.override("zh-hans"), CaptureQueriesContext(connection) as queries:
        html = loader.get_template("500.html").render({})
    assert "我们这边出了问题" in html and not queries.captured_queries


@override_settings(DEBUG=False)
def test_a_refused_form_says_so_in_the_readers_language(member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post(reverse("time_zone"), {"time_zone": "UTC"}, **ZH)
    html = response.content.decode()
    assert response.status_code == 403
    assert "这个表单已失效" in html and "/static/css/app." in html
