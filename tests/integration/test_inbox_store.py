"""The Let's Talk inbox in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from bot.core.consent import ConsentChange, ConsentKind, ConsentSource
from bot.core.messages import Channel
from bot.core.routing import Route
from bot.core.staff import ClaimOutcome, ItemStatus, ReplyOutcome, StaffReply
from bot.core.urgency import Assessment, Concern, Urgency
from storage import models
from storage.inbox import SqlInbox
from storage.linking import SqlLinkUnitOfWork

NOW = datetime(2026, 9, 1, 15, 0)
LEASE = timedelta(minutes=2)
PHONE = "+15550100001"


def family(engine: Engine, phone: str = PHONE) -> tuple[int, int]:
    with SqlLinkUnitOfWork(engine) as uow:
        sender = uow.add_sender(Channel.SMS, phone, NOW)
        uow.commit()
    return sender.participant_id, sender.contact_id


def lets_talk(
    engine: Engine,
    text: str,
    phone: str = PHONE,
    at: datetime = NOW,
    assessment: Assessment | None = None,
) -> int:
    with SqlLinkUnitOfWork(engine) as uow:
        sender = uow.find_sender(Channel.SMS, phone)
        assert sender is not None
        item = uow.add_lets_talk(sender, None, text, "es", at, assessment)
        uow.commit()
    return item


def reply(ts: str, event: str, text: str = "We hear you") -> StaffReply:
    return StaffReply("C0INBOX", ts, "U0STAFF", text, event)


def test_items_are_leased_once_until_the_lease_runs_out(engine: Engine) -> None:
    family(engine)
    first = lets_talk(engine, "The buses are late")
    inbox = SqlInbox(engine)
    [item] = inbox.claim_unposted(NOW, 10, LEASE)
    assert (item.id, item.text, item.language, item.channel) == (
        first,
        "The buses are late",
        "es",
        "sms",
    )
    assert inbox.claim_unposted(NOW + timedelta(minutes=1), 10, LEASE) == []
    [again] = inbox.claim_unposted(NOW + timedelta(minutes=3), 10, LEASE)
    assert again.id == first
    inbox.mark_posted(first, "C0INBOX", "1726500000.000200")
    assert inbox.claim_unposted(NOW + timedelta(hours=1), 10, LEASE) == []


def test_a_follow_up_joins_the_open_thread_and_not_a_resolved_one(engine: Engine) -> None:
    family(engine)
    inbox = SqlInbox(engine)
    first = lets_talk(engine, "The buses are late")
    inbox.claim_unposted(NOW, 10, LEASE)
    inbox.mark_posted(first, "C0INBOX", "1.1")
    lets_talk(engine, "And the stop has no light", at=NOW + timedelta(minutes=5))
    [follow_up] = inbox.claim_unposted(NOW + timedelta(minutes=5), 10, LEASE)
    assert follow_up.thread_ts == "1.1"
    inbox.mark_posted(follow_up.id, "C0INBOX", "1.1")
    resolved = inbox.resolve(first, "U0STAFF", NOW + timedelta(hours=1))
    assert resolved is not None and resolved.status is ItemStatus.RESOLVED
    with engine.connect() as connection:
        statuses = connection.execute(select(models.LetsTalk.__table__.c.status)).scalars().all()
    assert statuses == ["resolved", "resolved"]
    lets_talk(engine, "Thanks for fixing it", at=NOW + timedelta(hours=2))
    [fresh] = inbox.claim_unposted(NOW + timedelta(hours=2), 10, LEASE)
    assert fresh.thread_ts is None


def test_a_staff_reply_is_queued_once_and_times_the_thread(engine: Engine) -> None:
    _, contact_id = family(engine)
    inbox = SqlInbox(engine)
    item = lets_talk(engine, "The buses are late")
    inbox.claim_unposted(NOW, 10, LEASE)
    inbox.mark_posted(item, "C0INBOX", "1.1")
    later = NOW + timedelta(minutes=42)
    compose = lambda language, said: f"[{language}] Team: {said}"  # noqa: E731
    assert inbox.add_staff_reply(reply("1.1", "Ev1"), compose, later) is ReplyOutcome.QUEUED
    assert inbox.add_staff_reply(reply("1.1", "Ev1"), compose, later) is ReplyOutcome.DUPLICATE
    assert inbox.add_staff_reply(reply("9.9", "Ev2"), compose, later) is ReplyOutcome.NOT_A_THREAD
    with engine.connect() as connection:
        rows = connection.execute(select(models.Outbox.__table__)).all()
    assert [(r.contact_id, r.kind, r.body, r.dedup_key) for r in rows] == [
        (contact_id, "staff_reply", "[es] Team: We hear you", "slack:Ev1")
    ]
    summary = inbox.summary(later)
    assert (summary.open, summary.unanswered) == (1, 0)
    assert summary.median_first_response == timedelta(minutes=42)
    assert summary.items[0].first_response_at == later


def test_a_reply_to_an_opted_out_family_is_refused(engine: Engine) -> None:
    family(engine)
    inbox = SqlInbox(engine)
    item = lets_talk(engine, "The buses are late")
    inbox.claim_unposted(NOW, 10, LEASE)
    inbox.mark_posted(item, "C0INBOX", "1.1")
    with SqlLinkUnitOfWork(engine) as uow:
        sender = uow.find_sender(Channel.SMS, PHONE)
        assert sender is not None
        stop = ConsentChange(ConsentKind.OPT_OUT, ConsentSource.KEYWORD, words="STOP")
        uow.record_consent(sender, stop, None, NOW)
        uow.commit()
    outcome = inbox.add_staff_reply(reply("1.1", "Ev1"), lambda language, said: "x", NOW)
    assert outcome is ReplyOutcome.OPTED_OUT


def test_an_urgent_follow_up_starts_its_own_thread_for_the_people_on_call(engine: Engine) -> None:
    family(engine)
    inbox = SqlInbox(engine)
    first = lets_talk(engine, "The buses are late")
    inbox.claim_unposted(NOW, 10, LEASE)
    route = Route("transportation", "C0BUS", "U0BUSES", "U0LEAD", ("transportation",))
    due = NOW + timedelta(days=2)
    inbox.mark_posted(first, "C0BUS", "1.1", route, due, due - timedelta(hours=4))
    urgent = Assessment(Urgency.URGENT, (Concern.BULLYING,), ("being bullied",))
    later = NOW + timedelta(minutes=5)
    lets_talk(engine, "My son is being bullied on the bus", at=later, assessment=urgent)
    [item] = inbox.claim_unposted(later, 10, LEASE)
    assert item.thread_ts is None and item.is_urgent and item.concerns == ("bullying",)
    inbox.mark_posted(item.id, "C0URGENT", "2.2")
    lets_talk(engine, "He is at the nurse now", at=later, assessment=urgent)
    [joined] = inbox.claim_unposted(later, 10, LEASE)
    assert (joined.thread_channel, joined.thread_ts) == ("C0URGENT", "2.2")
    root = inbox.item(first)
    assert root is not None
    assert (root.team, root.owner, root.topics, root.due_at) == (
        "transportation",
        "U0BUSES",
        ("transportation",),
        due,
    )


def posted_thread(engine: Engine) -> tuple[SqlInbox, int]:
    family(engine)
    inbox = SqlInbox(engine)
    first = lets_talk(engine, "The buses are late")
    inbox.claim_unposted(NOW, 10, LEASE)
    inbox.mark_posted(first, "C0INBOX", "1.1")
    return inbox, first


def compose(language: str | None, said: str) -> str:
    return f"Team: {said}"


def staff_replies(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                models.InboxReply.__table__.c.author, models.InboxReply.__table__.c.status
            ).order_by(models.InboxReply.__table__.c.id)
        ).all()
    return [(row.author, row.status) for row in rows]


def queued_bodies(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(models.Outbox.__table__.c.body)).scalars())


def test_two_staff_replying_at_once_send_the_family_one_answer(engine: Engine) -> None:
    inbox, first = posted_thread(engine)
    start = threading.Barrier(2)
    outcomes: dict[str, ReplyOutcome] = {}

    def answer(author: str) -> None:
        start.wait()
        said = StaffReply("C0INBOX", "1.1", author, f"This is {author}", f"Ev-{author}")
        outcomes[author] = inbox.add_staff_reply(said, compose, NOW + timedelta(minutes=5))

    threads = [threading.Thread(target=answer, args=(a,)) for a in ("U0ANA", "U0BEN")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == sorted([ReplyOutcome.QUEUED, ReplyOutcome.HELD])
    winner = next(a for a, o in outcomes.items() if o is ReplyOutcome.QUEUED)
    loser = next(a for a, o in outcomes.items() if o is ReplyOutcome.HELD)
    assert queued_bodies(engine) == [f"Team: This is {winner}"]
    item = inbox.item(first)
    assert item is not None and item.claimed_by == winner
    assert sorted(staff_replies(engine)) == sorted([(winner, "sent"), (loser, "held")])

    # The held reply's author decides: keep it among staff.
    later = NOW + timedelta(minutes=6)
    assert inbox.release_held(f"Ev-{loser}", loser, False, compose, later) is ReplyOutcome.INTERNAL
    assert inbox.release_held(f"Ev-{loser}", loser, True, compose, later) is ReplyOutcome.DUPLICATE
    assert queued_bodies(engine) == [f"Team: This is {winner}"]


def test_a_held_reply_sent_anyway_goes_out_once(engine: Engine) -> None:
    inbox, first = posted_thread(engine)
    later = NOW + timedelta(minutes=5)
    assert inbox.add_staff_reply(reply("1.1", "Ev1"), compose, later) is ReplyOutcome.QUEUED
    other = StaffReply("C0INBOX", "1.1", "U0OTHER", "Also: route 7 changes", "Ev2")
    assert inbox.add_staff_reply(other, compose, later) is ReplyOutcome.HELD
    assert inbox.add_staff_reply(other, compose, later) is ReplyOutcome.DUPLICATE
    assert inbox.release_held("Ev2", "U0OTHER", True, compose, later) is ReplyOutcome.QUEUED
    assert inbox.release_held("Ev2", "U0OTHER", True, compose, later) is ReplyOutcome.DUPLICATE
    assert queued_bodies(engine) == ["Team: We hear you", "Team: Also: route 7 changes"]
    assert staff_replies(engine) == [("U0STAFF", "sent"), ("U0OTHER", "sent")]


def test_one_claim_at_a_time_and_reassign_hands_it_over(engine: Engine) -> None:
    inbox, first = posted_thread(engine)
    outcome, item = inbox.claim(first, "U0ANA", NOW)
    assert outcome is ClaimOutcome.CLAIMED and item is not None and item.claimed_by == "U0ANA"
    assert inbox.claim(first, "U0ANA", NOW)[0] is ClaimOutcome.CLAIMED
    outcome, item = inbox.claim(first, "U0BEN", NOW)
    assert outcome is ClaimOutcome.HELD and item is not None and item.claimed_by == "U0ANA"
    # Ben's reply waits while Ana holds the thread.
    ben = StaffReply("C0INBOX", "1.1", "U0BEN", "Hi", "Ev3")
    assert inbox.add_staff_reply(ben, compose, NOW) is ReplyOutcome.HELD
    outcome, item = inbox.reassign(first, "U0BEN", "U0ANA", NOW)
    assert outcome is ClaimOutcome.CLAIMED and item is not None
    assert (item.claimed_by, item.owner) == ("U0BEN", "U0BEN")
    again = StaffReply("C0INBOX", "1.1", "U0BEN", "Hi again", "Ev4")
    assert inbox.add_staff_reply(again, compose, NOW) is ReplyOutcome.QUEUED
    inbox.resolve(first, "U0BEN", NOW)
    assert inbox.claim(first, "U0ANA", NOW)[0] is ClaimOutcome.RESOLVED
    assert inbox.claim(999, "U0ANA", NOW) == (ClaimOutcome.NOT_FOUND, None)


def test_a_follow_up_after_the_open_period_starts_a_new_thread(engine: Engine) -> None:
    family(engine)
    inbox = SqlInbox(engine, thread_window=timedelta(days=7))
    first = lets_talk(engine, "The buses are late")
    inbox.claim_unposted(NOW, 10, LEASE)
    inbox.mark_posted(first, "C0INBOX", "1.1")
    week = NOW + timedelta(days=6)
    lets_talk(engine, "Still late", at=week)
    [joined] = inbox.claim_unposted(week, 10, LEASE)
    assert joined.thread_ts == "1.1"
    inbox.mark_posted(joined.id, "C0INBOX", "1.1")
    # The open period runs from the family's latest message in the thread.
    later = week + timedelta(days=8)
    lets_talk(engine, "And now the stop moved", at=later)
    [fresh] = inbox.claim_unposted(later, 10, LEASE)
    assert fresh.thread_ts is None
