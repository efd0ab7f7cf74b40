"""Slack end to end: signed events, commands and taps into the app under uvicorn, the
Web API called through slack_sdk against a fake Slack on loopback."""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage import models
from tests.e2e.chat_bot import SLACK_FIXTURES, ChatBot, eventually, fixture, running_bot

pytestmark = pytest.mark.e2e

SURVEY = "family-priorities-2026"


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[ChatBot]:
    with running_bot(tmp_path, slack=True) as bot:
        yield bot


def api(bot: ChatBot, method: str) -> list[dict[str, Any]]:
    assert bot.slack is not None
    return bot.slack.called(method)


def dm(text: str, event_id: str, user: str = "U0STAFF") -> dict[str, Any]:
    data = copy.deepcopy(fixture(SLACK_FIXTURES, "message__im"))
    data["event_id"] = event_id
    data["event"].update(text=text, user=user, ts=f"{time.time():.6f}")
    return data


def tap(payload: str, action_ts: str) -> dict[str, Any]:
    data = copy.deepcopy(fixture(SLACK_FIXTURES, "block_actions__answer_button"))
    data["actions"][0].update(value=payload, action_ts=action_ts)
    return data


def command(text: str, user: str = "U0ORGANIZER") -> dict[str, str]:
    form = fixture(SLACK_FIXTURES, "command__engage_stats")
    return {**form, "text": text, "user_id": user}


def responses(bot: ChatBot) -> list[dict[str, Any]]:
    return api(bot, "response_url")


def posted_texts(bot: ChatBot) -> list[str]:
    return [str(call.get("text", "")) for call in api(bot, "chat.postMessage")]


def test_the_url_verification_handshake_is_answered(bot: ChatBot) -> None:
    response = bot.slack_event(fixture(SLACK_FIXTURES, "url_verification__handshake"))
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_a_staff_member_takes_the_survey_in_a_dm(bot: ChatBot) -> None:
    assert bot.slack_event(dm("hola", "Ev1001")).status_code == 200
    eventually(lambda: len(api(bot, "chat.postMessage")) == 1)
    [welcome] = api(bot, "chat.postMessage")
    assert welcome["channel"] == "D0STAFF"
    assert welcome["text"].startswith("¡Hola! Le escribe Riverside Plan 2030.")
    buttons = welcome["blocks"][-1]["elements"]
    assert [b["value"] for b in buttons] == ["language:en", "language:es", "language:vi"]
    [participant] = bot.rows(models.Participant)
    assert (participant.role, participant.name) == ("staff", "María López")
    assert api(bot, "users.info") == [{"user": "U0STAFF", "include_locale": "1"}]
    for n, payload in enumerate(["language:es", "onboard:consent:yes"]):
        assert bot.slack_interaction(tap(payload, f"1726500400.{n}")).status_code == 200
        eventually(lambda n=n: len(api(bot, "chat.postMessage")) == n + 2)
    bot.slack_event(dm("kennedy", "Ev1002"))
    eventually(lambda: any("bienvenido" in t for t in posted_texts(bot)))
    bot.slack_interaction(tap(f"q:{SURVEY}:connected:5", "1726500400.9"))
    eventually(lambda: bool(bot.rows(models.Response)))
    assert [(r.question, r.value, r.channel) for r in bot.rows(models.Response)] == [
        ("connected", 5, "slack")
    ]
    # The tapped buttons give way to what was chosen.
    eventually(lambda: len(api(bot, "chat.update")) == 3)
    assert api(bot, "chat.update")[-1]["blocks"][-1]["elements"][0]["text"] == (
        ":ballot_box_with_check: 4"
    )
    assert len(api(bot, "users.info")) == 1


@pytest.mark.parametrize(
    "options",
    [{"secret": "not-the-secret"}, {"age": 301}, {"headers": {"X-Slack-Signature": "v0=00"}}],
    ids=["wrong-secret", "stale", "forged"],
)
def test_unsigned_or_stale_requests_are_refused(bot: ChatBot, options: dict[str, Any]) -> None:
    response = bot.slack_event(dm("hola", "Ev2001"), **options)
    assert response.status_code == 401
    time.sleep(0.3)
    assert bot.rows(models.Message) == [] and api(bot, "chat.postMessage") == []


def test_a_retried_event_changes_nothing(bot: ChatBot) -> None:
    event = dm("hola", "Ev3001")
    assert bot.slack_event(event).status_code == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert bot.slack_event(event, headers=retry).status_code == 200
    eventually(lambda: len(api(bot, "chat.postMessage")) == 1)
    time.sleep(0.5)
    assert len(api(bot, "chat.postMessage")) == 1
    assert [m.direction for m in bot.rows(models.Message)] == ["in", "out"]


def test_the_ack_does_not_wait_for_a_busy_database(bot: ChatBot) -> None:
    locker = sqlite3.connect(bot.runtime.engine.url.database or "", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        response = bot.slack_event(dm("hola", "Ev4001"))
        assert response.status_code == 200 and time.monotonic() - started < 1.0
    finally:
        locker.rollback()
        locker.close()
    eventually(lambda: len(api(bot, "chat.postMessage")) == 1, timeout=15)


@pytest.mark.parametrize(
    "name",
    [
        "message__im_from_other_bot",
        "message__im_bot_without_subtype",
        "message__im_changed",
        "message__im_deleted",
        "message__channel_top_level",
        "message__channel_join",
        "message__other_workspace",
        "app_mention__inbox",
        "app_home_opened__messages_tab",
    ],
)
def test_events_we_do_not_act_on_get_a_quiet_200(bot: ChatBot, name: str) -> None:
    response = bot.slack_event(fixture(SLACK_FIXTURES, name))
    assert response.status_code == 200
    time.sleep(0.3)
    assert bot.rows(models.Message) == []
    assert api(bot, "chat.postMessage") == [] and api(bot, "users.info") == []


@pytest.mark.parametrize(
    "name", ["view_submission__modal", "block_actions__link_button"], ids=["modal", "link"]
)
def test_interactions_we_do_not_act_on_are_acknowledged(bot: ChatBot, name: str) -> None:
    assert bot.slack_interaction(fixture(SLACK_FIXTURES, name)).status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"payload=%7Bbroken", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/json"),
    ],
    ids=["broken-json", "json-list", "broken-payload", "not-utf8"],
)
def test_malformed_bodies_never_get_a_5xx(bot: ChatBot, body: bytes, content_type: str) -> None:
    assert bot.slack_post(body, content_type).status_code == 200


def test_engage_help_is_shown_to_anyone(bot: ChatBot) -> None:
    assert bot.slack_command(command("help", user="U0STAFF")).status_code == 200
    eventually(lambda: len(responses(bot)) == 1)
    assert responses(bot)[0]["text"].startswith("*/engage*")


def test_engage_stats_counts_an_activity(bot: ChatBot) -> None:
    bot.slack_command(command(f"stats {SURVEY}", user="U0STAFF"))
    eventually(lambda: len(responses(bot)) == 1)
    assert responses(bot)[0]["text"] == (
        f"*Family priorities for our schools* (`{SURVEY}` v1, open): "
        "0 started, 0 finished, 0 answers"
    )
    bot.slack_command(command("stats nothing-like-it", user="U0STAFF"))
    eventually(lambda: len(responses(bot)) == 2)
    assert (
        responses(bot)[1]["text"] == f"No activity named `nothing-like-it`. Activities: `{SURVEY}`."
    )


@pytest.mark.parametrize("verb", ["broadcast family-priorities-2026", "inbox"])
def test_only_organizers_may_broadcast_or_see_the_inbox(bot: ChatBot, verb: str) -> None:
    bot.slack_command(command(verb, user="U0STAFF"))
    eventually(lambda: len(responses(bot)) == 1)
    assert responses(bot)[0]["text"].startswith("Only organizers can")
    assert "U0STAFF" in responses(bot)[0]["text"]


def test_a_broadcast_is_previewed_then_confirmed_by_a_tap(bot: ChatBot) -> None:
    # Two staff members in Slack make an audience.
    bot.slack_event(dm("hello", "Ev5001", user="U0STAFF"))
    bot.slack_event(dm("hello", "Ev5002", user="U0ORGANIZER"))
    eventually(lambda: len(bot.rows(models.Contact)) == 2)
    bot.slack_command(command(f"broadcast {SURVEY} role=staff"))
    eventually(lambda: len(responses(bot)) == 1)
    preview = responses(bot)[0]
    assert "*2 people* (2 by slack)" in preview["text"]
    assert "Nothing is sent until you confirm." in preview["text"]
    assert bot.rows(models.Broadcast) == []
    confirm = preview["blocks"][-1]["elements"][0]
    assert re.fullmatch(rf"broadcast:confirm:[\w-]{{12}}\|{SURVEY}\|role=staff", confirm["value"])
    action = tap(confirm["value"], "1726500500.1")
    action["user"]["id"] = "U0ORGANIZER"
    action["container"]["is_ephemeral"] = True
    assert bot.slack_interaction(action).status_code == 200
    eventually(lambda: len(responses(bot)) == 2)
    done = responses(bot)[1]
    assert done["replace_original"] is True
    assert done["text"].startswith("Broadcast #1 of *Family priorities for our schools* is queued")
    broadcast, *reminders = bot.rows(models.Broadcast)
    assert (broadcast.kind, broadcast.created_by) == ("activity", "slack:U0ORGANIZER")
    assert [r.reminder_of for r in reminders] == [broadcast.id]

    # The same tap again (Slack retrying, a double click, a replay): nothing more.
    again = tap(confirm["value"], "1726500500.2")
    again["user"]["id"] = "U0ORGANIZER"
    assert bot.slack_interaction(again).status_code == 200
    eventually(lambda: len(responses(bot)) == 3)
    assert responses(bot)[2]["text"].startswith("Broadcast #1 of")
    assert "already queued by this button" in responses(bot)[2]["text"]
    assert len(bot.rows(models.Broadcast)) == 1 + len(reminders)


def test_a_confirm_button_without_its_nonce_has_expired(bot: ChatBot) -> None:
    action = tap(f"broadcast:confirm:{SURVEY}|all", "1726500600.2")
    action["user"]["id"] = "U0ORGANIZER"
    bot.slack_interaction(action)
    eventually(lambda: len(responses(bot)) == 1)
    assert responses(bot)[0]["text"] == "That button has expired."
    assert bot.rows(models.Broadcast) == []


def test_a_confirm_tap_from_a_non_organizer_is_refused(bot: ChatBot) -> None:
    action = tap(f"broadcast:confirm:n0nce|{SURVEY}|all", "1726500600.1")
    bot.slack_interaction(action)
    eventually(lambda: len(responses(bot)) == 1)
    assert responses(bot)[0]["text"].startswith("Only organizers can broadcast")
    assert bot.rows(models.Broadcast) == []


def test_members_of_the_organizer_group_are_organizers(tmp_path: Path) -> None:
    with running_bot(tmp_path, slack=True, slack_organizer_group="S0PLANNING") as bot:
        assert bot.slack is not None
        bot.slack.groups["S0PLANNING"] = ["U0STAFF"]
        bot.slack_command(command("inbox", user="U0STAFF"))
        eventually(lambda: len(responses(bot)) == 1)
        assert responses(bot)[0]["text"].startswith("*Let's Talk inbox*: 0 open")
        assert api(bot, "usergroups.users.list") == [{"usergroup": "S0PLANNING"}]


def test_slack_rate_limits_are_retried_after_retry_after(bot: ChatBot) -> None:
    assert bot.slack is not None
    bot.slack.fail_next("chat.postMessage", "429")
    bot.slack_event(dm("hola", "Ev6001"))
    eventually(lambda: [r.status for r in bot.rows(models.Outbox)] == ["sent"], timeout=15)
    assert len(api(bot, "chat.postMessage")) == 2


def test_a_dm_to_a_deactivated_user_fails_for_good(bot: ChatBot) -> None:
    assert bot.slack is not None
    bot.slack.fail_next("chat.postMessage", "user_disabled")
    bot.slack_event(dm("hola", "Ev7001"))
    eventually(lambda: [r.status for r in bot.rows(models.Outbox)] == ["failed"])
    [contact] = bot.rows(models.Contact)
    assert contact.invalid_at is not None


def test_unknown_slash_commands_are_answered(bot: ChatBot) -> None:
    form = {**command("whatever"), "command": "/other"}
    assert bot.slack_command(form).status_code == 200


def test_a_command_payload_is_json_safe(bot: ChatBot) -> None:
    bot.slack_command(command("stats", user="U0STAFF"))
    eventually(lambda: len(responses(bot)) == 1)
    json.dumps(responses(bot)[0])
