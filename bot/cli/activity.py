"""`engage activity`: check, publish and translate activities."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bot.cli.session import (
    err,
    initialize,
    open_runtime,
    out,
)
from bot.errors import EngageError

if TYPE_CHECKING:
    from bot.authoring.activities import ActivityReport
    from bot.authoring.district import DistrictConfig
    from bot.bootstrap import Runtime
    from bot.core.state import Program


activity_app = typer.Typer(help="Author, check and publish activities.", no_args_is_help=True)


def _activity_files(paths: Sequence[Path], in_use: Path | None) -> list[Path]:
    """`paths` without the district files a glob like examples/*.yaml also catches."""
    from bot.authoring.district import is_district_file

    activities = []
    for path in paths:
        if not is_district_file(path):
            activities.append(path)
            continue
        if in_use is not None and path.resolve() == in_use.resolve():
            note = "the district file in use"
        else:
            note = f"to use it: export ENGAGE_DISTRICT_FILE={path}, then engage init"
        err.print(
            f"[cyan]note[/cyan] {path}: a district file, not an activity: skipped ({note})",
            highlight=False,
        )
    return activities


def _check(
    paths: Sequence[Path],
    languages: Sequence[str],
    segments: bool = False,
    program: str | None = None,
    say_ok: bool = True,
) -> bool:
    """Print each file's errors and warnings; with `say_ok`, a line for each valid file."""
    from bot.authoring.activities import check_activity_file

    ok = True
    for path in paths:
        report = check_activity_file(path, languages, program)
        for problem in report.errors:
            err.print(f"[red]error[/red] {escape(problem)}", highlight=False)
        for warning in report.warnings:
            err.print(f"[yellow]warning[/yellow] {escape(warning)}", highlight=False)
        if report.errors:
            ok = False
            continue
        if not say_ok:
            continue
        translated = ", ".join(
            f"{code} {count}/{report.texts}" for code, count in report.translated.items()
        )
        out.print(
            f"{path}: ok ({len(report.warnings)} warnings); translated: {translated}",
            highlight=False,
        )
        if segments:
            _show_segments(report)
    return ok


def _show_segments(report: ActivityReport) -> None:
    languages = list(report.translated)
    table = Table("message", *languages, title=f"SMS segments: {report.path}")
    for where, costs in report.segments.items():
        cells = []
        for code in languages:
            cost = costs[code]
            shown = f"{cost.segments} ({cost.encoding.value})"
            cells.append(f"[yellow]{shown}[/yellow]" if cost.segments > 2 else shown)
        table.add_row(escape(where), *cells)
    out.print(table)


def _show_system_segments(program: Program, languages: Sequence[str]) -> None:
    """Each of the bot's own texts in SMS segments per district language, as sent:
    filled with the district's program name and contact (and short samples), the
    onboarding texts with their menus."""
    from bot.authoring.text_costs import system_text_costs
    from bot.core.segments import Encoding
    from bot.core.texts import SOURCE_LANGUAGE

    languages = list(languages)
    table = Table("text", *languages, title="SMS segments: the bot's own texts")
    for message_id, costs in system_text_costs(program, languages).items():
        english = costs[SOURCE_LANGUAGE]
        cells = []
        for code in languages:
            cost = costs[code]
            shown = f"{cost.segments} ({cost.encoding.value})"
            worse = cost.segments > 1 and (
                cost.segments > english.segments
                or (cost.encoding is Encoding.UCS2 and english.encoding is not Encoding.UCS2)
            )
            cells.append(f"[yellow]{shown}[/yellow]" if worse else shown)
        table.add_row(escape(message_id), *cells)
    out.print(table)


# The bot's own texts, once per run: a language without them sends English.
def _check_system_texts(languages: Sequence[str]) -> None:
    from bot.core.texts import catalog_problems

    for problem in catalog_problems(languages):
        err.print(
            f"[yellow]warning[/yellow] bot/languages/{problem} (English is sent instead)",
            highlight=False,
        )


@activity_app.command("validate")
def activity_validate(
    files: Annotated[list[Path], typer.Argument(help="Activity YAML files.")],
    segments: Annotated[
        bool, typer.Option("--segments", help="Show every message's SMS cost per language.")
    ] = False,
) -> None:
    """Check activity files: errors name file:line: field; warnings list missing
    translations (the activity's and the bot's own, per district language),
    prompts over 2 SMS segments, public link shorteners, characters that make a
    text UCS-2, and a first message that does not name the program or say how
    to stop.

    Example: engage activity validate examples/*.yaml --segments
    """
    from bot.authoring.district import contact_warnings
    from bot.bootstrap import district_config, district_file_in_use, program_for
    from bot.settings import Settings

    settings = Settings()
    district = district_config(settings)
    _check_system_texts(district.languages)
    for warning in contact_warnings(district):
        err.print(f"[yellow]warning[/yellow] {escape(warning)}", highlight=False)
    if segments:
        _show_system_segments(program_for(district, settings), district.languages)
    if not _check(
        _activity_files(files, district_file_in_use(settings)),
        district.languages,
        segments,
        district.program_name,
    ):
        raise typer.Exit(1)


@activity_app.command("load")
def activity_load(
    files: Annotated[list[Path], typer.Argument(help="Activity YAML files.")],
) -> None:
    """Validate and publish activities (a changed file becomes a new version).

    Example: engage activity load examples/*.yaml
    """
    from bot.authoring.activities import parse_activity
    from bot.bootstrap import district_file_in_use
    from bot.services.inbound import utcnow
    from storage.activities import store_activity

    runtime = open_runtime()
    initialize(runtime)
    activities = _activity_files(files, district_file_in_use(runtime.settings))
    if not activities:
        raise EngageError("no activity files to load: name one or more activity YAML files")
    # All or nothing: a round is published whole, never with one file missing.
    if not _check(activities, runtime.district.languages, say_ok=False):
        err.print("[red]Nothing loaded:[/red] fix the errors above, then load again.")
        raise typer.Exit(1)
    for path in activities:
        source = path.read_text(encoding="utf-8-sig")
        activity = parse_activity(source, str(path))
        result = store_activity(runtime.engine, activity, source, utcnow())
        verb = "loaded" if result.created else "unchanged (already loaded)"
        out.print(f"{path}: {result.key} v{result.version} {verb}", highlight=False)
    _say_first_activity(runtime)


def _say_first_activity(runtime: Runtime) -> None:
    """What a family who signs up starts, so nobody is surprised by it."""
    from bot.core.step import NO_FIRST_ACTIVITY
    from storage.activities import list_activities

    chosen = runtime.district.first_activity
    if chosen is None:
        err.print(
            "[cyan]note[/cyan] a family who signs up starts the newest open survey or "
            "feedback round; to choose one, set first_activity in the district file",
            highlight=False,
        )
    elif chosen != NO_FIRST_ACTIVITY and not any(
        row.key == chosen and row.is_open for row in list_activities(runtime.engine)
    ):
        err.print(
            f"[yellow]warning[/yellow] the district file's first_activity, {chosen!r}, is not "
            "an open activity: families who sign up start the newest open survey instead",
            highlight=False,
        )


translations_app = typer.Typer(
    help="Translation sheets (XLSX) for the district's translators.", no_args_is_help=True
)
activity_app.add_typer(translations_app, name="translations")


def _sheet_languages(district: DistrictConfig, chosen: Sequence[str]) -> list[str]:
    for code in chosen:
        if code not in district.languages:
            raise EngageError(
                f"--language {code}: not one of the district's languages "
                f"({', '.join(district.languages)})"
            )
    return list(chosen) or list(district.languages)


@translations_app.command("export")
def translations_export(
    activity: Annotated[Path, typer.Argument(help="The activity's YAML file.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Where to write the sheet [default: FILE.translations.xlsx, here]."
        ),
    ] = None,
    language: Annotated[
        list[str] | None,
        typer.Option("--language", "-l", help="Only this language (repeat for more)."),
    ] = None,
) -> None:
    """Write every text of ACTIVITY to an XLSX sheet, a column per district language.

    Missing translations are highlighted; send the sheet to your translators.

    Example: engage activity translations export examples/family-priorities.yaml -l so -l ar
    """
    from bot.authoring.translations import export_sheet
    from bot.bootstrap import district_config
    from bot.settings import Settings

    district = district_config(Settings())
    languages = _sheet_languages(district, language or [])
    target = output or Path(f"{activity.stem}.translations.xlsx")
    result = export_sheet(activity, languages, target)
    missing = ", ".join(f"{code} {count}" for code, count in result.missing.items()) or "none"
    out.print(
        f"{result.path}: {result.texts} texts; missing translations: {missing}", highlight=False
    )


@translations_app.command("import")
def translations_import(
    activity: Annotated[Path, typer.Argument(help="The activity's YAML file, which is updated.")],
    sheet: Annotated[Path, typer.Argument(help="The filled-in XLSX sheet.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the sheet and say what would change.")
    ] = False,
) -> None:
    """Read a filled-in translation sheet back into ACTIVITY's file.

    Rows whose source text changed since the export are skipped and listed;
    an empty cell never removes a translation. Load the file afterwards with
    `engage activity load`.

    Example: engage activity translations import examples/family-priorities.yaml family.xlsx
    """
    from bot.authoring.translations import import_sheet
    from bot.bootstrap import district_config
    from bot.settings import Settings

    district = district_config(Settings())
    result = import_sheet(sheet, activity, district.languages, dry_run=dry_run)
    for line in result.skipped:
        err.print(f"[yellow]skipped[/yellow] {escape(line)}", highlight=False)
    changed = ", ".join(f"{code} {n}" for code, n in result.changes.items() if n) or "nothing"
    verb = "updated" if result.written else "would update" if dry_run else "unchanged"
    out.print(f"{activity}: {verb}; new or changed translations: {changed}", highlight=False)


@activity_app.command("list")
def activity_list(
    demo: Annotated[
        bool, typer.Option("--demo", help="List the demo's (after engage demo, in this folder).")
    ] = False,
) -> None:
    """List activities with their versions and progress."""
    from storage.activities import list_activities

    runtime = open_runtime(demo=demo)
    initialize(runtime)
    # Keys are long and must read whole, at 80 columns too.
    table = Table("activity", "v", "kind", "open", "people", "finished", "answers")
    table.columns[0].overflow = "fold"
    for row in list_activities(runtime.engine):
        table.add_row(
            row.key,
            str(row.version),
            row.kind,
            "yes" if row.is_open else "no",
            str(row.participants),
            str(row.completed),
            str(row.responses),
        )
    out.print(table)


@activity_app.command("close")
def activity_close(key: str) -> None:
    """Stop offering an activity (conversations under way may finish)."""
    from bot.services.inbound import utcnow
    from storage.activities import set_open

    runtime = open_runtime()
    if not set_open(runtime.engine, key, False, utcnow()):
        raise EngageError(f"no activity named {key!r}: see `engage activity list`")
    out.print(f"{key}: closed")
