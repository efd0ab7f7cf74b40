"""`engage roster` and `engage enrollment`: families and figures from the SIS."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.session import (
    SHOWN,
    actor,
    command_runtime,
    err,
    listed,
    out,
)

if TYPE_CHECKING:
    from bot.bootstrap import Runtime
    from storage.roster import RosterRules


roster_app = typer.Typer(help="Import families from the student information system.")
enrollment_app = typer.Typer(help="Import enrollment figures for the representation check.")


def _roster_rules(runtime: Runtime, region: str | None = None) -> RosterRules:
    from storage.roster import RosterRules

    district = runtime.district
    return RosterRules(
        languages=tuple(district.languages),
        default_language=district.default_language,
        roles=tuple(district.roles),
        schools={s.code: s.name for s in district.schools},
        region=(region or runtime.settings.phone_region).upper(),
    )


@roster_app.command("import")
def roster_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV or XLSX export from the SIS.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    region: Annotated[
        str | None,
        typer.Option(
            help="Region of phone numbers without +country (default ENGAGE_PHONE_REGION)."
        ),
    ] = None,
) -> None:
    """Add or update families: columns phone, language, school, role (and optionally
    telegram, slack_user, grade, name, external_id, consent). Re-importing updates
    people by external_id, else by phone. Bad rows are listed and skipped.

    Example: engage roster import roster.csv --dry-run
    """
    from rich.progress import Progress

    from bot.services.inbound import utcnow
    from storage.roster import import_roster

    runtime = command_runtime(ctx)
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("Reading the roster", total=None)
        report = import_roster(
            runtime.engine,
            file,
            _roster_rules(runtime, region),
            utcnow(),
            dry_run=dry_run,
            actor=actor(),
            progress=lambda rows: bar.update(task, completed=rows),
        )
    listed(report.warnings, "yellow")
    listed([str(bad) for bad in report.bad], "red")
    if dry_run:
        for change in report.changes[:SHOWN]:
            out.print(str(change), highlight=False)
        if report.added + report.updated > SHOWN:
            out.print(f"… and {report.added + report.updated - SHOWN} more changes")
    verb = "would be" if dry_run else "were"
    out.print(
        f"{report.rows} rows: {report.added} people {verb} added, {report.updated} updated, "
        f"{report.unchanged} unchanged; {len(report.bad)} problem(s) in rows not imported."
        + (" Dry run: nothing changed." if dry_run else ""),
        highlight=False,
    )


@enrollment_app.command("import")
def enrollment_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV or XLSX: school, language, role, count.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only.")] = False,
) -> None:
    """Store how many people each school has per language and role (replacing older figures).

    Example: engage enrollment import examples/enrollment.csv
    """
    from bot.services.inbound import utcnow
    from storage.roster import import_enrollment

    runtime = command_runtime(ctx)
    report = import_enrollment(
        runtime.engine, file, _roster_rules(runtime), utcnow(), dry_run=dry_run, actor=actor()
    )
    listed(report.warnings, "yellow")
    listed([str(bad) for bad in report.bad], "red")
    verb = "would be" if dry_run else "were"
    out.print(
        f"{report.rows} rows: {report.stored} figures {verb} stored; {len(report.bad)} problem(s).",
        highlight=False,
    )
