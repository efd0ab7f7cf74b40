"""What the consent ledger records: who agreed to be texted, who refused, when and how.

Pure value types. Every change to whether a family may be messaged is one
append-only event (storage/consent.py keeps them); the current state of a
contact is kept beside it in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ConsentChange", "ConsentKind", "ConsentSource"]


class ConsentKind(StrEnum):
    """What happened."""

    OPT_OUT = "opt_out"  # no more messages on any of the person's contacts
    OPT_IN = "opt_in"  # messages again, on the contact it came from
    HELP = "help"  # asked for help: answered with the program, a contact and how to stop
    CONSENT_GIVEN = "consent_given"  # agreed to take part
    CONSENT_WITHDRAWN = "consent_withdrawn"  # declined, or took agreement back


class ConsentSource(StrEnum):
    """How we learnt it."""

    KEYWORD = "keyword"  # a keyword as the whole message: STOP, PARAR, HELP, START
    REQUEST = "request"  # plain words: "please take me off this list", "đừng nhắn nữa"
    ONBOARDING = "onboarding"  # the answer to the consent question
    ROSTER = "roster"  # the district's roster said so (consent column)
    CARRIER = "carrier"  # the provider refused the number as unsubscribed (Twilio 21610, 30004)
    TELEGRAM_BLOCKED = "telegram_blocked"  # the person blocked the bot
    STAFF = "staff"  # a staff member recorded what the family told them
    FORGET = "forget"  # the person asked to be forgotten
    BEFORE_LEDGER = "before_ledger"  # state found when the ledger began; no more is known


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """One event to record: `words` are what the family wrote (or the staff note);
    `code` a provider's error code; `actor` who recorded it when it was not the family."""

    kind: ConsentKind
    source: ConsentSource
    words: str | None = None
    code: str | None = None
    actor: str | None = None
