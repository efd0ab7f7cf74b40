"""Forgetting a person on request: contact details and their own words go; the counts stay.

The policy (docs/synthesis.md), in one transaction:

- removed: every phone number and handle (the contact rows stay, as
  `forgotten:<id>` and opted out, so history keeps its shape and nothing is
  ever sent again); every message body in or out; free-text answers and
  unparsed replies; Let's Talk text and the staff replies to it kept in the
  audit log; the answers cached in conversations;
  name and roster id; one-time link codes; pending messages (cancelled).
- kept, unless `keep_answers=False`: structured answers (option picked, scale
  number, yes/no) with their time, language and channel, and the person's
  role, school, language and grade: what aggregates need, with small cells
  suppressed in anything public. With `keep_answers=False` their answers are
  deleted too.
- recorded: an audit entry naming the participant id (never the phone), and
  an opt-out in the consent ledger (source `forget`). The person's ledger
  keeps every event with its time, channel and source, but each address only
  as a keyed hash (HMAC-SHA256 with `ledger_key`) and none of their words:
  the district can still prove it honoured their requests, and find them by
  the phone number someone gives (`engage consent show`), but not read the
  number from the database.

Slack threads already posted to staff cannot be recalled from here; the
report lists them so staff can delete them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from sqlalchemy import Connection, Engine, delete, func, select, update

from bot.core.activity import Activity, QuestionType
from bot.core.consent import ConsentChange, ConsentKind, ConsentSource
from bot.errors import EngageError
from bot.ports import OutboxStatus
from storage import consent, models
from storage.activities import audit_in

__all__ = ["ForgetError", "ForgetReport", "find_participant", "forget_participant"]

participants = models.table(models.Participant)
contacts = models.table(models.Contact)
messages = models.table(models.Message)
responses = models.table(models.Response)
conversations = models.table(models.Conversation)
lets_talk = models.table(models.LetsTalk)
outbox = models.table(models.Outbox)
link_codes = models.table(models.LinkCode)
shared_contacts = models.table(models.SharedContact)
activities = models.table(models.Activity)
audit = models.table(models.AuditEntry)
STAFF_REPLY_ACTION = "lets_talk.reply"

Parse = Callable[[str, str], Activity]

_PSEUDONYM = re.compile(r"^P-[0-9A-F]{6,}$", re.IGNORECASE)
_CHANNEL_ADDRESS = re.compile(r"^(sms|telegram|slack|simulator):(.+)$")


class ForgetError(EngageError):
    """No participant matches, or what was given is not a phone number, id or pseudonym."""


@dataclass(frozen=True, slots=True)
class ForgetReport:
    participant_id: int
    pseudonym: str
    contacts: int
    messages: int
    answers_cleared: int
    answers_deleted: int
    lets_talk: int
    outbox_cancelled: int
    slack_threads: tuple[str, ...]
    already_forgotten: bool


def find_participant(connection: Connection, who: str, region: str = "US") -> int:
    """The participant `who` names: an id (`812`), a pseudonym (`P-3F2A9C01B4`), a phone
    number in any common format, or `channel:address` (`telegram:12345`)."""
    who = who.strip()
    if who.isdigit() and len(who) < 10:
        found = connection.execute(
            select(participants.c.id).where(participants.c.id == int(who))
        ).scalar()
    elif _PSEUDONYM.match(who):
        found = connection.execute(
            select(participants.c.id).where(participants.c.pseudonym == who.upper())
        ).scalar()
    else:
        match = _CHANNEL_ADDRESS.match(who)
        if match:
            channel, address = match.group(1), match.group(2)
        else:
            channel, address = "sms", _e164(who, region)
        found = connection.execute(
            select(contacts.c.participant_id).where(
                contacts.c.channel == channel, contacts.c.address == address
            )
        ).scalar()
    if found is None:
        raise ForgetError(f"no participant matches {_masked(who)}")
    return int(found)


def _e164(text: str, region: str) -> str:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise ForgetError(
            f"{_masked(text)} is not a phone number, participant id or pseudonym"
        ) from error
    if not phonenumbers.is_possible_number(number):
        raise ForgetError(f"{_masked(text)} is not a phone number, participant id or pseudonym")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _masked(text: str) -> str:
    return text if len(text) <= 4 else "…" + text[-4:]


def _free_text_questions(
    connection: Connection, participant_id: int, parse: Parse
) -> set[tuple[int, str]]:
    """(activity id, question) of every free-text question this person answered."""
    used = select(responses.c.activity_id).where(responses.c.participant_id == participant_id)
    found: set[tuple[int, str]] = set()
    for row in connection.execute(
        select(activities.c.id, activities.c.key, activities.c.version, activities.c.source).where(
            activities.c.id.in_(used)
        )
    ):
        activity = parse(row.source, f"{row.key}@v{row.version}")
        found |= {(row.id, q.key) for q in activity.questions if q.type is QuestionType.FREE_TEXT}
    return found


def _forget_staff_replies(connection: Connection, items: set[int]) -> None:
    """Staff replies to this person are kept in the audit log with their words: drop them."""
    if not items:
        return
    for entry in connection.execute(
        select(audit.c.id, audit.c.detail).where(audit.c.action == STAFF_REPLY_ACTION)
    ).all():
        detail = dict(entry.detail or {})
        if detail.get("item") in items and detail.get("text"):
            detail["text"] = ""
            connection.execute(update(audit).where(audit.c.id == entry.id), {"detail": detail})


def forget_participant(
    engine: Engine,
    who: str,
    parse: Parse,
    now: datetime,
    *,
    actor: str = "cli",
    keep_answers: bool = True,
    region: str = "US",
    ledger_key: bytes | None = None,
) -> ForgetReport:
    """Forget the participant `who` names (see `find_participant`) as the policy says.

    Idempotent: forgetting twice changes nothing more. Raises ForgetError when
    nobody matches.
    """
    with engine.begin() as connection:
        person = find_participant(connection, who, region)
        row = connection.execute(
            select(participants.c.pseudonym, participants.c.forgotten_at).where(
                participants.c.id == person
            )
        ).one()
        mine = select(contacts.c.id).where(contacts.c.participant_id == person)
        contact_ids = list(connection.execute(mine).scalars())
        # The request itself is a revocation, recorded before the addresses go.
        forgotten = ConsentChange(ConsentKind.OPT_OUT, ConsentSource.FORGET, actor=actor)
        consent.append(connection, contact_ids, forgotten, now)
        # Nor are they reached any more on a phone another guardian of the household carries.
        connection.execute(
            delete(shared_contacts).where(shared_contacts.c.participant_id == person)
        )
        for contact_id in contact_ids:
            connection.execute(
                update(contacts)
                .where(contacts.c.id == contact_id)
                .values(
                    address=f"forgotten:{contact_id}",
                    opted_out_at=func.coalesce(contacts.c.opted_out_at, now),
                    last_inbound_at=None,
                )
            )
        # In flight or not: a row marked sent later would log the body again.
        cancelled = connection.execute(
            update(outbox).where(
                outbox.c.contact_id.in_(contact_ids),
                outbox.c.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
            ),
            {"status": OutboxStatus.WITHHELD, "error": "participant forgotten"},
        ).rowcount
        for contact_id in contact_ids:
            connection.execute(
                update(outbox).where(outbox.c.contact_id == contact_id),
                {"address": f"forgotten:{contact_id}", "body": "", "choices": []},
            )
        scrubbed = connection.execute(
            update(messages).where(
                (messages.c.participant_id == person) | messages.c.contact_id.in_(contact_ids)
            ),
            {"body": ""},
        ).rowcount
        free = _free_text_questions(connection, person, parse)
        if keep_answers:
            cleared = connection.execute(
                update(responses).where(responses.c.participant_id == person), {"text": ""}
            ).rowcount
            for activity_id, question in free:
                connection.execute(
                    update(responses).where(
                        responses.c.participant_id == person,
                        responses.c.activity_id == activity_id,
                        responses.c.question == question,
                    ),
                    {"value": None},
                )
            deleted = 0
        else:
            cleared = 0
            deleted = connection.execute(
                delete(responses).where(responses.c.participant_id == person)
            ).rowcount
        said = connection.execute(
            select(lets_talk.c.id, lets_talk.c.slack_channel, lets_talk.c.slack_ts).where(
                lets_talk.c.participant_id == person
            )
        ).all()
        threads = sorted(
            {
                f"{t.slack_channel or '?'}:{t.slack_ts}"
                for t in said
                if t.slack_ts is not None and not t.slack_ts.startswith("lease:")
            }
        )
        talked = connection.execute(
            update(lets_talk).where(lets_talk.c.participant_id == person), {"text": ""}
        ).rowcount
        _forget_staff_replies(connection, {t.id for t in said})
        connection.execute(
            update(conversations).where(conversations.c.participant_id == person),
            {"answers": {}},
        )
        connection.execute(
            update(conversations).where(
                conversations.c.participant_id == person, conversations.c.status == "active"
            ),
            {"status": "abandoned", "question": None, "updated_at": now},
        )
        connection.execute(delete(link_codes).where(link_codes.c.participant_id == person))
        consent.forget_addresses(connection, person, ledger_key)
        connection.execute(
            update(participants)
            .where(participants.c.id == person)
            .values(
                name=None,
                external_id=None,
                pending=[],
                awaiting=None,
                onboarding=None,
                forgotten_at=func.coalesce(participants.c.forgotten_at, now),
                updated_at=now,
            )
        )
        report = ForgetReport(
            participant_id=person,
            pseudonym=row.pseudonym,
            contacts=len(contact_ids),
            messages=int(scrubbed),
            answers_cleared=int(cleared),
            answers_deleted=int(deleted),
            lets_talk=int(talked),
            outbox_cancelled=int(cancelled),
            slack_threads=tuple(threads),
            already_forgotten=row.forgotten_at is not None,
        )
        audit_in(
            connection,
            actor,
            "participant.forget",
            {
                "participant": person,
                "keep_answers": keep_answers,
                "contacts": report.contacts,
                "messages": report.messages,
                "answers_deleted": report.answers_deleted,
                "lets_talk": report.lets_talk,
            },
            now,
        )
    return report
