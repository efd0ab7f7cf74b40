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
    from bot.services.roster import RosterImport


roster_app = typer.Typer(help="Import families from the student information system.")
enrollment_app = typer.Typer(help="Import enrollment figures for the representation check.")


def _roster_import(
    runtime: Runtime, region: str | None = None, max_students_per_phone: int | None = None
) -> RosterImport:
    from bot.bootstrap import build_roster_import

    return build_roster_import(runtime, region, max_students_per_phone)


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
    max_students_per_phone: Annotated[
        int,
        typer.Option(
            min=1,
            help="A phone listed for more students than this is a front office: kept, not texted.",
        ),
    ] = 10,
) -> None:
    """Add or update families. One row per student and guardian (student_id, school,
    grade, guardian_id or name, relationship, phone, email, language, contact_order)
    or one row per person (phone, language, school, role, grade). Households are
    merged and reported; bad rows are listed as file:line: column: problem and skipped.

    Example: engage roster import sis-export.csv --dry-run
    """
    from rich.progress import Progress

    runtime = command_runtime(ctx)
    importer = _roster_import(runtime, region, max_students_per_phone)
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("Reading the roster", total=None)
        report = importer.run(
            file,
            dry_run=dry_run,
            actor=actor(),
            progress=lambda rows: bar.update(task, completed=rows),
        )
    listed(report.warnings, "yellow")
    listed([str(bad) for bad in report.bad], "red")
    for merge in report.merges[:SHOWN]:
        out.print(merge, highlight=False)
    if len(report.merges) > SHOWN:
        out.print(f"… and {len(report.merges) - SHOWN} more households of several rows")
    for change in report.changes[:SHOWN]:
        out.print(change, highlight=False)
    if report.changed > SHOWN:
        out.print(f"… and {report.changed - SHOWN} more changes")
    verb = "would be" if dry_run else "were"
    out.print(
        f"{report.rows} rows, {report.households} households: {report.people_added} people "
        f"{verb} added, {report.people_updated} updated, {report.people_unchanged} unchanged; "
        f"{report.students_added} students added, {report.students_updated} updated, "
        f"{report.students_withdrawn} no longer listed; {len(report.bad)} problem(s) in rows "
        f"not imported." + (" Dry run: nothing changed." if dry_run else ""),
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
    runtime = command_runtime(ctx)
    report = _roster_import(runtime).enrollment(file, dry_run=dry_run, actor=actor())
    listed(report.warnings, "yellow")
    listed([str(bad) for bad in report.bad], "red")
    verb = "would be" if dry_run else "were"
    out.print(
        f"{report.rows} rows: {report.stored} figures {verb} stored; {len(report.bad)} problem(s).",
        highlight=False,
    )
