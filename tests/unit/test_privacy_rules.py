"""The forget policy, on an in-memory store: who is found, what goes, what stays, what is
blocked, and that it all happens in one transaction."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.authoring.activities import parse_activity
from bot.core.keys import address_digest, blocklist_key, participant_key
from bot.ports import ActivityRow
from bot.services.privacy import ForgetError, Privacy
from tests.fakes.memory_privacy import Answer, Item, MemoryPrivacyStore, MemorySpool

NOW = datetime(2026, 9, 30, 12, 0)
SECRET = "a-district-secret-of-some-length"
PHONE = "+15550100123"
SURVEY = """\
key: priorities
kind: survey
title: {en: Priorities}
questions:
  - {key: top, type: yes_no, prompt: {en: "Safe?"}}
  - {key: why, type: free_text, prompt: {en: "Why?"}}
"""


@pytest.fixture
def store() -> MemoryPrivacyStore:
    store = MemoryPrivacyStore()
    rosa = store.add_person("P-00AA11BB22", "salt-rosa", name="Rosa", external_id="SIS-1")
    store.add_contact(rosa, "sms", PHONE)
    store.add_contact(rosa, "telegram", "5550001")
    other = store.add_person("P-00CC33DD44", "salt-other")
    store.add_contact(other, "sms", "+15550100999")
    data = store.data
    data.activities[7] = ActivityRow(7, "priorities", 1, SURVEY, True)
    data.answers += [
        Answer(rosa, 7, "top", "yes", "sí"),
        Answer(rosa, 7, "why", "Call me at home, it's Rosa", "Call me at home, it's Rosa"),
        Answer(other, 7, "why", "More tutoring", "More tutoring"),
    ]
    data.messages += [(rosa, "Call me at home, it's Rosa"), (other, "More tutoring")]
    data.outbox += [
        {"contact_id": 1, "status": "pending", "body": "Thanks Rosa!"},
        {"contact_id": 1, "status": "sent", "body": "Welcome"},
    ]
    data.items += [
        Item(1, rosa, "My son Diego needs a bus", slack="C0INBOX:1.1", replies=["Hi Rosa"]),
        Item(2, rosa, "Thanks", status="resolved"),
    ]
    data.ideas.append({"participant_id": rosa, "text": "Rosa's idea", "status": "approved"})
    return store


@pytest.fixture
def spool() -> MemorySpool:
    spool = MemorySpool()
    spool.parked += [("sms", PHONE, "late"), ("sms", "+15550100999", "someone else")]
    return spool


def privacy(store: MemoryPrivacyStore, spool: MemorySpool) -> Privacy:
    return Privacy(
        store,
        spool,
        parse_activity,
        lambda salt: participant_key(SECRET, salt),
        blocklist_key(SECRET),
        lambda: NOW,
    )


@pytest.mark.parametrize(
    "who",
    [
        PHONE,
        "(555) 010-0123",
        "1",
        "P-00aa11bb22",
        "telegram:5550001",
        participant_key(SECRET, "salt-rosa"),
    ],
    ids=["e164", "us-format", "id", "pseudonym", "channel-address", "export-key"],
)
def test_a_person_is_found_by_any_name_the_district_has_for_them(
    store: MemoryPrivacyStore, spool: MemorySpool, who: str
) -> None:
    assert privacy(store, spool).forget(who, actor="cli").participant_id == 1


@pytest.mark.parametrize(
    "who", ["+15550100000", "9999", "P-FFFFFFFFFF", "0123456789abcdef", "hello"]
)
def test_nobody_matching_is_a_clear_error_and_changes_nothing(
    store: MemoryPrivacyStore, spool: MemorySpool, who: str
) -> None:
    with pytest.raises(ForgetError):
        privacy(store, spool).forget(who, actor="cli")

    assert store.commits == 0 and len(spool.parked) == 2


def test_words_and_contact_details_go_structured_answers_stay(
    store: MemoryPrivacyStore, spool: MemorySpool
) -> None:
    report = privacy(store, spool).forget(PHONE, actor="cli")

    data = store.data
    assert [c.address for c in data.contacts] == ["forgotten:1", "forgotten:2", "+15550100999"]
    assert [(a.question, a.value, a.text) for a in data.answers] == [
        ("top", "yes", ""),
        ("why", None, ""),
        ("why", "More tutoring", "More tutoring"),  # nobody else is touched
    ]
    assert data.messages == [(1, ""), (2, "More tutoring")]
    assert [(r["status"], r["body"]) for r in data.outbox] == [("withheld", ""), ("sent", "")]
    assert [(i.text, i.replies, i.status) for i in data.items] == [
        ("", [""], "resolved"),
        ("", [], "resolved"),
    ]
    assert data.items[0].resolved_by == "forgotten"
    assert data.ideas == [{"participant_id": 1, "text": "", "status": "rejected"}]
    person = data.people[1]
    assert (person.name, person.external_id, person.forgotten_at) == (None, None, NOW)
    assert (report.answers_cleared, report.lets_talk, report.lets_talk_closed) == (2, 2, 1)
    assert report.slack_threads == ("C0INBOX:1.1",)


def test_answers_can_be_deleted_too(store: MemoryPrivacyStore, spool: MemorySpool) -> None:
    report = privacy(store, spool).forget(PHONE, actor="cli", keep_answers=False)

    assert report.answers_deleted == 2
    assert [a.participant_id for a in store.data.answers] == [2]


def test_every_address_is_blocked_by_a_keyed_hash_and_the_spool_purged(
    store: MemoryPrivacyStore, spool: MemorySpool
) -> None:
    report = privacy(store, spool).forget(PHONE, actor="cli")

    key = blocklist_key(SECRET)
    assert set(store.data.forgotten) == {
        address_digest(key, "sms", PHONE),
        address_digest(key, "telegram", "5550001"),
    }
    assert PHONE not in str(store.data.forgotten)  # hashes only
    assert spool.parked == [("sms", "+15550100999", "someone else")]
    assert report.spooled == 1


def test_it_is_audited_without_the_number_and_old_copies_are_wiped(
    store: MemoryPrivacyStore, spool: MemorySpool
) -> None:
    privacy(store, spool).forget(PHONE, actor="cli:ana")

    [(actor, action, detail)] = store.data.audit
    assert (actor, action, detail["participant"]) == ("cli:ana", "participant.forget", 1)
    assert "0123" not in str(detail)
    assert (store.commits, store.wipes) == (1, 1)


def test_forgetting_again_finds_them_by_id_and_changes_nothing_more(
    store: MemoryPrivacyStore, spool: MemorySpool
) -> None:
    service = privacy(store, spool)
    first = service.forget(PHONE, actor="cli")
    again = service.forget("1", actor="cli")

    assert (first.already_forgotten, again.already_forgotten) == (False, True)
    assert again.contacts == 2 and again.outbox_cancelled == 0 and again.lets_talk_closed == 0
    assert store.data.people[1].forgotten_at == NOW
    # The number no longer names anyone.
    with pytest.raises(ForgetError, match="no participant matches"):
        service.forget(PHONE, actor="cli")
