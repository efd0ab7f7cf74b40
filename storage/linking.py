"""Joining channels to one person: link codes, deep-link presets, blocks, staff contacts.

`SqlLinkUnitOfWork` is the service's unit of work plus what the linking service
needs inside the same transaction; the functions below are one short
transaction each.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

from bot.core.messages import Channel
from bot.ports import Redeemed
from storage import models
from storage.households import add_own_schools, schools_of
from storage.unit_of_work import SqlUnitOfWork

__all__ = ["SqlLinkUnitOfWork"]

link_codes = models.table(models.LinkCode)
contacts = models.table(models.Contact)
participants = models.table(models.Participant)
schools = models.table(models.School)
outbox = models.table(models.Outbox)


class SqlLinkUnitOfWork(SqlUnitOfWork):
    def create_link_code(
        self, participant_id: int, code: str, channel: Channel, expires_at: datetime, now: datetime
    ) -> None:
        self.connection.execute(
            insert(link_codes),
            {
                "code": code,
                "participant_id": participant_id,
                "channel": channel.value,
                "expires_at": expires_at,
                "created_at": now,
            },
        )

    def redeem_link_code(
        self, code: str, channel: Channel, address: str, now: datetime
    ) -> Redeemed:
        """Give `channel`/`address` to the code's participant, once, before it expires.

        An address already known moves over (its earlier participant keeps
        what they answered); a second use by the same address changes nothing.
        """
        query = select(link_codes).where(link_codes.c.code == code)
        if self._for_update:
            query = query.with_for_update()
        row = self.connection.execute(query).first()
        if row is None or row.channel != channel.value:
            return Redeemed.INVALID
        contact = self.connection.execute(
            select(contacts.c.id, contacts.c.participant_id).where(
                contacts.c.channel == channel.value, contacts.c.address == address
            )
        ).first()
        if row.used_at is not None:
            same = contact is not None and contact.participant_id == row.participant_id
            return Redeemed.ALREADY if same else Redeemed.INVALID
        if row.expires_at < now:
            return Redeemed.INVALID
        if contact is None:
            self.connection.execute(
                insert(contacts),
                {
                    "participant_id": row.participant_id,
                    "channel": channel.value,
                    "address": address,
                    "created_at": now,
                },
            )
        else:
            self.connection.execute(
                update(contacts).where(contacts.c.id == contact.id),
                {"participant_id": row.participant_id},
            )
        self.connection.execute(
            update(link_codes).where(link_codes.c.id == row.id), {"used_at": now}
        )
        return Redeemed.LINKED

    def preset_school(self, participant_id: int, school: str, now: datetime) -> bool:
        """Set a school not chosen yet, if the district has it; whether it was set."""
        known = self.connection.execute(
            select(schools.c.code).where(schools.c.code == school)
        ).first()
        if known is None:
            return False
        if schools_of(self.connection, [participant_id]):
            return False
        add_own_schools(self.connection, participant_id, [school], now)
        return True
