"""Paused channels in SQL (bot.ports.ChannelPauses): one row per channel and credentials."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.core.messages import Channel
from bot.ports import ChannelPause
from storage import models

__all__ = ["SqlChannelPauses"]

pauses = models.table(models.ChannelPause)


class SqlChannelPauses:
    """Each method is its own short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def pause(
        self,
        channel: Channel,
        credentials: str,
        code: str | None,
        now: datetime,
        probe_after: datetime,
    ) -> None:
        mine = (pauses.c.channel == channel.value) & (pauses.c.credentials == credentials)
        for _ in range(2):  # a second worker may insert the same pause at the same moment
            try:
                with self.engine.begin() as connection:
                    changed = connection.execute(
                        update(pauses).where(mine), {"code": code, "probe_after": probe_after}
                    ).rowcount
                    if not changed:
                        connection.execute(
                            insert(pauses),
                            {
                                "channel": channel.value,
                                "credentials": credentials,
                                "code": code,
                                "since": now,
                                "probe_after": probe_after,
                            },
                        )
                return
            except IntegrityError:
                continue

    def pauses(self) -> list[ChannelPause]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(pauses).order_by(pauses.c.since)).all()
        return [
            ChannelPause(Channel(r.channel), r.credentials, r.code, r.since, r.probe_after)
            for r in rows
        ]

    def lift(self, channel: Channel) -> int:
        with self.engine.begin() as connection:
            gone = connection.execute(delete(pauses).where(pauses.c.channel == channel.value))
        return int(gone.rowcount or 0)
