"""Forgetting a person on request: contact details and their own words go; the counts stay.

The policy (docs/synthesis.md), in one transaction:

- removed: every phone number and handle (the contact rows stay, as
  `forgotten:<id>` and opted out, so history keeps its shape and nothing is
  ever sent again); every message body in or out; free-text answers and
  unparsed replies; Let's Talk text and staff replies to it (open items are
  resolved); the ideas they wrote; the answers cached in conversations; name
  and roster id; one-time link codes; pending messages (cancelled).
- kept, unless `keep_answers=False`: structured answers (option picked, scale
  number, yes/no) with their time, language and channel, and the person's
  role, school, language and grade: what aggregates need, with small cells
  suppressed in anything public. With `keep_answers=False` their answers are
  deleted too.
- blocked: keyed hashes of their addresses (bot.core.keys), so a late
  or replayed message is dropped rather than starting a new person; the
  messages parked in the spool from those addresses are deleted.
- recorded: an audit entry naming the participant id (never the phone), and
  an opt-out in the consent ledger (source `forget`). Their ledger keeps
  every event with its time, channel and source, but each address only as a
  keyed hash and none of their words (docs/consent.md).

Afterwards the store makes sure no removed text survives in its files
(SQLite: the file is rewritten and the write-ahead log truncated).
Slack threads already posted to staff cannot be recalled from here; the report
lists them so staff can delete them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import phonenumbers

from bot.core.activity import Activity, QuestionType
from bot.core.keys import address_digest
from bot.errors import EngageError
from bot.ports import ParkedMessages, PrivacyStore, PrivacyUnitOfWork

__all__ = ["ForgetError", "ForgetReport", "Privacy", "find_participant"]

log = logging.getLogger(__name__)

Parse = Callable[[str, str], Activity]

_PSEUDONYM = re.compile(r"^P-[0-9A-F]{6,}$", re.IGNORECASE)
_EXPORT_KEY = re.compile(r"^[0-9a-f]{16}$")
_CHANNEL_ADDRESS = re.compile(r"^([a-z]+):(.+)$")
# A participant id is short; a longer run of digits is a phone number.
MAX_ID_DIGITS = 9


class ForgetError(EngageError):
    """No participant matches, or what was given is not a phone number, id or key."""


@dataclass(frozen=True, slots=True)
class ForgetReport:
    participant_id: int
    pseudonym: str
    contacts: int
    messages: int
    answers_cleared: int
    answers_deleted: int
    lets_talk: int
    lets_talk_closed: int
    ideas: int
    outbox_cancelled: int
    spooled: int
    slack_threads: tuple[str, ...]
    already_forgotten: bool
    wiped: bool


class Privacy:
    """Forget requests against one store.

    `export_key` turns a participant's export salt into the key exports print;
    `blocklist_key` keys the hashes of forgotten addresses; `spool` holds
    messages parked while the database was busy.
    """

    def __init__(
        self,
        store: PrivacyStore,
        spool: ParkedMessages,
        parse: Parse,
        export_key: Callable[[str], str],
        blocklist_key: bytes,
        clock: Callable[[], datetime],
        region: str = "US",
    ) -> None:
        self.store = store
        self.spool = spool
        self.parse = parse
        self.export_key = export_key
        self.blocklist_key = blocklist_key
        self.clock = clock
        self.region = region

    def forget(self, who: str, *, actor: str, keep_answers: bool = True) -> ForgetReport:
        """Forget the participant `who` names (see `find`) as the policy says.

        Idempotent: forgetting twice changes nothing more. Raises ForgetError
        when nobody matches.
        """
        now = self.clock()
        with self.store.unit_of_work() as uow:
            person_id = self.find(uow, who)
            person = uow.person(person_id)
            assert person is not None
            free = self._free_text_questions(uow, person_id)
            # The request itself is a revocation, recorded before the addresses go.
            uow.record_forget_request(person_id, actor, now)
            contacts = uow.forget_contacts(person_id, now)
            cancelled = uow.cancel_outbox(person_id)
            scrubbed = uow.scrub_messages(person_id)
            if keep_answers:
                cleared, deleted = uow.clear_answer_words(person_id, free), 0
            else:
                cleared, deleted = 0, uow.delete_answers(person_id)
            talk = uow.scrub_lets_talk(person_id, now)
            ideas = uow.scrub_ideas(person_id, now)
            uow.scrub_participant(person_id, now)
            uow.hash_consent_addresses(person_id)
            uow.block_addresses(
                {address_digest(self.blocklist_key, c, a) for c, a in person.addresses}, now
            )
            uow.audit(
                actor,
                "participant.forget",
                {
                    "participant": person_id,
                    "keep_answers": keep_answers,
                    "contacts": contacts,
                    "messages": scrubbed,
                    "answers_deleted": deleted,
                    "lets_talk": talk.texts,
                    "ideas": ideas,
                },
                now,
            )
            uow.commit()
        spooled = sum(self.spool.purge(c, a) for c, a in person.addresses)
        wiped = self.store.wipe_old_copies()
        if not wiped:
            log.warning("privacy.old_copies_remain", extra={"participant_id": person_id})
        return ForgetReport(
            participant_id=person_id,
            pseudonym=person.pseudonym,
            contacts=contacts,
            messages=scrubbed,
            answers_cleared=cleared,
            answers_deleted=deleted,
            lets_talk=talk.texts,
            lets_talk_closed=talk.closed,
            ideas=ideas,
            outbox_cancelled=cancelled,
            spooled=spooled,
            slack_threads=talk.slack_threads,
            already_forgotten=person.forgotten_at is not None,
            wiped=wiped,
        )

    def find(self, uow: PrivacyUnitOfWork, who: str) -> int:
        """The participant `who` names (see `find_participant`)."""
        return find_participant(uow, who, self.region, self.export_key)

    def _free_text_questions(self, uow: PrivacyUnitOfWork, person: int) -> set[tuple[int, str]]:
        """(activity id, question) of every free-text question this person answered."""
        found: set[tuple[int, str]] = set()
        for row in uow.answered_activities(person):
            activity = self.parse(row.source, f"{row.key}@v{row.version}")
            found |= {
                (row.id, q.key) for q in activity.questions if q.type is QuestionType.FREE_TEXT
            }
        return found


def find_participant(
    uow: PrivacyUnitOfWork,
    who: str,
    region: str = "US",
    export_key: Callable[[str], str] | None = None,
) -> int:
    """The participant `who` names: an id (`812`), a pseudonym (`P-3F2A9C01B4`), the key
    exports print (`9f86d081884c7d65`, with `export_key`), a phone number in any common
    format, or `channel:address` (`telegram:12345`). Raises ForgetError when nobody does."""
    who = who.strip()
    found: int | None
    if who.isdigit() and len(who) <= MAX_ID_DIGITS:
        person = uow.person(int(who))
        found = person.id if person is not None else None
    elif _PSEUDONYM.match(who):
        found = uow.person_by_pseudonym(who.upper())
    elif _EXPORT_KEY.match(who) and export_key is not None:
        found = next((pid for pid, salt in uow.export_salts() if export_key(salt) == who), None)
    elif match := _CHANNEL_ADDRESS.match(who):
        found = uow.person_by_address(match.group(1), match.group(2))
    else:
        found = uow.person_by_address("sms", _e164(who, region))
    if found is None:
        raise ForgetError(f"no participant matches {_masked(who)}")
    return found


def _e164(text: str, region: str) -> str:
    problem = f"{_masked(text)} is not a phone number, participant id, pseudonym or key"
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise ForgetError(problem) from error
    if not phonenumbers.is_possible_number(number):
        raise ForgetError(problem)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _masked(text: str) -> str:
    return text if len(text) <= 4 else "…" + text[-4:]
