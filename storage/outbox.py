"""The outbox queue: claim due rows in one statement, then record what the provider said.

On PostgreSQL any number of workers share the queue: the claim locks rows with
`FOR UPDATE SKIP LOCKED`, so two workers never take the same row. On SQLite the
claim runs under `BEGIN IMMEDIATE`, which serializes writers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from bot.core.consent import ConsentChange, ConsentKind, ConsentSource
from bot.core.messages import Channel
from bot.errors import DeliveryFailure
from bot.ports import OutboxKind, OutboxRow, OutboxStatus
from storage import consent, models
from storage.unit_of_work import reply_from_row, template_from_row

__all__ = ["DELIVERY_ORDER", "Delivery", "OutboxStore"]

log = logging.getLogger(__name__)

outbox = models.table(models.Outbox)
contacts = models.table(models.Contact)
messages = models.table(models.Message)
broadcasts = models.table(models.Broadcast)


def _stopped_contact() -> ColumnElement[bool]:
    """The row's contact opted out or cannot be reached (for `exists()`)."""
    return and_(
        contacts.c.id == outbox.c.contact_id,
        or_(contacts.c.opted_out_at.is_not(None), contacts.c.invalid_at.is_not(None)),
    )


def _cancelled_broadcast() -> ColumnElement[bool]:
    return and_(broadcasts.c.id == outbox.c.broadcast_id, broadcasts.c.status == "cancelled")


def _paused_broadcast() -> ColumnElement[bool]:
    return and_(broadcasts.c.id == outbox.c.broadcast_id, broadcasts.c.paused_at.is_not(None))


def _halted_broadcast() -> ColumnElement[bool]:
    return and_(
        broadcasts.c.id == outbox.c.broadcast_id,
        or_(broadcasts.c.status == "cancelled", broadcasts.c.paused_at.is_not(None)),
    )


def _claimed(row: OutboxRow) -> tuple[ColumnElement[bool], ...]:
    """This claim of the row, and no later one (another worker's takeover)."""
    return (outbox.c.id == row.id, outbox.c.attempts == row.attempts)


def _row(r: Any) -> OutboxRow:
    return OutboxRow(
        id=r.id,
        contact_id=r.contact_id,
        channel=Channel(r.channel),
        address=r.address,
        text=r.body,
        reply=reply_from_row(r.body, r.choices),
        kind=OutboxKind(r.kind),
        attempts=r.attempts,
        place=r.place,
        template=template_from_row(r.template),
        template_sent=r.template_sent_at is not None,
    )


# Delivery callbacks repeat and arrive out of order: a status only moves forward.
DELIVERY_ORDER = {
    "accepted": 1,
    "scheduled": 1,
    "queued": 2,
    "sending": 3,
    "sent": 4,
    "delivered": 5,
    "read": 6,
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
}


@dataclass(frozen=True, slots=True)
class Delivery:
    """A provider's delivery report for a message we sent."""

    channel: Channel
    provider_id: str
    status: str
    error_code: str | None = None


class OutboxStore:
    """Outbox operations, each its own short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"

    def claim_due(
        self,
        now: datetime,
        limit: int,
        lease: timedelta,
        channels: Sequence[Channel] | None = None,
    ) -> list[OutboxRow]:
        """Claim up to `limit` due rows (pending, or sending with an expired lease).

        Rows of a paused broadcast are not due. Claimed rows whose contact opted out
        (or cannot be reached) are withheld at once, and those of a cancelled broadcast
        cancelled, in the same transaction; `begin_sending` checks again just before
        each provider call.
        """
        due = or_(
            and_(outbox.c.status == OutboxStatus.PENDING, outbox.c.not_before <= now),
            and_(outbox.c.status == OutboxStatus.SENDING, outbox.c.lease_until < now),
        )
        # Replies to someone who just wrote go before a broadcast's backlog.
        is_broadcast = case((outbox.c.kind == OutboxKind.BROADCAST, 1), else_=0)
        pick = (
            select(outbox.c.id)
            .where(due, ~exists().where(_paused_broadcast()))
            .order_by(is_broadcast, outbox.c.id)
            .limit(limit)
        )
        if channels is not None:
            pick = pick.where(outbox.c.channel.in_([c.value for c in channels]))
        if self.is_postgres:
            pick = pick.with_for_update(of=outbox, skip_locked=True)
        claim = (
            update(outbox)
            .where(outbox.c.id.in_(pick.scalar_subquery()))
            .values(
                status=OutboxStatus.SENDING,
                lease_until=now + lease,
                attempts=outbox.c.attempts + 1,
                sending_at=None,
            )
            .returning(
                outbox.c.id,
                outbox.c.contact_id,
                outbox.c.channel,
                outbox.c.address,
                outbox.c.body,
                outbox.c.choices,
                outbox.c.kind,
                outbox.c.attempts,
                outbox.c.place,
                outbox.c.template,
                outbox.c.template_sent_at,
            )
        )
        with self.engine.begin() as connection:
            rows = [_row(r) for r in connection.execute(claim).all()]
            if not rows:
                return []
            refused = self._refuse(connection, rows)
            rows = self._with_windows(connection, [r for r in rows if r.id not in refused])
        return sorted(rows, key=lambda r: r.id)

    @staticmethod
    def _with_windows(connection: Connection, rows: list[OutboxRow]) -> list[OutboxRow]:
        """WhatsApp rows with when their contact last wrote: the 24-hour window's start."""
        ids = {r.contact_id for r in rows if r.channel is Channel.WHATSAPP}
        if not ids:
            return rows
        wrote = dict(
            connection.execute(
                select(contacts.c.id, contacts.c.last_inbound_at).where(contacts.c.id.in_(ids))
            ).all()
        )
        return [
            replace(r, last_inbound_at=wrote.get(r.contact_id)) if r.contact_id in ids else r
            for r in rows
        ]

    def begin_sending(self, rows: Sequence[OutboxRow], now: datetime) -> set[int]:
        """Mark claimed rows in flight unless they may no longer be sent; the ids cleared.

        One conditional UPDATE, fenced by each row's claim (`attempts`): it checks
        the contact's opt-out and the broadcast's cancellation and pause as they are
        committed at this moment. Rows refused are withheld, cancelled or released
        in the same transaction; rows already withdrawn (a STOP, a cancel) or taken
        over by another worker are simply not cleared.
        """
        if not rows:
            return set()
        claims = [(row.id, row.attempts) for row in rows]
        clear = (
            update(outbox)
            .where(
                outbox.c.id.in_([row.id for row in rows]),  # by primary key first
                tuple_(outbox.c.id, outbox.c.attempts).in_(claims),
                outbox.c.status == OutboxStatus.SENDING,
                outbox.c.sending_at.is_(None),
                or_(
                    outbox.c.kind.in_([k.value for k in OutboxKind if k.reaches_opted_out]),
                    ~exists().where(_stopped_contact()),
                ),
                ~exists().where(_halted_broadcast()),
            )
            .values(sending_at=now)
            .returning(outbox.c.id)
        )
        with self.engine.begin() as connection:
            cleared = set(connection.execute(clear).scalars())
            rest = [row for row in rows if row.id not in cleared]
            if rest:
                self._refuse(connection, rest)
        return cleared

    def _refuse(self, connection: Connection, rows: Sequence[OutboxRow]) -> set[int]:
        """Withhold, cancel or release claimed rows that may not be sent; their ids."""
        stopped = _stopped_contact()
        candidates = set(
            connection.execute(
                select(outbox.c.id).where(
                    outbox.c.id.in_([row.id for row in rows]),
                    or_(
                        and_(
                            outbox.c.kind.not_in(
                                [k.value for k in OutboxKind if k.reaches_opted_out]
                            ),
                            exists().where(stopped),
                        ),
                        exists().where(_halted_broadcast()),
                    ),
                )
            ).scalars()
        )
        rows = [row for row in rows if row.id in candidates]
        if not rows:
            return set()
        claims = [(row.id, row.attempts) for row in rows]
        mine = and_(
            outbox.c.id.in_([row.id for row in rows]),
            tuple_(outbox.c.id, outbox.c.attempts).in_(claims),
            outbox.c.status == OutboxStatus.SENDING,
            outbox.c.sending_at.is_(None),
        )
        refused: set[int] = set()
        withheld = connection.execute(
            update(outbox)
            .where(
                mine,
                outbox.c.kind.not_in([k.value for k in OutboxKind if k.reaches_opted_out]),
                exists().where(_stopped_contact()),
            )
            .values(
                status=OutboxStatus.WITHHELD,
                error="opted out or unreachable at send time",
                lease_until=None,
            )
            .returning(outbox.c.id)
        )
        refused.update(withheld.scalars())
        cancelled = connection.execute(
            update(outbox)
            .where(mine, exists().where(_cancelled_broadcast()))
            .values(status=OutboxStatus.CANCELLED, error="broadcast cancelled", lease_until=None)
            .returning(outbox.c.id)
        )
        refused.update(cancelled.scalars())
        paused = connection.execute(
            update(outbox)
            .where(mine, exists().where(_paused_broadcast()))
            .values(status=OutboxStatus.PENDING, lease_until=None, attempts=outbox.c.attempts - 1)
            .returning(outbox.c.id)
        )
        refused.update(paused.scalars())
        return refused

    def mark_sent(self, row: OutboxRow, provider_id: str, now: datetime) -> None:
        self.mark_sent_many([(row, provider_id)], now)

    def mark_sent_many(self, sent: Sequence[tuple[OutboxRow, str]], now: datetime) -> int:
        """Record many sends in one transaction; returns how many rows it marked.

        Only rows still `sending` change: a status callback (`record_delivery`
        with the row's reference) may have recorded the same send first.
        """
        if not sent:
            return 0
        with self.engine.begin() as connection:
            live_query = select(outbox.c.id).where(
                tuple_(outbox.c.id, outbox.c.attempts).in_([(r.id, r.attempts) for r, _ in sent]),
                outbox.c.status == OutboxStatus.SENDING,
            )
            if self.is_postgres:
                live_query = live_query.with_for_update()
            live = set(connection.execute(live_query).scalars())
            marked = [(row, provider_id) for row, provider_id in sent if row.id in live]
            if not marked:
                return 0
            connection.execute(
                update(outbox)
                .where(outbox.c.id == bindparam("row_id"))
                .values(
                    status=OutboxStatus.SENT,
                    provider_id=bindparam("sid"),
                    sent_at=bindparam("at"),
                    lease_until=None,
                ),
                [{"row_id": row.id, "sid": sid, "at": now} for row, sid in marked],
            )
            people = dict(
                connection.execute(
                    select(contacts.c.id, contacts.c.participant_id).where(
                        contacts.c.id.in_({row.contact_id for row, _ in marked})
                    )
                ).all()
            )
            # A provider id logged already (one send adopted for two rows after a
            # crash) must not undo the whole batch: the rows are sent either way.
            log_sent = (postgresql.insert if self.is_postgres else sqlite.insert)(messages)
            connection.execute(
                log_sent.on_conflict_do_nothing(),
                [
                    {
                        "direction": "out",
                        "channel": row.channel.value,
                        "contact_id": row.contact_id,
                        "participant_id": people.get(row.contact_id),
                        "provider_id": provider_id,
                        "body": row.text,
                        "status": "sent",
                        "outbox_id": row.id,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for row, provider_id in marked
                ],
            )
        return len(marked)

    def release(self, rows: Sequence[OutboxRow], not_before: datetime) -> None:
        """Give claimed rows back unsent (quiet hours began, or their lease ran short).

        They are pending again from `not_before`, and the claim does not count as an attempt.
        """
        if not rows:
            return
        with self.engine.begin() as connection:
            connection.execute(
                update(outbox)
                .where(
                    tuple_(outbox.c.id, outbox.c.attempts).in_([(r.id, r.attempts) for r in rows]),
                    outbox.c.status == OutboxStatus.SENDING,
                )
                .values(
                    status=OutboxStatus.PENDING,
                    not_before=not_before,
                    lease_until=None,
                    sending_at=None,
                    attempts=outbox.c.attempts - 1,
                )
            )

    def known_provider_ids(self, channel: Channel, provider_ids: Sequence[str]) -> set[str]:
        """Which of these provider ids are already recorded for a sent message."""
        if not provider_ids:
            return set()
        with self.engine.connect() as connection:
            return set(
                connection.execute(
                    select(messages.c.provider_id).where(
                        messages.c.channel == channel.value,
                        messages.c.direction == "out",
                        messages.c.provider_id.in_(list(provider_ids)),
                    )
                ).scalars()
            )

    def await_answer(
        self, row: OutboxRow, provider_id: str, now: datetime, until: datetime
    ) -> None:
        """The row's WhatsApp template went out: log it, and let the row wait for the answer.

        The template is logged as a message of its own (delivery reports find it
        by `provider_id`); the row is pending again until `until`, or until the
        family writes (`SqlUnitOfWork.resume_after_template`). The claim does not
        count as an attempt.
        """
        template = row.template
        shown = f"[WhatsApp template {template.content_sid}]" if template else "[template]"
        with self.engine.begin() as connection:
            waiting = connection.execute(
                update(outbox)
                .where(*_claimed(row), outbox.c.status == OutboxStatus.SENDING)
                .values(
                    status=OutboxStatus.PENDING,
                    not_before=until,
                    template_sent_at=now,
                    lease_until=None,
                    sending_at=None,
                    attempts=outbox.c.attempts - 1,
                )
            ).rowcount
            if not waiting:
                return
            participant_id = connection.execute(
                select(contacts.c.participant_id).where(contacts.c.id == row.contact_id)
            ).scalar()
            log_sent = (postgresql.insert if self.is_postgres else sqlite.insert)(messages)
            connection.execute(
                log_sent.on_conflict_do_nothing(),
                {
                    "direction": "out",
                    "channel": row.channel.value,
                    "contact_id": row.contact_id,
                    "participant_id": participant_id,
                    "provider_id": provider_id,
                    "body": shown,
                    "status": "sent",
                    # Not the row's own send: a broadcast's progress counts those.
                    "outbox_id": None,
                    "created_at": now,
                    "updated_at": now,
                },
            )

    def mark_retry(
        self, row: OutboxRow, not_before: datetime, error: str, code: str | None
    ) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(outbox).where(*_claimed(row)),
                {
                    "status": OutboxStatus.PENDING,
                    "not_before": not_before,
                    "lease_until": None,
                    "sending_at": None,
                    "error": error[:500],
                    "error_code": code,
                },
            )

    def mark_failed(
        self,
        row: OutboxRow,
        error: str,
        code: str | None,
        failure: DeliveryFailure | None,
        now: datetime,
    ) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(outbox).where(*_claimed(row)),
                {
                    "status": OutboxStatus.FAILED,
                    "error": error[:500],
                    "error_code": code,
                    "lease_until": None,
                },
            )
            self._apply_failure(connection, row.contact_id, failure, code, now)

    def record_delivery(
        self, delivery: Delivery, now: datetime, reference: str | None = None
    ) -> bool:
        """Apply a delivery report; False when no message has that provider id.

        `reference` is the outbox row id the callback URL carried: a report for
        a send that was never recorded (the worker died between the provider's
        answer and its write) marks that row sent, so nobody resends it.
        """
        with self.engine.begin() as connection:
            known = select(messages.c.id, messages.c.status, messages.c.contact_id).where(
                messages.c.channel == delivery.channel.value,
                messages.c.direction == "out",
                messages.c.provider_id == delivery.provider_id,
            )
            found = connection.execute(known).first()
            if found is None and reference is not None:
                if self._adopt(connection, delivery, reference, now):
                    found = connection.execute(known).first()
            if found is None:
                return False
            rank = DELIVERY_ORDER.get(delivery.status, 0)
            if rank >= DELIVERY_ORDER.get(found.status, 0):
                connection.execute(
                    update(messages).where(messages.c.id == found.id),
                    {
                        "status": delivery.status,
                        "error_code": delivery.error_code,
                        "updated_at": now,
                    },
                )
            failure = FAILURE_BY_CODE.get(delivery.error_code or "")
            if failure is not None and found.contact_id is not None:
                self._apply_failure(connection, found.contact_id, failure, delivery.error_code, now)
            return True

    def _adopt(
        self, connection: Connection, delivery: Delivery, reference: str, now: datetime
    ) -> bool:
        if not reference.isdigit():
            return False
        query = select(outbox.c.id, outbox.c.contact_id, outbox.c.body).where(
            outbox.c.id == int(reference),
            outbox.c.channel == delivery.channel.value,
            # A delivery report proves the message went out, even for a row withdrawn
            # after its provider call began (a worker killed mid-send, then a STOP).
            outbox.c.status.in_(
                [
                    OutboxStatus.SENDING,
                    OutboxStatus.PENDING,
                    OutboxStatus.FAILED,
                    OutboxStatus.WITHHELD,
                    OutboxStatus.CANCELLED,
                ]
            ),
        )
        if self.is_postgres:
            query = query.with_for_update()
        row = connection.execute(query).first()
        if row is None:
            return False
        connection.execute(
            update(outbox).where(outbox.c.id == row.id),
            {
                "status": OutboxStatus.SENT,
                "provider_id": delivery.provider_id,
                "sent_at": now,
                "lease_until": None,
                "error": None,
                "error_code": None,
            },
        )
        participant_id = connection.execute(
            select(contacts.c.participant_id).where(contacts.c.id == row.contact_id)
        ).scalar()
        connection.execute(
            insert(messages),
            {
                "direction": "out",
                "channel": delivery.channel.value,
                "contact_id": row.contact_id,
                "participant_id": participant_id,
                "provider_id": delivery.provider_id,
                "body": row.body,
                "status": "sent",
                "outbox_id": row.id,
                "created_at": now,
                "updated_at": now,
            },
        )
        log.info("outbox.adopted", extra={"outbox_id": row.id, "channel": delivery.channel.value})
        return True

    def _apply_failure(
        self,
        connection: Connection,
        contact_id: int,
        failure: DeliveryFailure | None,
        code: str | None,
        now: datetime,
    ) -> None:
        if failure is DeliveryFailure.OPTED_OUT:
            # The number said STOP to the provider (Twilio 21610): as a STOP to us.
            change = ConsentChange(ConsentKind.OPT_OUT, ConsentSource.CARRIER, code=code)
            consent.apply(connection, contact_id, change, now)
        elif failure is DeliveryFailure.BLOCKED:
            # Blocked on this channel only (Telegram "blocked by the user", carrier 30004).
            channel = connection.execute(
                select(contacts.c.channel).where(contacts.c.id == contact_id)
            ).scalar()
            source = (
                ConsentSource.TELEGRAM_BLOCKED
                if channel == Channel.TELEGRAM.value
                else ConsentSource.CARRIER
            )
            change = ConsentChange(ConsentKind.OPT_OUT, source, code=code)
            consent.opt_out_contact(connection, contact_id, change, now)
        elif failure in (DeliveryFailure.INVALID_ADDRESS, DeliveryFailure.UNREACHABLE):
            connection.execute(
                update(contacts).where(contacts.c.id == contact_id),
                {"invalid_at": now, "invalid_reason": failure.value if failure else None},
            )

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            return {
                status: count
                for status, count in connection.execute(
                    select(outbox.c.status, func.count()).group_by(outbox.c.status)
                )
            }


# Delivery-report error codes that change what we may send to a contact.
FAILURE_BY_CODE: dict[str, DeliveryFailure] = {
    "21610": DeliveryFailure.OPTED_OUT,
    "30004": DeliveryFailure.BLOCKED,
    "30005": DeliveryFailure.UNREACHABLE,
    "30006": DeliveryFailure.UNREACHABLE,
}
