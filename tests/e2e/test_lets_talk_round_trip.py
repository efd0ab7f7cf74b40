"""Let's Talk, both ways: a family's SMS becomes a thread in the Slack inbox, a staff reply
in that thread goes back to them by SMS, and the thread is resolved and timed."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage import models
from tests.e2e.chat_bot import (
    INBOX,
    SLACK_FIXTURES,
    ChatBot,
    eventually,
    fixture,
    running_bot,
)

pytestmark = pytest.mark.e2e

FAMILY = "+15550100177"
COMPLAINT = "Los autobuses siempre llegan tarde a Lincoln"


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[ChatBot]:
    with running_bot(tmp_path, twilio=True, slack=True) as bot:
        yield bot


class Family:
    def __init__(self, bot: ChatBot) -> None:
        self.bot = bot

    def texts(self, body: str) -> None:
        self.bot.sms(body, FAMILY)

    def received(self) -> list[str]:
        return self.bot.texts_to(FAMILY)


def inbox_posts(bot: ChatBot) -> list[dict[str, Any]]:
    assert bot.slack is not None
    return [c for c in bot.slack.called("chat.postMessage") if c.get("channel") == INBOX]


def resolved_update(bot: ChatBot) -> dict[str, Any] | None:
    """The last chat.update that shows a thread resolved, if any."""
    assert bot.slack is not None
    updates = [u for u in bot.slack.called("chat.update") if "Resolved by" in json.dumps(u)]
    return updates[-1] if updates else None


def staff_reply(text: str, thread_ts: str, event_id: str) -> dict[str, Any]:
    data = copy.deepcopy(fixture(SLACK_FIXTURES, "message__thread_reply"))
    data["event_id"] = event_id
    data["event"].update(text=text, thread_ts=thread_ts)
    return data


def onboarded_family(bot: ChatBot) -> Family:
    family = Family(bot)
    for body in ["Hola", "2", "sí", "1", "lincoln"]:
        family.texts(body)
    eventually(lambda: any("bienvenido" in b for b in family.received()))
    return family


def test_an_sms_thread_in_slack_and_a_staff_reply_by_sms(bot: ChatBot) -> None:
    family = onboarded_family(bot)
    family.texts(COMPLAINT)
    eventually(lambda: len(inbox_posts(bot)) == 1)
    [post] = inbox_posts(bot)
    assert post["text"].startswith("Let's Talk from P-")
    header = post["blocks"][0]["elements"][0]["text"]
    assert header.endswith(" · Lincoln Elementary · parent · ES · SMS")
    assert post["blocks"][1]["text"]["text"] == COMPLAINT
    # Slack has the post a moment before the row records where it went.
    eventually(lambda: bot.rows(models.LetsTalk)[0].slack_channel == INBOX)
    [item] = bot.rows(models.LetsTalk)
    assert item.slack_ts and not item.slack_ts.startswith("lease")

    note = staff_reply("note: I will ask transportation first", item.slack_ts, "Ev9000")
    assert bot.slack_event(note).status_code == 200
    event = staff_reply("Gracias, agregaremos una ruta en octubre.", item.slack_ts, "Ev9001")
    assert bot.slack_event(event).status_code == 200
    answer = "Equipo de Riverside Plan 2030: Gracias, agregaremos una ruta en octubre."
    eventually(lambda: answer in family.received())
    # Slack retries the same event: the family still gets one answer.
    bot.slack_event(event, headers={"X-Slack-Retry-Num": "1"})
    eventually(lambda: [r.status for r in bot.rows(models.Outbox)][-1] == "sent")
    assert family.received().count(answer) == 1
    assert not any("transportation" in b for b in family.received())

    [item] = bot.rows(models.LetsTalk)
    assert item.first_response_at is not None and item.first_response_at >= item.created_at
    [audit] = [a for a in bot.rows(models.AuditEntry) if a.action == "lets_talk.reply"]
    assert (audit.actor, audit.detail["item"]) == ("slack:U0STAFF", item.id)
    outgoing = [m for m in bot.rows(models.Message) if m.direction == "out" and answer == m.body]
    assert len(outgoing) == 1

    # The family answers back: it joins the same thread.
    family.texts("Muchas gracias, eso ayudaría mucho a mi familia")
    eventually(lambda: len(inbox_posts(bot)) == 2)
    assert inbox_posts(bot)[1]["thread_ts"] == item.slack_ts
    # Slack has the post before the row records where it went.
    eventually(lambda: [row.slack_ts for row in bot.rows(models.LetsTalk)] == [item.slack_ts] * 2)

    resolve = copy.deepcopy(fixture(SLACK_FIXTURES, "block_actions__resolve"))
    resolve["actions"][0]["value"] = f"lets_talk:resolve:{item.id}"
    resolve["container"]["message_ts"] = item.slack_ts
    assert bot.slack_interaction(resolve).status_code == 200
    eventually(lambda: all(r.status == "resolved" for r in bot.rows(models.LetsTalk)))
    assert {r.resolved_by for r in bot.rows(models.LetsTalk)} == {"U0STAFF"}
    assert bot.slack is not None
    eventually(lambda: resolved_update(bot) is not None)
    update = resolved_update(bot)
    assert update is not None and (update["channel"], update["ts"]) == (INBOX, item.slack_ts)
    assert "Resolved by <@U0STAFF>" in update["blocks"][-1]["elements"][0]["text"]


def test_a_reply_to_a_family_that_opted_out_is_not_sent(bot: ChatBot) -> None:
    family = onboarded_family(bot)
    family.texts(COMPLAINT)
    eventually(lambda: len(inbox_posts(bot)) == 1)
    family.texts("PARAR")
    eventually(lambda: any("Ya no le mandaremos" in b for b in family.received()))
    count = len(family.received())
    [item] = bot.rows(models.LetsTalk)
    bot.slack_event(staff_reply("Lo sentimos mucho.", item.slack_ts, "Ev9101"))
    eventually(lambda: len([p for p in inbox_posts(bot) if "Not sent" in p["text"]]) == 1)
    assert len(family.received()) == count
    assert not [r for r in bot.rows(models.Outbox) if r.kind == "staff_reply"]


def test_a_reply_in_a_thread_that_is_not_an_inbox_item_changes_nothing(bot: ChatBot) -> None:
    bot.slack_event(staff_reply("Sounds good", "1700000000.000001", "Ev9201"))
    other = staff_reply("Sounds good", "1726500000.000200", "Ev9202")
    other["event"]["channel"] = "C0GENERAL"
    bot.slack_event(other)
    time.sleep(0.5)
    assert bot.rows(models.Outbox) == []
    assert [a.action for a in bot.rows(models.AuditEntry)] == ["activity.load"]


def test_the_inbox_command_lists_open_threads_with_links(bot: ChatBot) -> None:
    family = onboarded_family(bot)
    family.texts(COMPLAINT)
    eventually(lambda: len(inbox_posts(bot)) == 1)
    # The post is made before its thread is written down (the row holds a lease till then).
    eventually(lambda: not bot.rows(models.LetsTalk)[0].slack_ts.startswith("lease:"))
    [item] = bot.rows(models.LetsTalk)
    form = {**fixture(SLACK_FIXTURES, "command__engage_stats"), "text": "inbox"}
    bot.slack_command(form)
    assert bot.slack is not None
    eventually(lambda: len(bot.slack.called("response_url")) == 1)  # type: ignore[union-attr]
    text = bot.slack.called("response_url")[0]["text"]
    assert text.startswith("*Let's Talk inbox*: 1 open, 1 without a reply")
    link = f"https://district.slack.com/archives/{INBOX}/p{item.slack_ts.replace('.', '')}"
    assert link in text and "Lincoln" not in text.split("\n")[0]
    assert "Answered within the reply promise" not in text  # nothing answered or overdue yet

    bot.slack_event(staff_reply("Lo revisamos.", item.slack_ts, "Ev9501"))
    eventually(lambda: bot.rows(models.LetsTalk)[0].first_response_at is not None)
    bot.slack_command(form)
    eventually(lambda: len(bot.slack.called("response_url")) == 2)  # type: ignore[union-attr]
    text = bot.slack.called("response_url")[1]["text"]
    assert "\nAnswered within the reply promise: 100% (1 of 1); 0 open past it.\n" in text
    assert "· <@U0STAFF>, " in text  # the first to reply holds the thread


def test_thanks_after_a_reply_closes_the_thread_and_opens_no_new_one(bot: ChatBot) -> None:
    family = onboarded_family(bot)
    family.texts(COMPLAINT)
    eventually(lambda: len(inbox_posts(bot)) == 1)
    eventually(lambda: not bot.rows(models.LetsTalk)[0].slack_ts.startswith("lease:"))
    [item] = bot.rows(models.LetsTalk)
    bot.slack_event(staff_reply("Agregaremos una ruta en octubre.", item.slack_ts, "Ev9301"))
    eventually(lambda: any("octubre" in b for b in family.received()))
    count = len(family.received())

    family.texts("gracias 👍")
    eventually(lambda: len(inbox_posts(bot)) == 2)
    assert inbox_posts(bot)[1]["thread_ts"] == item.slack_ts
    eventually(lambda: all(r.status == "resolved" for r in bot.rows(models.LetsTalk)))
    assert {r.resolved_by for r in bot.rows(models.LetsTalk)} == {"family"}
    assert [r.kind for r in bot.rows(models.LetsTalk)] == ["message", "closing"]
    assert bot.slack is not None
    eventually(lambda: resolved_update(bot) is not None)
    update = resolved_update(bot)
    assert update is not None
    assert "Resolved by the family's thanks" in update["blocks"][-1]["elements"][0]["text"]

    # Another thank-you, with no open thread left: kept, but no new ticket.
    family.texts("ok")
    eventually(lambda: len(bot.rows(models.LetsTalk)) == 3)
    eventually(lambda: bot.rows(models.LetsTalk)[2].status == "resolved")
    time.sleep(0.3)
    assert len(inbox_posts(bot)) == 2
    assert len(family.received()) == count


def tap(
    value: str, message_ts: str, user: str = "U0STAFF", ephemeral: bool = False
) -> dict[str, Any]:
    data = copy.deepcopy(fixture(SLACK_FIXTURES, "block_actions__claim"))
    data["actions"][0]["value"] = value
    data["actions"][0]["action_ts"] = str(time.time())
    data["user"]["id"] = user
    data["container"].update(message_ts=message_ts, is_ephemeral=ephemeral)
    return data


def test_a_claimed_thread_asks_a_second_staff_member_before_sending(bot: ChatBot) -> None:
    assert bot.slack is not None
    family = onboarded_family(bot)
    family.texts(COMPLAINT)
    eventually(lambda: len(inbox_posts(bot)) == 1)
    eventually(lambda: not bot.rows(models.LetsTalk)[0].slack_ts.startswith("lease:"))
    [item] = bot.rows(models.LetsTalk)
    bot.slack_interaction(tap(f"lets_talk:claim:{item.id}", item.slack_ts))
    eventually(lambda: bot.rows(models.LetsTalk)[0].claimed_by == "U0STAFF")
    eventually(lambda: len(bot.slack.called("chat.update")) == 1)  # type: ignore[union-attr]
    [update] = bot.slack.called("chat.update")
    assert "Claimed by <@U0STAFF>" in json.dumps(update["blocks"])

    second = staff_reply("Hola, soy la directora.", item.slack_ts, "Ev9401")
    second["event"]["user"] = "U0ORGANIZER"
    bot.slack_event(second)
    eventually(lambda: len(bot.slack.called("chat.postEphemeral")) == 1)  # type: ignore[union-attr]
    [ask] = bot.slack.called("chat.postEphemeral")
    assert (ask["user"], ask["thread_ts"]) == ("U0ORGANIZER", item.slack_ts)
    assert ask["text"].startswith("<@U0STAFF> has claimed this thread")
    blocks = ask["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    choices = [element["value"] for element in blocks[-1]["elements"]]
    assert choices == ["lets_talk:send:Ev9401", "lets_talk:note:Ev9401"]
    time.sleep(0.3)
    assert not any("directora" in b for b in family.received())

    bot.slack_interaction(
        tap("lets_talk:send:Ev9401", item.slack_ts, user="U0ORGANIZER", ephemeral=True)
    )
    eventually(lambda: any("directora" in b for b in family.received()))
    eventually(lambda: len(bot.slack.called("response_url")) == 1)  # type: ignore[union-attr]
    assert bot.slack.called("response_url")[0]["text"] == ":white_check_mark: Sent to the family."

    reassign = copy.deepcopy(fixture(SLACK_FIXTURES, "block_actions__reassign"))
    reassign["actions"][0]["block_id"] = f"lets_talk:{item.id}"
    reassign["container"]["message_ts"] = item.slack_ts
    bot.slack_interaction(reassign)
    eventually(lambda: bot.rows(models.LetsTalk)[0].claimed_by == "U0ORGANIZER")
    assert bot.rows(models.LetsTalk)[0].owner == "U0ORGANIZER"
    eventually(
        lambda: any("handed this thread to <@U0ORGANIZER>" in p["text"] for p in inbox_posts(bot))
    )
