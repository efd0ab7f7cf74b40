"""The dashboard's broadcast status, in plain words."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from bot.core.send_errors import plain_error
from bot.ports import BroadcastLine, OutboxStatus

__all__ = ["render_broadcasts"]

UTC = ZoneInfo("UTC")
KINDS = {
    "activity": "activity",
    "update": "progress update",
    "reminder": "reminder",
    "message": "message",
}


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return "—"
    return moment.replace(tzinfo=UTC).astimezone(zone).strftime("%b %d, %H:%M")


def _state(line: BroadcastLine, now: datetime) -> str:
    """Where the broadcast is, as an organizer would say it."""
    if line.status == "cancelled":
        return "cancelled"
    if line.paused:
        return "paused"
    if line.status == "scheduled":
        return "scheduled" if line.scheduled_at > now else "starting"
    if line.status == "enqueuing":
        return "preparing messages"
    if line.waiting:
        return "sending"
    return "done"


def render_broadcasts(lines: list[BroadcastLine], zone: ZoneInfo, now: datetime) -> str:
    """Recent broadcasts: sent, waiting and failed messages, and why they failed."""
    if not lines:
        return (
            '<section id="broadcasts"><h2>Broadcasts</h2><p class="muted">No broadcast yet: '
            "<code>engage broadcast ACTIVITY --audience …</code>.</p></section>"
        )
    rows = []
    for line in lines:
        counts = line.counts
        failed = counts.get(OutboxStatus.FAILED, 0)
        withheld = counts.get(OutboxStatus.WITHHELD, 0)
        problems = "".join(
            f'<li data-code="{escape(p.code or "")}"><strong>{p.count:,}</strong> '
            f"{'waiting to be retried' if p.retrying else 'not sent'} "
            f"({escape(p.channel)}): {escape(plain_error(p.channel, p.code))}</li>"
            for p in line.problems
        )
        rows.append(
            f'<tr data-broadcast="{line.id}"><td class="n">#{line.id}</td>'
            f"<td>{escape(KINDS.get(line.kind, line.kind))}"
            f'<div class="muted">{escape(line.activity or "")}</div></td>'
            f'<td data-field="state">{escape(_state(line, now))}</td>'
            f"<td>{_local(line.scheduled_at, zone)}</td>"
            f'<td class="n">{line.total:,}</td>'
            f'<td class="n" data-field="sent">{counts.get(OutboxStatus.SENT, 0):,}</td>'
            f'<td class="n" data-field="waiting">{line.waiting:,}</td>'
            f'<td class="n" data-field="failed">{failed:,}</td>'
            f'<td class="n">{withheld:,}</td></tr>'
            + (
                f'<tr class="problems"><td></td><td colspan="8"><ul>{problems}</ul></td></tr>'
                if problems
                else ""
            )
        )
    return (
        '<section id="broadcasts"><h2>Broadcasts</h2>'
        '<p class="muted">The newest first. "Not sent" counts messages the provider refused '
        "for good; withheld ones went to nobody because the family opted out or cannot be "
        "reached. Follow one with <code>engage broadcast status ID</code>.</p>"
        "<table><thead><tr><th class=n>#</th><th>what</th><th>state</th><th>when</th>"
        "<th class=n>people</th><th class=n>sent</th><th class=n>waiting</th>"
        "<th class=n>not sent</th><th class=n>withheld</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )
