"""The dashboard over HTTP under uvicorn: sign-in, rate limit, sessions, no CDN, follow-up."""

from __future__ import annotations

import re
import time
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


def sign_in(url: str, token: str, **headers: str) -> tuple[int, float]:
    started = time.monotonic()
    response = httpx.post(url + "/login", data={"token": token}, headers=headers, timeout=30)
    return response.status_code, time.monotonic() - started


def test_wrong_tokens_slow_the_next_attempts_but_the_right_one_still_gets_in(
    site: Site,
) -> None:
    first = [sign_in(site.url, f"guess-{n}") for n in range(5)]
    slowed = sign_in(site.url, "guess-5")
    right = sign_in(site.url, TOKEN)

    assert [status for status, _ in first] == [401] * 5
    assert max(took for _, took in first) < 1
    assert slowed[0] == 401 and slowed[1] >= 1  # the sixth waits 1 s
    assert right[0] == 303 and right[1] >= 2  # the seventh 2 s, and is let in
    with site.engine.connect() as connection:
        actions = connection.execute(
            select(models.AuditEntry.action).where(models.AuditEntry.actor == "ip:127.0.0.1")
        ).scalars()
        assert sorted(actions) == ["dashboard.login"] + ["dashboard.login_failed"] * 6


def test_a_forged_forwarded_for_does_not_dodge_the_count(site: Site) -> None:
    for n in range(5):
        assert sign_in(site.url, "guess", **{"X-Forwarded-For": f"203.0.113.{n}"})[0] == 401

    status, took = sign_in(site.url, "guess", **{"X-Forwarded-For": "198.51.100.7"})

    assert status == 401 and took >= 1


def test_forwarded_for_is_believed_from_the_proxies_named(tmp_path: Path) -> None:
    with running_dashboard(tmp_path, forwarded_allow_ips="127.0.0.1") as behind_proxy:
        for _ in range(5):
            sign_in(behind_proxy.url, "guess", **{"X-Forwarded-For": "203.0.113.9"})
        status, took = sign_in(behind_proxy.url, TOKEN, **{"X-Forwarded-For": "198.51.100.7"})

    assert status == 303 and took < 1  # another family's address is not slowed


def test_https_pages_ask_browsers_to_stay_on_https(tmp_path: Path) -> None:
    with running_dashboard(tmp_path, public_url="https://plan.district.example.org") as secure:
        page = httpx.get(secure.url + "/login")

    assert page.headers["strict-transport-security"] == "max-age=31536000"


def test_a_token_over_plain_http_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with running_dashboard(tmp_path, public_url="http://plan.district.example.org") as site:
        page = httpx.get(site.url + "/login")

    assert "strict-transport-security" not in page.headers
    assert "dashboard.insecure_public_url" in caplog.messages


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


def test_signing_out_needs_its_form_token_and_ends_the_session_everywhere(
    client: httpx.Client,
) -> None:
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert csrf is not None
    cookie = client.cookies["engage_session"]

    forged = client.post("/logout", data={"csrf": "forged"})
    assert "problem=csrf" in forged.headers["location"]
    assert client.get("/").status_code == 200  # still signed in

    client.post("/logout", data={"csrf": csrf.group(1)})
    assert client.get("/").status_code == 303
    # The old cookie, replayed, is refused: the session was revoked on the server.
    replayed = httpx.get(str(client.base_url) + "/", cookies={"engage_session": cookie})
    assert (replayed.status_code, replayed.headers["location"]) == (303, "/login")


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
