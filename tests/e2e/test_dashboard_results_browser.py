"""What people said and how broadcasts went, on the dashboard, in Chromium.

The round of tests/e2e/dashboard_site.py: 14 people answered `top` (12 in
English, 2 in Spanish), 12 the rest. Results are suppressed as in a public
pack (counts under 10 show `<10`); a broadcast's failures are said in plain
words.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import test_dashboard_browser as browser_tests
from tests.e2e.dashboard_site import TOKEN, Site, running_dashboard
from tests.integration.broadcast_data import broadcast_with_failures

pytestmark = pytest.mark.e2e

from playwright.sync_api import Page  # noqa: E402

page = browser_tests.page  # a fresh Chromium page that may not leave the server
text = browser_tests.text


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with running_dashboard(tmp_path) as running:
        broadcast_with_failures(running.engine)
        yield running


def sign_in(browser: Page, site: Site) -> None:
    browser.goto(site.url + "/login")
    browser.fill("#token", TOKEN)
    browser.click("#sign-in")
    browser.wait_for_selector("#results")


def test_an_organizer_reads_what_people_said_per_question_suppressed_as_in_public(
    site: Site, page: tuple[Page, list[str]]
) -> None:
    browser, outside = page
    sign_in(browser, site)

    top = '#results article[data-question="top"]'
    assert text(browser, f"{top} h3") == "What matters most?"
    assert text(browser, f'{top} [data-field="n"]') == "n = 14"
    assert text(browser, f'{top} tr[data-option="Safety"] [data-field="count"]') == "14"
    assert text(browser, f'{top} tr[data-option="Safety"] [data-field="share"]') == "100%"
    assert text(browser, f'{top} tr[data-option="Reading"] [data-field="count"]') == "<10"
    assert browser.locator(f"{top} svg").count() == 1

    safe = '#results article[data-question="safe"]'
    assert text(browser, f'{safe} [data-field="mean"]') == "4.0"
    assert text(browser, f'{safe} [data-field="mean-n"]') == "12"

    rank = '#results article[data-question="rank"] tbody tr'
    assert browser.locator(rank).first.get_attribute("data-option") == "Reading"
    assert text(browser, f'{rank} [data-field="points"]') == "36"  # 12 first places × 3

    why = '#results article[data-question="why"]'
    assert text(browser, f'{why} li[data-theme] [data-field="size"]') == "12"
    assert "bus late" in text(browser, f"{why} blockquote")
    assert "under 10 shows as <10" in text(browser, "#results > p")
    assert outside == []


def test_broadcast_failures_are_said_in_plain_words(
    site: Site, page: tuple[Page, list[str]]
) -> None:
    browser, _ = page
    sign_in(browser, site)

    row = "#broadcasts tr[data-broadcast]"
    assert text(browser, f'{row} [data-field="state"]') == "sending"
    assert text(browser, f'{row} [data-field="sent"]') == "2"
    assert text(browser, f'{row} [data-field="waiting"]') == "2"
    assert text(browser, f'{row} [data-field="failed"]') == "1"
    gone = text(browser, '#broadcasts li[data-code="30005"]')
    assert gone.startswith("1 not sent (sms): The number does not exist")
    retry = text(browser, '#broadcasts li[data-code="30003"]')
    assert "waiting to be retried" in retry and "tried again" in retry
    assert "Unknown destination handset" not in text(browser, "#broadcasts")  # no raw errors
