"""Many videos at once in a real browser: prompts one per line, and a CSV with a rejected row."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login, screenshot

pytestmark = pytest.mark.browser

CSV = """prompt,model,orientation,size,duration
A lighthouse in a storm,Sora 2 Pro,landscape,large,15
A fox in the snow,,portrait,,
A dragon over the city,Veo 9,,,
"""


def test_a_batch_from_lines_and_from_a_csv_with_a_report_per_row(page, stack, tmp_path):
    login(page, stack)
    page.get_by_role("link", name="Many at once").click()
    page.get_by_role("heading", name="Create many videos").wait_for()

    page.get_by_label("Prompts, one per line").fill(
        "A red kite over green hills\n\nA blue boat on a lake\nA green tree in the wind"
    )
    # The estimate counts the lines as they are typed or pasted.
    page.wait_for_function(
        "() => document.querySelector('#estimate').innerText.includes('for 3 videos')"
    )
    page.get_by_label("Aspect ratio").select_option("16:9")
    assert "$3.00" in page.locator("#estimate").inner_text()
    page.get_by_role("button", name="Create all").click()
    report = page.locator("#batch-report")
    report.get_by_text("3 videos started").wait_for()
    assert report.get_by_role("link", name="Job").count() == 3
    # The heading of the report gets focus, so keyboard and screen reader users land on it.
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.id === 'report-title'"
    )
    for prompt in [
        "A red kite over green hills",
        "A blue boat on a lake",
        "A green tree in the wind",
    ]:
        page.locator(".job-card", has_text=prompt).wait_for()
    assert (
        page.get_by_label("Prompts, one per line").input_value() == ""
    )  # ready for the next batch

    csv_path = tmp_path / "storyboard.csv"
    csv_path.write_text(CSV, encoding="utf-8")
    page.get_by_label("Or a CSV file").set_input_files(csv_path)
    page.get_by_role("button", name="Create all").click()
    report.get_by_text("2 videos started").wait_for()
    assert report.get_by_text("1 row rejected").is_visible()
    rejected = report.locator("tr.row-bad")
    assert rejected.count() == 1
    assert rejected.locator("td").first.inner_text() == "4"
    assert "Unknown model “Veo 9”; use one of: Sora 2, Sora 2 Pro." in rejected.inner_text()
    page.locator(".job-card", has_text="A lighthouse in a storm").wait_for()
    screenshot(page, "batch-report-desktop")

    for prompt in ["A red kite over green hills", "A fox in the snow", "A lighthouse in a storm"]:
        page.locator('.job-card[data-state="succeeded"]', has_text=prompt).wait_for(timeout=90_000)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "batch-report-phone")
