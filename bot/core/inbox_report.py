"""How the Let's Talk inbox stands against the reply promise: open threads by age, owner and
school, and the share answered within the promise per school and per language.

Pure: given every thread's first item, the promise and the time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.promise import ReplyPromise
from bot.core.staff import InboxItem, ItemStatus

__all__ = ["InboxReport", "OpenThread", "PromiseShare", "ThreadRecord", "inbox_report"]

NOT_GIVEN = "(not given)"


@dataclass(frozen=True, slots=True)
class PromiseShare:
    """Threads of one school or language: answered in time, answered late or overdue, waiting."""

    key: str
    kept: int = 0
    broken: int = 0
    waiting: int = 0

    @property
    def decided(self) -> int:
        return self.kept + self.broken

    @property
    def share(self) -> float | None:
        """The share answered within the promise, of those whose outcome is known."""
        return self.kept / self.decided if self.decided else None


@dataclass(frozen=True, slots=True)
class OpenThread:
    """An open thread: how long it has waited (business time), when it is due, and whether
    it is past that without an answer."""

    item: InboxItem
    age: timedelta
    due_at: datetime
    is_overdue: bool


@dataclass(frozen=True, slots=True)
class ThreadRecord:
    """A thread as exported: its first item, the participant's export salt, how many
    messages the family sent in it and how many staff replies went out (translated ones)."""

    item: InboxItem
    export_salt: str
    messages: int
    replies: int
    translated: int


@dataclass(frozen=True, slots=True)
class InboxReport:
    open: tuple[OpenThread, ...]
    overall: PromiseShare
    by_school: tuple[PromiseShare, ...]
    by_language: tuple[PromiseShare, ...]
    by_owner: tuple[tuple[str, int], ...]

    def overdue(self) -> int:
        return sum(1 for thread in self.open if thread.is_overdue)


def inbox_report(roots: Iterable[InboxItem], promise: ReplyPromise, now: datetime) -> InboxReport:
    """The report over `roots` (each thread's first item); thank-yous set aside don't count."""
    threads = [item for item in roots if not item.is_closing]
    open_threads = tuple(
        sorted(
            (
                OpenThread(
                    item,
                    promise.age(item.created_at, now),
                    due := item.due_at or promise.due_at(item.created_at),
                    item.first_response_at is None and now > due,
                )
                for item in threads
                if item.status is ItemStatus.OPEN
            ),
            key=lambda thread: thread.item.created_at,
        )
    )
    owners: dict[str, int] = {}
    for thread in open_threads:
        who = thread.item.claimed_by or thread.item.owner or "(nobody)"
        owners[who] = owners.get(who, 0) + 1

    def outcome(item: InboxItem) -> bool | None:
        if item.due_at is not None:
            if item.first_response_at is not None:
                return item.first_response_at <= item.due_at
            return False if now > item.due_at else None
        return promise.is_kept(item.created_at, item.first_response_at, now)

    return InboxReport(
        open=open_threads,
        overall=_share("all", threads, outcome),
        by_school=_shares(threads, lambda item: item.school or NOT_GIVEN, outcome),
        by_language=_shares(threads, lambda item: item.language or NOT_GIVEN, outcome),
        by_owner=tuple(sorted(owners.items(), key=lambda pair: (-pair[1], pair[0]))),
    )


def _shares(
    items: Sequence[InboxItem],
    key: Callable[[InboxItem], str],
    outcome: Callable[[InboxItem], bool | None],
) -> tuple[PromiseShare, ...]:
    groups: dict[str, list[InboxItem]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return tuple(_share(name, groups[name], outcome) for name in sorted(groups))


def _share(
    key: str, items: Iterable[InboxItem], outcome: Callable[[InboxItem], bool | None]
) -> PromiseShare:
    kept = broken = waiting = 0
    for item in items:
        result = outcome(item)
        if result is None:
            waiting += 1
        elif result:
            kept += 1
        else:
            broken += 1
    return PromiseShare(key, kept, broken, waiting)
