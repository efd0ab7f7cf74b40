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


def test_the_page_opens_on_the_activity_answered_last_not_the_first_listed(
    site: Site, client: httpx.Client
) -> None:
    from bot.authoring.activities import parse_activity
    from bot.services.inbound import utcnow
    from storage.activities import store_activity

    # Listed before the one families are answering, and newer: nobody has answered it.
    source = "key: a-first-survey\nkind: survey\ntitle: Early\nquestions:\n  - key: q\n    type: free_text\n    prompt: Why?\n"
    store_activity(site.engine, parse_activity(source, "x.yaml"), source, utcnow())
    page = client.get("/")

    assert 'class="current">priorities</a>' in page.text
    assert 'id="tile-answers"><div class="number">74<' in page.text


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


def test_an_exchange_shows_waiting_ideas_top_and_consensus_and_the_opinion_map(
    site: Site, client: httpx.Client
) -> None:
    from bot.authoring.activities import parse_activity
    from bot.services.inbound import utcnow
    from storage.activities import store_activity
    from tests.integration.exchange_data import seed_exchange

    source = "key: ideas\nkind: exchange\ntitle: Ideas\nprompt: What would help?\n"
    store_activity(site.engine, parse_activity(source, "x.yaml"), source, utcnow())
    seed_exchange(
        site.engine,
        "ideas",
        school="lincoln-es",
        pending=("Call me at 555-010-0199 <now>", "More art"),
    )
    page = client.get("/", params={"activity": "ideas"})

    assert page.status_code == 200
    assert not re.search(r"(src|href)=\"https?://", page.text) and "<script" not in page.text
    section = page.text[page.text.index('<section id="exchange">') :]
    assert '<span id="ideas-waiting-count">2</span> waiting' in section
    assert "⚑ phone: 555-010-0199" in section and "&lt;now&gt;" in section
    assert "720 reactions from 60 people" in section
    top = re.search(r'<ol id="ideas-top">(.*?)</ol>', section)
    consensus = re.search(r'<ol id="ideas-consensus">(.*?)</ol>', section)
    assert top and consensus
    # The ideas every group likes (0-3) are the consensus, and come first.
    assert set(re.findall(r'data-idea="(\d+)"', consensus.group(1))) <= {"0", "1", "2", "3"}
    assert set(re.findall(r'data-idea="(\d+)"', top.group(1))[:4]) == {"0", "1", "2", "3"}
    opinion_map = re.search(r'<div id="opinion-map"><svg (.*?)</svg>', section, re.S)
    assert opinion_map is not None
    assert len(re.findall(r"<circle ", opinion_map.group(1))) == 60
    assert "group A: 30" in opinion_map.group(1) and "group B: 30" in opinion_map.group(1)
    language = re.search(r'<table id="ideas-by-language">(.*?)</table>', section, re.S)
    assert language and '<tr data-language="es"><td>es</td><td class="n">20</td>' in language.group(
        1
    )
    school = re.search(r'<table id="ideas-by-school">(.*?)</table>', section, re.S)
    assert school and '<td class="n">60</td><td class="n">720</td><td class="n">40</td>' in (
        school.group(1)
    )


def test_the_inbox_shows_open_threads_by_age_and_owner_and_the_promise_kept(
    site: Site, client: httpx.Client
) -> None:
    from datetime import datetime

    from storage.inbox import SqlInbox

    # A second thread, answered within a day of arriving: in time.
    with site.engine.begin() as connection:
        first = connection.execute(select(models.LetsTalk)).first()
        assert first is not None
        connection.execute(
            models.LetsTalk.__table__.insert(),
            {
                "participant_id": first.participant_id,
                "contact_id": first.contact_id,
                "text": "Thanks for the new crossing guard",
                "language": "es",
                "status": "resolved",
                "created_at": datetime(2026, 9, 7, 14, 0),
                "first_response_at": datetime(2026, 9, 7, 16, 0),
                "resolved_at": datetime(2026, 9, 7, 16, 0),
                "slack_channel": "C0INBOX",
                "slack_ts": "1.2",
                "owner": "U0OWNER",
            },
        )
    SqlInbox(site.engine).claim(first.id, "U0ANA", datetime(2026, 9, 2, 15, 0))
    page = client.get("/")
    assert page.status_code == 200
    section = page.text[page.text.index('<section id="inbox-promise">') :]
    section = section[: section.index("</section>")]
    assert 'data-field="overdue">1<' in section
    assert f'<tr data-thread="{first.id}" class="overdue"><td>{first.id}</td>' in section
    assert "<td>U0ANA</td><td>lincoln-es</td><td>en</td>" in section
    assert "<li>U0ANA: 1</li>" in section
    assert '<tr data-language="en"><td>en</td><td class="n">0</td><td class="n">1</td>' in section
    assert '<tr data-language="es"><td>es</td><td class="n">1</td><td class="n">0</td>' in section
    assert '50% <span class="muted">(1 of 2)</span>' in section


def test_the_inbound_queue_is_shown_and_a_late_one_is_news(
    site: Site, client: httpx.Client
) -> None:
    from datetime import timedelta

    from bot.core.messages import Channel
    from bot.ports import QueuedKind
    from bot.services.inbound import utcnow
    from storage.inbound_queue import SqlInboundQueue

    assert 'id="tile-inbound-queued"><div class="number">0<' in client.get("/").text
    # Rows of a kind no process here handles: they wait, as behind a stopped engine.
    queue = SqlInboundQueue(site.engine)
    for n in range(3):
        queue.put(
            Channel.SLACK,
            f"e:Ev{n}",
            QueuedKind.SLACK,
            "slack:U1",
            {},
            utcnow() - timedelta(minutes=5),
        )
    page = client.get("/").text
    assert 'id="tile-inbound-queued"><div class="number">3<' in page
    assert '<div class="error" id="inbound-behind"><strong>Replies are behind</strong>' in page
    assert re.search(r"3 messages wait, the oldest for 30\d seconds", page)
