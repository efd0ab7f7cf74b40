"""The dashboard in a real headless Chromium (Debian's, driven by Playwright).

An organizer signs in (a wrong token first), reads the numbers, and plans a
follow-up to the under-represented group. Every request the page makes must
stay on the server: nothing from a CDN.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlalchemy import select

from storage import models
from tests.e2e.dashboard_site import TOKEN, Site, running_dashboard

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("ENGAGE_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not os.environ.get("CI"):
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.skip("Debian's chromium is not installed", allow_module_level=True)
    pytest.importorskip("playwright.sync_api")

from playwright.sync_api import Page, Route, sync_playwright  # noqa: E402


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with running_dashboard(tmp_path) as running:
        yield running


@pytest.fixture
def page(site: Site) -> Iterator[tuple[Page, list[str]]]:
    """A fresh browser page; the list collects requests that tried to leave the server."""
    outside: list[str] = []
    server = urlparse(site.url).netloc

    def only_our_server(route: Route) -> None:
        if urlparse(route.request.url).netloc == server:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        context.route("**/*", only_our_server)
        try:
            yield context.new_page(), outside
        finally:
            context.close()
            browser.close()


def text(page: Page, selector: str) -> str:
    return page.locator(selector).first.inner_text().strip()


def test_an_organizer_signs_in_reads_the_numbers_and_plans_a_follow_up(
    site: Site, page: tuple[Page, list[str]]
) -> None:
    browser, outside = page
    browser.goto(site.url + "/")
    assert browser.url.endswith("/login")

    browser.fill("#token", "not-the-token")
    with browser.expect_response(lambda r: r.url.endswith("/login")) as refused:
        browser.click("#sign-in")
    response: Any = refused.value
    assert response.status == 401
    assert "not right" in text(browser, "#login-error")

    browser.fill("#token", TOKEN)
    browser.click("#sign-in")
    browser.wait_for_selector("#counts")
    assert text(browser, "#tile-started .number") == "17"
    assert text(browser, "#tile-answers .number") == "74"
    assert text(browser, "#tile-inbox-open .number") == "1"
    assert text(browser, '#counts tr[data-activity="priorities"] [data-field="answers"]') == "74"
    assert browser.locator("#funnel tr[data-question]").count() == 6
    assert text(browser, '#funnel tr[data-question="top"] [data-field="reached"]') == "14"
    gap = '#representation tr.flag[data-group="adams-ms/es"]'
    assert text(browser, f'{gap} [data-field="respondents"]') == "2"
    assert browser.locator("#representation svg").count() == 1
    assert browser.locator("#over-time svg").count() == 1

    browser.click("#follow-up")
    browser.wait_for_selector("#notice")
    assert "1 group(s)" in text(browser, "#notice")
    assert "3 people" in text(browser, "#notice")
    browser.click("#follow-ups summary")
    assert "school=adams-ms,language=es,role=parent,not-answered=priorities" in text(
        browser, "#follow-ups"
    )
    assert outside == []
    with site.engine.connect() as connection:
        entry = connection.execute(
            select(models.AuditEntry.__table__).where(
                models.AuditEntry.action == "follow_up.planned"
            )
        ).one()
    assert entry.detail["groups"] == [["adams-ms", "es", "parent"]]
    assert entry.actor.startswith("dashboard:127.0.0.1")
