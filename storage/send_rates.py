"""The send rates the workers use, per channel (`send_rates`): one row each, last word wins."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select

from bot.core.messages import Channel
from storage import models

__all__ = ["record_send_rates", "send_rates_in_use"]

rates = models.table(models.SendRate)


def record_send_rates(engine: Engine, per_second: Mapping[Channel, float], now: datetime) -> None:
    """Say which rates this worker sends at (replacing what an earlier one said)."""
    if not per_second:
        return
    with engine.begin() as connection:
        channels = [channel.value for channel in per_second]
        connection.execute(delete(rates).where(rates.c.channel.in_(channels)))
        connection.execute(
            insert(rates),
            [
                {"channel": channel.value, "per_second": value, "reported_at": now}
                for channel, value in per_second.items()
            ],
        )


def send_rates_in_use(engine: Engine) -> dict[Channel, float]:
    """The rates the workers last said they send at."""
    with engine.connect() as connection:
        rows = connection.execute(select(rates.c.channel, rates.c.per_second)).all()
    known = {c.value for c in Channel}
    return {Channel(r.channel): float(r.per_second) for r in rows if r.channel in known}
