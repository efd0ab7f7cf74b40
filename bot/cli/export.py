"""`engage export` and `engage representation`: what the planning committee reads."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from bot.cli.session import (
    actor,
    command_runtime,
    err,
    out,
)
from bot.core.formats import ExportFormat
from bot.errors import EngageError

if TYPE_CHECKING:
    pass


def export(
    ctx: typer.Context,
    activity: Annotated[str, typer.Argument(help="Activity key, as in `engage activity list`.")],
    fmt: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="File format.")
    ] = ExportFormat.CSV,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    pack: Annotated[
        Path | None,
        typer.Option("--pack", help="Write the synthesis pack to this folder instead."),
    ] = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="One row per participant × activity.")
    ] = False,
    include_contacts: Annotated[
        bool, typer.Option("--include-contacts", help="Add phone numbers and handles.")
    ] = False,
    public: Annotated[
        bool,
        typer.Option("--public", help="With --pack: aggregates only, small counts suppressed."),
    ] = False,
) -> None:
    """Export every answer to an activity, one row per answer, participants pseudonymized.

    Example: engage export family-priorities-2026 --format xlsx -o priorities.xlsx

    Example: engage export family-priorities-2026 --pack synthesis/ (add --public to share)
    """
    from bot.authoring.activities import parse_activity
    from bot.bootstrap import build_synthesis_store, pseudonym_secret
    from bot.services.inbound import utcnow
    from bot.synthesis.pack import write_pack
    from storage.export import export_activity

    runtime = command_runtime(ctx)
    secret = pseudonym_secret(runtime.settings)
    who = actor()
    if include_contacts:
        err.print(
            "[yellow]warning:[/yellow] this export holds phone numbers and handles: "
            "keep it private and delete it when done",
            highlight=False,
        )
    if pack is not None:
        if output is not None or wide:
            raise EngageError("--pack writes every table itself: drop -o/--wide")
        threshold = runtime.settings.suppression_threshold
        with err.status(f"Writing the synthesis pack of {activity}…"):
            report = write_pack(
                build_synthesis_store(runtime),
                activity,
                parse_activity,
                secret,
                runtime.district.timezone,
                pack,
                utcnow(),
                public=public,
                threshold=threshold,
                include_contacts=include_contacts,
                actor=who,
            )
        for note in report.notes:
            err.print(f"[yellow]note:[/yellow] {note}", highlight=False)
        kind = f"public (counts under {threshold} hidden)" if public else "internal"
        err.print(
            f"{kind} pack of {report.answers} answers from {report.participants} people: "
            f"{len(report.files)} files in {pack}"
        )
        return
    if public:
        raise EngageError(
            "row-level tables are never public: use --pack DIR --public for suppressed aggregates"
        )
    with runtime.engine.connect() as connection:
        from storage.export import activity_versions

        newest = activity_versions(connection, activity, parse_activity)[-1].activity
    if newest.exchange is not None:
        raise EngageError(
            f"{activity} is an idea exchange: its reactions are in `engage ideas report "
            f"{activity}` (Polis's files included) or `engage export {activity} --pack DIR`"
        )
    path = output or Path(f"{activity}{'-wide' if wide else ''}.{fmt.value}")
    with err.status(f"Exporting {activity}…"):
        result = export_activity(
            runtime.engine,
            activity,
            parse_activity,
            secret,
            runtime.district.timezone,
            path,
            fmt,
            utcnow(),
            wide=wide,
            include_contacts=include_contacts,
            actor=who,
        )
    what = "participants" if wide else "answers"
    err.print(f"{result.rows} {what} written to {result.path}")


def report(
    ctx: typer.Context,
    activity: Annotated[str, typer.Argument(help="Activity key, as in `engage activity list`.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write [default: ACTIVITY-report.html]."),
    ] = None,
    with_quotes: Annotated[
        bool,
        typer.Option(
            "--with-quotes", help="Add up to two quotes per theme (themes of enough people only)."
        ),
    ] = False,
) -> None:
    """Write a print-ready board report of an activity: one HTML file, small counts hidden.

    Open it in a browser and print it (or save it as PDF) for the superintendent.

    Example: engage report family-priorities-2026 -o board-report.html
    """
    from bot.authoring.activities import parse_activity
    from bot.bootstrap import build_synthesis_store, pseudonym_secret
    from bot.files.private import create_private
    from bot.services.inbound import utcnow
    from bot.synthesis.pack import board_data
    from bot.synthesis.report import render_board_report

    runtime = command_runtime(ctx)
    path = output or Path(f"{activity}-report.html")
    threshold = runtime.settings.suppression_threshold
    now = utcnow()
    store = build_synthesis_store(runtime)
    with err.status(f"Writing the board report of {activity}…"):
        data = board_data(
            store,
            activity,
            parse_activity,
            pseudonym_secret(runtime.settings),
            runtime.district.timezone,
            now,
            threshold=threshold,
        )
        html = render_board_report(data, with_quotes=with_quotes)
        temporary = path.with_name(f".{path.name}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            create_private(temporary, replace=True)
            temporary.write_text(html, encoding="utf-8")
            temporary.replace(path)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise EngageError(f"cannot write {path}: {error.strerror or error}") from error
    store.record_audit(
        actor(),
        "export.report",
        {"activity": activity, "path": str(path.resolve()), "quotes": with_quotes},
        now,
    )
    err.print(
        f"Board report of {data.answers} answers from {data.people} people written to {path} "
        f"(counts under {threshold} hidden). Open it in a browser and print it.",
        highlight=False,
    )


def representation(
    ctx: typer.Context,
    activity: Annotated[
        str | None, typer.Argument(help="Activity key; all activities when left out.")
    ] = None,
    by: Annotated[
        str, typer.Option(help="Rows per: school, language and/or role, comma-separated.")
    ] = "school,language",
    follow_up: Annotated[
        bool, typer.Option("--follow-up", help="Plan a follow-up to the groups flagged.")
    ] = False,
) -> None:
    """Response rates against enrollment; flags under-represented groups.

    Example: engage representation family-priorities-2026 --by school,language,role
    """
    from bot.services.inbound import utcnow
    from bot.synthesis.representation import measure_representation, plan_follow_up
    from storage.representation import SqlRepresentation

    runtime = command_runtime(ctx)
    dimensions = tuple(d.strip() for d in by.split(",") if d.strip())
    if not dimensions or set(dimensions) - {"school", "language", "role"}:
        raise EngageError(f"--by {by!r}: use school, language and/or role")
    store = SqlRepresentation(runtime.engine)
    report = measure_representation(store, activity)
    frame = report.frame(dimensions)
    table = Table(*dimensions, "enrolled", "respondents", "rate", "gap", "")
    records = frame.to_dict("records")
    for record in records:
        rate = record["response_rate"]
        shown = "—" if rate != rate else f"{rate:.1%}"
        if record["respondents"] == 0 and record["enrolled"]:
            shown = "nobody yet"
        table.add_row(
            *(str(record[d]) for d in dimensions),
            str(record["enrolled"]),
            str(record["respondents"]),
            shown,
            str(record["gap"]),
            "under-represented" if record["under_represented"] else "",
        )
    flagged = sum(1 for record in records if record["under_represented"])
    scope = f"{report.school}'s rate" if report.school else "District rate"
    out.print(
        f"{scope} {report.rate:.1%}; a group under {report.ratio:.0%} of it is "
        f"under-represented: {flagged} of {len(records)} row(s) flagged."
    )
    out.print(table)
    if report.school:
        out.print(f"{activity} is {report.school}'s own round: only its enrollment counts.")
    if report.unmatched:
        out.print(
            f"{report.unmatched} respondent(s) have a school, language or role "
            "not in the enrollment figures."
        )
    if follow_up:
        if activity is None:
            raise EngageError("--follow-up needs the activity to invite people to")
        plan = plan_follow_up(store, activity, actor(), utcnow())
        out.print(f"Follow-up planned: {plan.audience} people to reach. Broadcast to each:")
        for audience in plan.filters:
            out.print(f"  {audience}", highlight=False)
