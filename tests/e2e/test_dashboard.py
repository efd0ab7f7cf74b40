"""The dashboard over HTTP under uvicorn: sign-in, rate limit, sessions, no CDN, follow-up."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from storage import models
from tests.e2e.dashboard_site import TOKEN, Site, running_dashboard

pytestmark = pytest.mark.e2e


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with running_dashboard(tmp_path) as running:
        yield running


@pytest.fixture
def client(site: Site) -> Iterator[httpx.Client]:
    """Signed in."""
    with httpx.Client(base_url=site.url, timeout=10) as signed_in:
        response = signed_in.post("/login", data={"token": TOKEN})
        assert response.status_code == 303
        yield signed_in


def test_without_a_token_configured_the_dashboard_is_off(tmp_path: Path) -> None:
    with running_dashboard(tmp_path, token=None) as off:
        home = httpx.get(off.url + "/")
        login = httpx.post(off.url + "/login", data={"token": ""})

    assert home.status_code == 404
    assert "ENGAGE_ADMIN_TOKEN" in home.text
    assert login.status_code == 404


def test_the_page_needs_a_session(site: Site) -> None:
    response = httpx.get(site.url + "/")
    forged = httpx.get(site.url + "/", cookies={"engage_session": "9999999999.x.deadbeef"})

    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert forged.status_code == 303


def test_a_wrong_token_is_refused_and_then_rate_limited(site: Site) -> None:
    answers = [
        httpx.post(site.url + "/login", data={"token": f"guess-{n}"}).status_code for n in range(5)
    ]
    limited = httpx.post(site.url + "/login", data={"token": TOKEN})

    assert answers == [401] * 5
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "900"
    assert "engage_session" not in limited.cookies
    with site.engine.connect() as connection:
        failures = connection.execute(
            select(func.count()).where(models.AuditEntry.action == "dashboard.login_failed")
        ).scalar_one()
    assert failures == 5


def test_the_page_shows_live_numbers_without_anything_from_the_internet(
    client: httpx.Client,
) -> None:
    page = client.get("/")

    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<script" not in page.text
    assert not re.search(r"(src|href)=\"https?://", page.text)
    assert 'data-field="answers">74<' in page.text
    assert 'id="tile-started"><div class="number">17<' in page.text
    assert "under-represented" in page.text
    # Let's Talk text is escaped, never markup.
    assert "bus &lt;stop&gt;?" in page.text


def test_an_unknown_activity_is_a_404_page(client: httpx.Client) -> None:
    page = client.get("/", params={"activity": "nope"})

    assert page.status_code == 404
    assert "No activity named" in page.text


def test_the_follow_up_form_needs_its_token(site: Site, client: httpx.Client) -> None:
    stale = client.post("/follow-up", data={"activity": "priorities", "csrf": "old"})
    anonymous = httpx.post(site.url + "/follow-up", data={"activity": "priorities"})

    assert stale.status_code == 303
    assert "problem=csrf" in stale.headers["location"]
    assert anonymous.status_code == 401
    with site.engine.connect() as connection:
        plans = connection.execute(
            select(func.count()).where(models.AuditEntry.action == "follow_up.planned")
        ).scalar_one()
    assert plans == 0


def test_signing_out_ends_the_session(client: httpx.Client) -> None:
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert csrf is not None
    client.post("/logout", data={"csrf": csrf.group(1)})

    assert client.get("/").status_code == 303


def test_a_paused_channel_is_shown_with_why(site: Site, client: httpx.Client) -> None:
    from datetime import datetime

    from bot.core.messages import Channel
    from storage.channel_pauses import SqlChannelPauses

    since = datetime(2026, 9, 1, 15, 0)
    SqlChannelPauses(site.engine).pause(Channel.TELEGRAM, "fp", "401", since, since)
    page = client.get("/")
    assert page.status_code == 200
    assert '<div class="error" id="paused-telegram"><strong>TELEGRAM is paused</strong>' in (
        page.text
    )
    assert "Telegram refused TELEGRAM_BOT_TOKEN" in page.text
    assert "wait in the queue" in page.text
