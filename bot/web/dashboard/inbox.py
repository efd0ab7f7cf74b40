"""The dashboard's view of the Let's Talk inbox against the reply promise: open threads by
age, owner and school, and the share answered within the promise per school and language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from bot.core.inbox_report import InboxReport, PromiseShare, inbox_report
from bot.core.promise import ReplyPromise
from bot.ports import DashboardStore

__all__ = ["gather_inbox", "render_inbox_report"]

# Open threads listed on the page; the rest are counted.
SHOWN = 25


def gather_inbox(store: DashboardStore, promise: ReplyPromise, now: datetime) -> InboxReport:
    """Every thread against `promise`, now."""
    return inbox_report(store.inbox_roots(), promise, now)


def _age(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h"


def _share(share: PromiseShare) -> str:
    if share.share is None:
        return '<span class="muted">—</span>'
    return f'{share.share:.0%} <span class="muted">({share.kept} of {share.decided})</span>'


def _shares(title: str, shares: tuple[PromiseShare, ...], field: str) -> str:
    rows = "".join(
        f'<tr data-{field}="{escape(s.key)}"><td>{escape(s.key)}</td>'
        f'<td class="n">{s.kept}</td><td class="n">{s.broken}</td>'
        f'<td class="n">{s.waiting}</td><td class="n">{_share(s)}</td></tr>'
        for s in shares
    )
    return (
        f"<h3>Answered within the promise, by {title}</h3><table><thead><tr><th>{title}</th>"
        '<th class="n">in time</th><th class="n">late</th><th class="n">waiting</th>'
        f'<th class="n">share</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def render_inbox_report(report: InboxReport, zone: ZoneInfo) -> str:
    """The section: the promise overall, open threads oldest first, shares per school and
    language, open threads per owner."""

    def local(moment: datetime) -> str:
        return moment.replace(tzinfo=UTC).astimezone(zone).strftime("%b %d, %H:%M")

    rows = "".join(
        f'<tr data-thread="{t.item.id}" class="{"overdue" if t.is_overdue else ""}">'
        f"<td>{t.item.id}</td><td>{_age(t.age)}</td>"
        f"<td>{escape(t.item.claimed_by or t.item.owner or '—')}</td>"
        f"<td>{escape(t.item.school or '—')}</td><td>{escape(t.item.language or '—')}</td>"
        f"<td>{'urgent' if t.item.is_urgent else ''}</td><td>{local(t.due_at)}</td>"
        f"<td>{'overdue' if t.is_overdue else 'answered' if t.item.first_response_at else ''}</td>"
        "</tr>"
        for t in report.open[:SHOWN]
    )
    more = (
        f'<p class="muted">… and {len(report.open) - SHOWN} more (engage inbox lists all).</p>'
        if len(report.open) > SHOWN
        else ""
    )
    owners = "".join(f"<li>{escape(owner)}: {count}</li>" for owner, count in report.by_owner)
    return (
        '<section id="inbox-promise"><h2>Reply promise</h2>'
        f'<p>Answered within the promise: <strong data-field="promise-share">'
        f"{_share(report.overall)}</strong>; open: {len(report.open)}, overdue: "
        f'<span data-field="overdue">{report.overdue()}</span>. Age counts business time.</p>'
        "<h3>Open threads, oldest first</h3><table><thead><tr><th>#</th><th>age</th>"
        "<th>owner</th><th>school</th><th>language</th><th>urgency</th><th>due</th>"
        f"<th>state</th></tr></thead><tbody>{rows}</tbody></table>{more}"
        f"<h3>Open threads by owner</h3><ul>{owners}</ul>"
        + _shares("school", report.by_school, "school")
        + _shares("language", report.by_language, "language")
        + "</section>"
    )
