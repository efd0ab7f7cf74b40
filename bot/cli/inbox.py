"""`engage inbox`: open Let's Talk threads by age, owner and school, and the reply promise kept."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from bot.cli.session import actor, command_runtime, err, out
from bot.core.formats import ExportFormat
from bot.errors import EngageError

if TYPE_CHECKING:
    from bot.core.inbox_report import PromiseShare


def inbox(
    ctx: typer.Context,
    school: Annotated[
        str | None, typer.Option(help="Only open threads of this school (its code).")
    ] = None,
    limit: Annotated[int, typer.Option(help="List at most this many open threads.")] = 50,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Write every thread (owners, answer times, urgency; pseudonymized) "
            "to this .csv, .xlsx or .parquet file instead.",
        ),
    ] = None,
) -> None:
    """Open Let's Talk threads, oldest first, and the share answered within the promise.

    Age is business time (the district file's `inbox:` hours and holidays). The
    promise figures count each thread once, per school and per language:
    answered in time, answered late or overdue, and still within the promise.

    Example: engage inbox --school lincoln-es

    Example: engage inbox --export inbox-2026-10.xlsx
    """
    from bot.bootstrap import export_inbox, inbox_report_now

    runtime = command_runtime(ctx)
    if export is not None:
        suffix = export.suffix.lower().lstrip(".")
        try:
            fmt = ExportFormat(suffix)
        except ValueError:
            raise EngageError(f"--export {export}: name a .csv, .xlsx or .parquet file") from None
        rows = export_inbox(runtime, export, fmt, actor())
        err.print(f"{rows} threads written to {export}")
        return
    report = inbox_report_now(runtime)
    threads = [t for t in report.open if school is None or t.item.school == school]
    overdue = sum(1 for t in threads if t.is_overdue)
    out.print(
        f"[bold]Let's Talk inbox[/bold]: {len(threads)} open, {overdue} overdue; "
        f"answered within the promise: {_share(report.overall)}",
        highlight=False,
    )
    table = Table("#", "age", "owner", "school", "language", "urgency", "state", title="Open")
    for thread in threads[:limit]:
        item = thread.item
        state = "overdue" if thread.is_overdue else "answered" if item.first_response_at else ""
        table.add_row(
            str(item.id),
            _age(thread.age),
            item.claimed_by or item.owner or "-",
            item.school or "-",
            item.language or "-",
            item.urgency.value if item.urgency.value != "none" else "",
            state,
        )
    out.print(table)
    if len(threads) > limit:
        out.print(f"… and {len(threads) - limit} more")
    for title, shares in (("school", report.by_school), ("language", report.by_language)):
        promise = Table(title, "in time", "late", "waiting", "share", title=f"Promise by {title}")
        for share in shares:
            promise.add_row(
                share.key, str(share.kept), str(share.broken), str(share.waiting), _share(share)
            )
        out.print(promise)


def _share(share: PromiseShare) -> str:
    if share.share is None:
        return "nothing answered or overdue yet"
    return f"{share.share:.0%} ({share.kept} of {share.decided})"


def _age(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h"
