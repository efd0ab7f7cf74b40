"""What the organizers' dashboard reads (bot.ports.DashboardStore): read-only queries,
each its own short transaction; the dashboard says what they mean."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, func, select

from bot.core.moderation import IdeaCard
from bot.core.staff import InboxItem
from bot.core.versions import Parse
from bot.ports import (
    ActivityProgress,
    BroadcastLine,
    ChannelPause,
    FunnelStep,
    LetsTalkSummary,
    QueueDepth,
)
from storage import models
from storage.channel_pauses import SqlChannelPauses
from storage.dashboard_lists import recent_broadcasts
from storage.inbound_queue import SqlInboundQueue
from storage.inbox import SqlInbox
from storage.moderation import SqlModerationUnitOfWork
from storage.progress import activity_progress, answers_per_day, inbox_summary, question_funnel
from storage.synthesis import SqlSynthesisStore

__all__ = ["SqlDashboardStore"]

enrollment = models.table(models.Enrollment)


class SqlDashboardStore(SqlSynthesisStore):
    """bot.ports.DashboardStore on the database."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._pauses = SqlChannelPauses(engine)
        self._inbound = SqlInboundQueue(engine)
        self._inbox = SqlInbox(engine)

    @property
    def database(self) -> str:
        return str(self.engine.url)

    def progress(self) -> list[ActivityProgress]:
        return activity_progress(self.engine)

    def funnel(self, activity_key: str, parse: Parse) -> list[FunnelStep]:
        return question_funnel(self.engine, activity_key, parse)

    def answers_per_day(
        self, activity_key: str | None, timezone: str, days: int, now: datetime
    ) -> pd.Series:
        return answers_per_day(self.engine, activity_key, timezone, days, now)

    def lets_talk_summary(self) -> LetsTalkSummary:
        return inbox_summary(self.engine)

    def inbox_roots(self) -> list[InboxItem]:
        return self._inbox.roots()

    def recent_broadcasts(self) -> list[BroadcastLine]:
        return recent_broadcasts(self.engine)

    def pauses(self) -> list[ChannelPause]:
        return self._pauses.pauses()

    def inbound_depth(self, now: datetime) -> QueueDepth:
        return self._inbound.depth(now)

    def waiting_ideas(self, activity_key: str) -> list[IdeaCard]:
        with SqlModerationUnitOfWork(self.engine) as uow:
            return uow.cards(activity_key, ("pending",))

    def enrolled(self, column: str) -> dict[str, int]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(enrollment.c[column], func.sum(enrollment.c.count)).group_by(
                    enrollment.c[column]
                )
            ).all()
        return {str(value): int(total or 0) for value, total in rows}
