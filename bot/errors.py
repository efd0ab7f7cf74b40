"""Errors the project raises on purpose.

EngageError        base: the message says what to do
├ ConfigError      names the variable
├ ActivityError    file:line: field: problem (one per problem, all at once)
├ SheetError       a translation sheet that cannot be imported (every problem at once)
├ RepresentationError  no enrollment figures, or an unknown activity to measure
├ ExportError      an export that cannot be made: unknown activity, no answers, unwritable path
├ ForgedRequest    a webhook whose signature or secret is wrong -> 403
├ UnsupportedEvent a payload we do not act on -> 200, logged once per type
├ StoreBusy        the database could not take a write just now: try again
└ ProviderError    a provider refused or failed a send; .transient: retry
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ActivityError",
    "ConfigError",
    "DeliveryFailure",
    "EngageError",
    "ExportError",
    "ForgedRequest",
    "ProviderError",
    "RepresentationError",
    "SheetError",
    "StoreBusy",
    "UnsupportedEvent",
]


class EngageError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigError(EngageError):
    """A setting is missing or wrong; the message names the variable."""


class ActivityError(EngageError):
    """An activity file is invalid. `problems` lists every `file:line: field: problem`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class SheetError(EngageError):
    """A translation sheet that cannot be read into its activity; `problems` says why."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class RepresentationError(EngageError):
    """Representation cannot be measured: no enrollment figures, or an unknown activity."""


class ExportError(EngageError):
    """An export that cannot be made: unknown activity, no answers, unwritable path."""


class ForgedRequest(EngageError):
    """A webhook request whose signature or secret does not check out."""


class UnsupportedEvent(EngageError):
    """A provider payload we acknowledge but do not act on."""


class StoreBusy(EngageError):
    """The database could not take a write just now: a locked SQLite file, a PostgreSQL
    serialization failure, or two first messages from one new number racing to
    create it. Trying again is right."""


class DeliveryFailure(StrEnum):
    """Why a send failed for good, so the sender can update the contact.

    CONFIGURATION is ours, not the message's: the provider refused our credentials
    or our sender, so nothing on that channel can go until it is fixed. The sender
    pauses the channel and keeps the messages queued.
    """

    OPTED_OUT = "opted_out"
    INVALID_ADDRESS = "invalid_address"
    UNREACHABLE = "unreachable"
    BLOCKED = "blocked"
    CONFIGURATION = "configuration"
    REJECTED = "rejected"
    # WhatsApp: a free-form message outside the 24-hour window; a template is needed.
    OUTSIDE_WINDOW = "outside_window"


class ProviderError(EngageError):
    """A provider refused or failed a send.

    `transient` errors are retried by the outbox with backoff (`retry_after`
    seconds when the provider said); permanent ones are recorded with `failure`.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        code: str | None = None,
        failure: DeliveryFailure | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.code = code
        self.failure = failure
        self.retry_after = retry_after
