"""The batch page offers a CSV template to start from, and after a batch the rejected rows as a
CSV to fix and send again (soraweb reads it back, ignoring the "reason" column)."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import unquote

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from tests.videos.test_batch import batch_data, csv_upload, post
from tests.videos.test_batch import no_submit as no_submit  # the fixture

pytestmark = pytest.mark.django_db


def test_the_batch_page_links_a_template_that_soraweb_itself_accepts(client, member):
    client.force_login(member)
    html = client.get(reverse("videos:batch")).content.decode()
    href = re.search(
        r'id="csv-template" href="(/static/csv/batch-template\.[0-9a-f]{12}\.csv)"', html
    )
    assert href, "no template link"
    with open(finders.find("csv/batch-template.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["prompt"] for r in rows][:1] == ["A red kite over green hills"]


def test_the_rejected_rows_download_holds_exactly_those_rows(client, member, no_submit):  # noqa: F811
    client.force_login(member)
    text = (
        'prompt,model\nA red kite over green hills,\nA boat,Veo 9\n"A quote, with a comma",Veo 9\n'
    )
    response = post(client, batch_data(csv_file=csv_upload(text)), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    href = re.search(r'id="rejected-rows" href="data:text/csv;charset=utf-8,([^"]+)"', html)
    assert href, html[:2000]
    rows = list(csv.reader(io.StringIO(unquote(href.group(1)).lstrip("\ufeff"))))
    assert rows[0] == ["prompt", "reason"]
    assert [r[0] for r in rows[1:]] == ["A boat", "A quote, with a comma"]
    assert all("Veo 9" in r[1] for r in rows[1:])
