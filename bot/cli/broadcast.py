"""`engage broadcast` and `engage segment`: who hears from the district, and when."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from bot.cli.session import (
    actor,
    command_runtime,
    err,
    out,
)
from bot.errors import EngageError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.core.broadcasts import Progress as BroadcastProgress
    from bot.services.broadcasting import Broadcasting, Plan


segment_app = typer.Typer(help="Save audience filters under a name.")


@segment_app.command("save")
def segment_save(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name to use as segment=NAME.")],
    to: Annotated[str, typer.Option("--to", help="The filter, as for engage broadcast.")],
) -> None:
    """Save an audience filter under a name; `--to segment=NAME` then uses it.

    Example: engage segment save lincoln-spanish --to school=lincoln-es,language=es
    """
    from bot.bootstrap import build_broadcasting

    runtime = command_runtime(ctx)
    broadcasting = build_broadcasting(runtime)
    created, audience = broadcasting.save_segment(name, to, actor())
    counts = broadcasting.preview(str(audience))
    out.print(
        f"Segment {name} {'saved' if created else 'replaced'}: {audience} "
        f"({counts.people} people, {counts.reachable} reachable now)",
        highlight=False,
    )


@segment_app.command("list")
def segment_list(ctx: typer.Context) -> None:
    """List saved segments and their filters."""
    from storage.audience import saved_segments

    runtime = command_runtime(ctx)
    table = Table("segment", "filter")
    for name, audience in saved_segments(runtime.engine):
        table.add_row(name, str(audience))
    out.print(table)


def broadcast(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            help="Activity key to send; or `status`, `pause`, `resume` or `cancel` followed by "
            "a broadcast id."
        ),
    ],
    broadcast_id: Annotated[
        int | None, typer.Argument(help="With status, pause, resume or cancel: the broadcast.")
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Audience: role=parent,school=lincoln-es,language=es|vi,channel=sms,grade=3,"
            "not-answered=KEY,not-finished=KEY,segment=NAME,group=SCHOOL/LANGUAGE/ROLE,"
            "under-represented[=KEY], or all.",
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(help="When, in the district's time zone: 2026-09-14T18:00 or +2h."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the numbers and stop.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm without asking (scripts).")] = False,
    reminders: Annotated[
        int | None,
        typer.Option(help="Reminders to those who have not finished (default ENGAGE_REMINDERS)."),
    ] = None,
    reminder_delay: Annotated[
        str | None, typer.Option(help="Time between reminders, like 3d or 36h.")
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="With status: follow until everything is sent.")
    ] = False,
) -> None:
    """Send an activity (or a progress update) to an audience, after showing who it
    reaches and how long it takes; or follow, pause, resume and cancel broadcasts.

    Pause and cancel take effect on every worker before its next message: a
    message whose sending has not begun is held (pause) or withdrawn (cancel).

    Examples:
      engage broadcast family-priorities-2026 --to role=parent,school=lincoln-es
      engage broadcast draft-plan-feedback --to all --at 2026-09-14T18:00 --reminders 2
      engage broadcast family-priorities-2026 --to under-represented=family-priorities-2026
      engage broadcast status 12 --watch
      engage broadcast pause 12
      engage broadcast resume 12
      engage broadcast cancel 12
    """
    from bot.bootstrap import build_broadcasting
    from bot.services.broadcasting import parse_delay, parse_when
    from bot.services.inbound import utcnow

    runtime = command_runtime(ctx)
    broadcasting = build_broadcasting(runtime, preview=dry_run)
    zone = ZoneInfo(runtime.district.timezone)
    if target == "status":
        _broadcast_status(broadcasting, broadcast_id, zone, watch)
        _paused_channels(runtime.engine, zone)
        return
    if target in ("cancel", "pause", "resume"):
        if broadcast_id is None:
            raise EngageError(f"which broadcast? engage broadcast {target} ID")
        if target == "cancel":
            cancelled = broadcasting.cancel(broadcast_id, actor())
            out.print(
                f"Broadcast #{broadcast_id} cancelled; {cancelled} queued message(s) withdrawn."
            )
        elif target == "pause":
            progress = broadcasting.pause(broadcast_id, actor())
            out.print(
                f"Broadcast #{broadcast_id} paused; {progress.queued + progress.sending} "
                f"message(s) wait. Resume it: engage broadcast resume {broadcast_id}",
                highlight=False,
            )
        else:
            progress = broadcasting.resume(broadcast_id, actor())
            out.print(
                f"Broadcast #{broadcast_id} resumed; {progress.queued + progress.sending} "
                "message(s) to send.",
                highlight=False,
            )
        return
    if to is None:
        raise EngageError("who to? add --to FILTER (or --to all); see engage broadcast --help")
    when = parse_when(at, zone, utcnow()) if at else None
    plan = broadcasting.plan(
        target,
        to,
        at=when,
        reminders=reminders,
        reminder_delay=parse_delay(reminder_delay) if reminder_delay else None,
    )
    from storage.send_rates import send_rates_in_use

    _show_plan(plan, broadcasting, zone, reported=bool(send_rates_in_use(runtime.engine)))
    if dry_run:
        if not runtime.senders:
            err.print(
                "[yellow]warning[/yellow] no channel is configured here (TWILIO_*, TELEGRAM_*, "
                "SLACK_*): counted as if every channel were; nothing can be sent until one is",
                highlight=False,
            )
        # After the warnings, on their stream: a reader of both sees it last, on its own line.
        err.print("Dry run: nothing sent.")
        return
    if not yes:
        typer.confirm(f"Send to {plan.counts.reachable} people?", abort=True)
    new_id = broadcasting.confirm(plan, actor())
    if plan.scheduled_at > utcnow():
        out.print(
            f"Broadcast #{new_id} scheduled for {_local(plan.scheduled_at, zone)}; "
            "engage serve or engage worker sends it then.",
            highlight=False,
        )
        return
    _enqueue_with_progress(broadcasting, new_id, plan.counts.people)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.replace(tzinfo=UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _show_plan(
    plan: Plan, broadcasting: Broadcasting, zone: ZoneInfo, reported: bool | None = None
) -> None:
    from bot.services.inbound import utcnow

    counts, estimate = plan.counts, plan.estimate
    kind = "progress update" if plan.kind.value == "update" else "invitation"
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("broadcast", f"{plan.activity_key} ({kind}): {plan.title}")
    table.add_row("to", str(plan.audience))
    table.add_row("people matching", str(counts.people))
    channels = ", ".join(f"{c} {n}" for c, n in sorted(counts.by_channel.items()))
    table.add_row("will be sent", f"{counts.reachable} ({channels})")
    if counts.shared:
        table.add_row("on a phone already counted", f"{counts.shared} (one message per phone)")
    table.add_row("opted out", str(counts.opted_out))
    table.add_row("unreachable", str(counts.unreachable))
    table.add_row("declined", str(counts.declined))
    languages = ", ".join(f"{lang} {n}" for lang, n in counts.by_language.most_common())
    table.add_row("languages", languages)
    starts = "now" if plan.scheduled_at <= utcnow() else _local(plan.scheduled_at, zone)
    if estimate.deferred:
        starts = f"{_local(estimate.starts_at, zone)} (after quiet hours)"
    table.add_row("starts", starts)
    rates = ", ".join(
        f"{c.value} {broadcasting.policy.rates.get(c) or 'no limit'}/s"
        for c in broadcasting.rules.channels
    )
    if reported is not None:
        rates += (
            " (as the workers send)"
            if reported
            else " (this machine's ENGAGE_*_PER_SECOND: no worker has said its own yet)"
        )
    table.add_row(
        "time to send",
        f"~{_duration(estimate.seconds)} at {rates}; done by {_local(estimate.finishes_at, zone)}",
    )
    if plan.reminders:
        table.add_row("reminders", ", ".join(_local(r, zone) for r in plan.reminders))
    if plan.costs:
        table.add_row(
            "first SMS",
            ", ".join(
                f"{lang} {cost.segments} segment{'s' if cost.segments > 1 else ''} "
                f"({cost.encoding.value})"
                for lang, cost in plan.costs.items()
            )
            + " (with who we are and how to stop, for families we never wrote to)",
        )
    out.print(table, highlight=False)
    for warning in plan.warnings:
        err.print(f"[yellow]warning[/yellow] {escape(warning)}", highlight=False)


def _enqueue_with_progress(broadcasting: Broadcasting, broadcast_id: int, people: int) -> None:
    from rich.progress import Progress

    with Progress(console=err, transient=True) as bar:
        task = bar.add_task(f"Queueing broadcast #{broadcast_id}", total=people)
        outcome = broadcasting.enqueue(
            broadcast_id,
            actor=actor(),
            progress=lambda done: bar.update(task, completed=done.people),
        )
    if outcome is None:
        out.print(f"Broadcast #{broadcast_id} is being queued by another process.")
        return
    waiting = f", {outcome.waiting} waiting for another activity to end" if outcome.waiting else ""
    out.print(
        f"Broadcast #{broadcast_id}: {outcome.queued} message(s) queued{waiting}; "
        f"{outcome.skipped} already had it. Follow it: engage broadcast status {broadcast_id} "
        "--watch",
        highlight=False,
    )


def _broadcast_status(
    broadcasting: Broadcasting, broadcast_id: int | None, zone: ZoneInfo, watch: bool
) -> None:

    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    if broadcast_id is None:
        # Readable at 80 columns: what and to whom on two lines, counts in short columns.
        table = Table(
            "#",
            "broadcast, to",
            "status",
            "when",
            "queued",
            "sent",
            "failed",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            collapse_padding=True,
            caption=f"times in {zone.key}",
        )
        table.columns[1].overflow = "fold"
        table.columns[1].min_width = 24
        table.columns[2].overflow = "fold"
        table.columns[2].max_width = 10
        for record in broadcasting.latest():
            progress = broadcasting.status(record.id)
            status = _status(progress).replace(", ", "\n")
            if progress.cancelled:
                status += f"\n{progress.cancelled} cancelled"
            table.add_row(
                str(record.id),
                f"{record.activity_key or record.kind.value}\n{record.kind.value} to {record.audience}",
                status,
                record.scheduled_at.replace(tzinfo=UTC).astimezone(zone).strftime("%b %d %H:%M"),
                str(progress.queued + progress.sending),
                str(progress.sent),
                str(progress.failed + progress.undelivered),
            )
        out.print(table, highlight=False)
        out.print("Details of one: engage broadcast status ID", highlight=False)
        return

    def counts(p: BroadcastProgress) -> str:
        return (
            f"queued {p.queued + p.sending} · sent {p.sent} · delivered {p.delivered} · "
            f"failed {p.failed + p.undelivered} · opted out {p.opted_out} · "
            f"cancelled {p.cancelled}"
        )

    progress = broadcasting.status(broadcast_id)
    columns = (TextColumn("#{task.fields[id]}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TextColumn("{task.fields[counts]}"), console=err) as bar:
        task = bar.add_task("", total=progress.total or None, id=broadcast_id, counts="")
        while True:
            bar.update(task, total=progress.total or None, completed=progress.done)
            bar.update(task, counts=counts(progress))
            if (
                not watch
                or progress.finished
                or progress.paused
                or progress.status in ("cancelled", "scheduled")
            ):
                break
            time.sleep(1.0)
            progress = broadcasting.status(broadcast_id)
    out.print(
        f"Broadcast #{broadcast_id} ({_status(progress)}): {counts(progress)}",
        highlight=False,
        soft_wrap=True,
    )


def _paused_channels(engine: Engine, zone: ZoneInfo) -> None:
    """Channels the provider refused our configuration for, in plain words."""
    from bot.core.setup_problems import WHAT_HAPPENS, explain
    from storage.channel_pauses import SqlChannelPauses

    pauses = SqlChannelPauses(engine).pauses()
    for pause in pauses:
        err.print(
            f"[red]{pause.channel.value} paused[/red] since {_local(pause.since, zone)}: "
            f"{explain(pause.channel, pause.code)}",
            highlight=False,
        )
    if pauses:
        err.print(WHAT_HAPPENS, highlight=False)


def _status(progress: BroadcastProgress) -> str:
    return f"{progress.status}, paused" if progress.paused else progress.status
