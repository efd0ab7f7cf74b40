"""The `engage` command: set up, serve, author activities, simulate, export, demo."""

from __future__ import annotations

import asyncio
import getpass
import logging
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from bot.authoring.activities import ActivityReport, check_activity_file, parse_activity
from bot.authoring.district import DistrictConfig
from bot.authoring.translations import export_sheet, import_sheet
from bot.bootstrap import (
    Runtime,
    build_broadcasting,
    build_runtime,
    district_config,
    quiet_hours_for,
    sync_schools,
)
from bot.core.messages import Channel, InboundMessage, OutboundMessage
from bot.core.render import as_plain_text
from bot.core.texts import catalog_problems
from bot.errors import EngageError
from bot.logs import configure_logging
from bot.services.broadcasting import Broadcasting, Plan, parse_delay, parse_when
from bot.services.inbound import utcnow
from bot.services.sender import OutboxSender
from bot.settings import Settings
from bot.synthesis.pack import write_pack
from bot.web.chat import build_inbox
from storage.activities import list_activities, set_open, store_activity
from storage.audience import saved_segments
from storage.broadcasts import Progress as BroadcastProgress
from storage.database import migrate
from storage.export import ExportFormat, export_activity, tidy_responses, write_table
from storage.privacy import forget_participant
from storage.representation import measure_representation, plan_follow_up
from storage.roster import RosterRules, import_enrollment, import_roster

__all__ = ["app", "main"]

app = typer.Typer(
    help="District engagement bot: surveys and Let's Talk by SMS, Telegram and Slack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
activity_app = typer.Typer(help="Author, check and publish activities.", no_args_is_help=True)
app.add_typer(activity_app, name="activity")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

_verbose = False


@app.callback()
def _options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks.")] = False,
) -> None:
    global _verbose
    _verbose = verbose
    configure_logging(logging.DEBUG if verbose else logging.WARNING)


def main() -> None:
    """Entry point: an EngageError prints one line and exits 1."""
    try:
        app()
    except EngageError as error:
        if _verbose:
            raise
        err.print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(1)


def _runtime(detector: bool = False) -> Runtime:
    return build_runtime(Settings(), detector=detector)


def _initialize(runtime: Runtime) -> None:
    migrate(runtime.engine)
    sync_schools(runtime.engine, runtime.district)


@app.command()
def init() -> None:
    """Create or upgrade the database and load the district's schools.

    Example: ENGAGE_DISTRICT_FILE=examples/district.yaml engage init
    """
    runtime = _runtime()
    _initialize(runtime)
    out.print(f"Database ready: {runtime.engine.url.render_as_string(hide_password=True)}")
    out.print(
        f"Schools: {len(runtime.district.schools)}; languages: {', '.join(runtime.district.languages)}"
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    sender: Annotated[bool, typer.Option(help="Run the outbox sender in this process.")] = True,
) -> None:
    """Serve the webhooks (and send the outbox) with uvicorn.

    Example: engage serve --host 0.0.0.0 --port 8000
    """
    import uvicorn

    from bot.web.app import create_app

    configure_logging(logging.DEBUG if _verbose else logging.INFO)
    runtime = _runtime(detector=True)
    _initialize(runtime)
    # Each webhook logs its own event line; uvicorn's access line would repeat it.
    uvicorn.run(
        create_app(runtime, run_sender=sender),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
    )


@app.command()
def worker() -> None:
    """Send the outbox only (run several beside `engage serve --no-sender` on PostgreSQL)."""
    configure_logging(logging.DEBUG if _verbose else logging.INFO)
    runtime = _runtime()
    if not runtime.senders:
        raise EngageError("no channel is configured: set TWILIO_* (see README.md)")

    async def run() -> None:
        stop = asyncio.Event()
        outbox_sender = OutboxSender(
            runtime.outbox,
            runtime.senders,
            utcnow,
            run_db=_in_thread,
            rates={
                Channel.SMS: runtime.settings.sms_per_second,
                Channel.TELEGRAM: runtime.settings.telegram_per_second,
                Channel.SLACK: runtime.settings.slack_per_second,
            },
            quiet_hours=quiet_hours_for(runtime),
            lease=timedelta(seconds=runtime.settings.outbox_lease_seconds),
        )
        # Posting Let's Talk messages to the Slack inbox is sending too.
        inbox = build_inbox(runtime, _in_thread)
        loops = [outbox_sender.run(stop)] + ([inbox.run(stop)] if inbox is not None else [])
        # Scheduled broadcasts, reminders, and broadcasts a crash interrupted.
        loops.append(build_broadcasting(runtime).run_schedule(stop, _in_thread))
        try:
            await asyncio.gather(*loops)
        finally:
            await runtime.close()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


async def _in_thread(work: Callable[[], T]) -> T:
    return await asyncio.to_thread(work)


telegram_app = typer.Typer(help="Connect the Telegram bot.", no_args_is_help=True)
app.add_typer(telegram_app, name="telegram")


@telegram_app.command("set-webhook")
def telegram_set_webhook(
    url: Annotated[
        str | None, typer.Option(help="Webhook URL (default: ENGAGE_PUBLIC_URL/webhooks/telegram).")
    ] = None,
) -> None:
    """Tell Telegram to post updates here, signed with TELEGRAM_WEBHOOK_SECRET.

    Example: ENGAGE_PUBLIC_URL=https://bot.district.example.org engage telegram set-webhook
    """
    runtime = _runtime()
    telegram = runtime.telegram
    if telegram is None:
        raise EngageError("Telegram is off: set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET")
    target = url or runtime.settings.public_url.rstrip("/") + "/webhooks/telegram"

    async def register() -> None:
        try:
            await telegram.register_webhook(target)
        finally:
            await runtime.close()

    asyncio.run(register())
    out.print(f"Telegram will post updates to {target}")


# -- activities ----------------------------------------------------------------


def _check(paths: Sequence[Path], languages: Sequence[str], segments: bool = False) -> bool:
    ok = True
    for path in paths:
        report = check_activity_file(path, languages)
        for problem in report.errors:
            err.print(f"[red]error[/red] {problem}", highlight=False)
        for warning in report.warnings:
            err.print(f"[yellow]warning[/yellow] {warning}", highlight=False)
        if report.errors:
            ok = False
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
        table.add_row(where, *cells)
    out.print(table)


# The bot's own texts, once per run: a language without them sends English.
def _check_system_texts(languages: Sequence[str]) -> None:
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
    translations (the activity's and the bot's own, per district language) and
    prompts over 2 SMS segments.

    Example: engage activity validate examples/*.yaml --segments
    """
    district = district_config(Settings())
    _check_system_texts(district.languages)
    if not _check(files, district.languages, segments):
        raise typer.Exit(1)


@activity_app.command("load")
def activity_load(
    files: Annotated[list[Path], typer.Argument(help="Activity YAML files.")],
) -> None:
    """Validate and publish activities (a changed file becomes a new version).

    Example: engage activity load examples/*.yaml
    """
    runtime = _runtime()
    _initialize(runtime)
    if not _check(files, runtime.district.languages):
        raise typer.Exit(1)
    for path in files:
        source = path.read_text(encoding="utf-8-sig")
        activity = parse_activity(source, str(path))
        result = store_activity(runtime.engine, activity, source, utcnow())
        verb = "loaded" if result.created else "unchanged"
        out.print(f"{result.key} v{result.version}: {verb}")


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
    district = district_config(Settings())
    result = import_sheet(sheet, activity, district.languages, dry_run=dry_run)
    for line in result.skipped:
        err.print(f"[yellow]skipped[/yellow] {line}", highlight=False)
    changed = ", ".join(f"{code} {n}" for code, n in result.changes.items() if n) or "nothing"
    verb = "updated" if result.written else "would update" if dry_run else "unchanged"
    out.print(f"{activity}: {verb}; new or changed translations: {changed}", highlight=False)


@activity_app.command("list")
def activity_list() -> None:
    """List activities with their versions and progress."""
    runtime = _runtime()
    _initialize(runtime)
    table = Table("activity", "version", "kind", "open", "participants", "completed", "answers")
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
    runtime = _runtime()
    if not set_open(runtime.engine, key, False, utcnow()):
        raise EngageError(f"no activity named {key!r}: see `engage activity list`")
    out.print(f"{key}: closed")


# -- export --------------------------------------------------------------------


@app.command()
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
    runtime = _command_runtime(ctx)
    secret = runtime.settings.pseudonym_secret.get_secret_value()
    actor = _actor()
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
                runtime.engine,
                activity,
                parse_activity,
                secret,
                runtime.district.timezone,
                pack,
                utcnow(),
                public=public,
                threshold=threshold,
                include_contacts=include_contacts,
                actor=actor,
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
            actor=actor,
        )
    what = "participants" if wide else "answers"
    err.print(f"{result.rows} {what} written to {result.path}")


def _command_runtime(ctx: typer.Context) -> Runtime:
    """A ready runtime whose engine is closed when the command ends."""
    runtime = _runtime()
    ctx.call_on_close(runtime.engine.dispose)
    _initialize(runtime)
    return runtime


def _actor() -> str:
    """Who runs the command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


# -- representation and privacy --------------------------------------------------

participant_app = typer.Typer(help="Act on one participant's data.", no_args_is_help=True)
app.add_typer(participant_app, name="participant")


@app.command()
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
    runtime = _command_runtime(ctx)
    dimensions = tuple(d.strip() for d in by.split(",") if d.strip())
    if not dimensions or set(dimensions) - {"school", "language", "role"}:
        raise EngageError(f"--by {by!r}: use school, language and/or role")
    report = measure_representation(runtime.engine, activity)
    frame = report.frame(dimensions)
    table = Table(*dimensions, "enrolled", "respondents", "rate", "gap", "")
    for record in frame.to_dict("records"):
        rate = record["response_rate"]
        table.add_row(
            *(str(record[d]) for d in dimensions),
            str(record["enrolled"]),
            str(record["respondents"]),
            "—" if rate != rate else f"{rate:.0%}",
            str(record["gap"]),
            "under-represented" if record["under_represented"] else "",
        )
    out.print(table)
    out.print(
        f"District rate {report.rate:.1%}; a group under {report.ratio:.0%} of it is "
        f"under-represented: {len(report.under_represented)} group(s)."
    )
    if follow_up:
        if activity is None:
            raise EngageError("--follow-up needs the activity to invite people to")
        plan = plan_follow_up(runtime.engine, activity, _actor(), utcnow())
        out.print(f"Follow-up planned: {plan.audience} people to reach. Broadcast to each:")
        for audience in plan.filters:
            out.print(f"  {audience}", highlight=False)


@participant_app.command("forget")
def participant_forget(
    ctx: typer.Context,
    who: Annotated[str, typer.Argument(help="Phone number, participant id or pseudonym.")],
    delete_answers: Annotated[
        bool, typer.Option("--delete-answers", help="Delete their structured answers too.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Forget a person on request: contact details and their own words are removed.

    Structured answers stay (de-identified) unless --delete-answers; see docs/synthesis.md.

    Example: engage participant forget +15550100123
    """
    runtime = _command_runtime(ctx)
    if not yes:
        typer.confirm("Remove this person's contact details and words for good?", abort=True)
    report = forget_participant(
        runtime.engine,
        who,
        parse_activity,
        utcnow(),
        actor=_actor(),
        keep_answers=not delete_answers,
    )
    again = " (already forgotten before)" if report.already_forgotten else ""
    out.print(
        f"{report.pseudonym} forgotten{again}: {report.contacts} contact(s), "
        f"{report.messages} message(s), {report.lets_talk} Let's Talk message(s) cleared; "
        f"{report.answers_deleted or report.answers_cleared} answer(s) "
        f"{'deleted' if delete_answers else 'kept without their words'}."
    )
    for thread in report.slack_threads:
        err.print(f"[yellow]Slack thread to delete by hand:[/yellow] {thread}", highlight=False)


# -- rosters, segments and broadcasts (docs/broadcasts.md) ------------------------

roster_app = typer.Typer(help="Import families from the student information system.")
app.add_typer(roster_app, name="roster", no_args_is_help=True)
enrollment_app = typer.Typer(help="Import enrollment figures for the representation check.")
app.add_typer(enrollment_app, name="enrollment", no_args_is_help=True)
segment_app = typer.Typer(help="Save audience filters under a name.")
app.add_typer(segment_app, name="segment", no_args_is_help=True)

# Problems and changes listed one by one before "… and N more".
_SHOWN = 50


def _roster_rules(runtime: Runtime, region: str | None = None) -> RosterRules:
    district = runtime.district
    return RosterRules(
        languages=tuple(district.languages),
        default_language=district.default_language,
        roles=tuple(district.roles),
        schools={s.code: s.name for s in district.schools},
        region=(region or runtime.settings.phone_region).upper(),
    )


def _listed(lines: Sequence[str], style: str) -> None:
    for line in lines[:_SHOWN]:
        err.print(f"[{style}]{line}[/{style}]", highlight=False, markup=True, soft_wrap=True)
    if len(lines) > _SHOWN:
        err.print(f"[{style}]… and {len(lines) - _SHOWN} more[/{style}]")


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

    runtime = _command_runtime(ctx)
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("Reading the roster", total=None)
        report = import_roster(
            runtime.engine,
            file,
            _roster_rules(runtime, region),
            utcnow(),
            dry_run=dry_run,
            actor=_actor(),
            progress=lambda rows: bar.update(task, completed=rows),
        )
    _listed(report.warnings, "yellow")
    _listed([str(bad) for bad in report.bad], "red")
    if dry_run:
        for change in report.changes[:_SHOWN]:
            out.print(str(change), highlight=False)
        if report.added + report.updated > _SHOWN:
            out.print(f"… and {report.added + report.updated - _SHOWN} more changes")
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
    runtime = _command_runtime(ctx)
    report = import_enrollment(
        runtime.engine, file, _roster_rules(runtime), utcnow(), dry_run=dry_run, actor=_actor()
    )
    _listed(report.warnings, "yellow")
    _listed([str(bad) for bad in report.bad], "red")
    verb = "would be" if dry_run else "were"
    out.print(
        f"{report.rows} rows: {report.stored} figures {verb} stored; {len(report.bad)} problem(s).",
        highlight=False,
    )


@segment_app.command("save")
def segment_save(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name to use as segment=NAME.")],
    to: Annotated[str, typer.Option("--to", help="The filter, as for engage broadcast.")],
) -> None:
    """Save an audience filter under a name; `--to segment=NAME` then uses it.

    Example: engage segment save lincoln-spanish --to school=lincoln-es,language=es
    """
    runtime = _command_runtime(ctx)
    broadcasting = build_broadcasting(runtime)
    created, audience = broadcasting.save_segment(name, to, _actor())
    counts = broadcasting.preview(str(audience))
    out.print(
        f"Segment {name} {'saved' if created else 'replaced'}: {audience} "
        f"({counts.people} people, {counts.reachable} reachable now)",
        highlight=False,
    )


@segment_app.command("list")
def segment_list(ctx: typer.Context) -> None:
    """List saved segments and their filters."""
    runtime = _command_runtime(ctx)
    table = Table("segment", "filter")
    for name, audience in saved_segments(runtime.engine):
        table.add_row(name, str(audience))
    out.print(table)


@app.command()
def broadcast(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            help="Activity key to send; or `status` / `cancel` followed by a broadcast id."
        ),
    ],
    broadcast_id: Annotated[
        int | None, typer.Argument(help="With status or cancel: the broadcast.")
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Audience: role=parent,school=lincoln-es,language=es|vi,channel=sms,grade=3,"
            "not-answered=KEY,not-finished=KEY,segment=NAME, or all.",
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
    reaches and how long it takes; or follow and stop broadcasts.

    Examples:
      engage broadcast family-priorities-2026 --to role=parent,school=lincoln-es
      engage broadcast draft-plan-feedback --to all --at 2026-09-14T18:00 --reminders 2
      engage broadcast status 12 --watch
      engage broadcast cancel 12
    """
    runtime = _command_runtime(ctx)
    broadcasting = build_broadcasting(runtime)
    zone = ZoneInfo(runtime.district.timezone)
    if target == "status":
        _broadcast_status(broadcasting, broadcast_id, zone, watch)
        return
    if target == "cancel":
        if broadcast_id is None:
            raise EngageError("which broadcast? engage broadcast cancel ID")
        cancelled = broadcasting.cancel(broadcast_id, _actor())
        out.print(f"Broadcast #{broadcast_id} cancelled; {cancelled} queued message(s) withdrawn.")
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
    _show_plan(plan, broadcasting, zone)
    if dry_run:
        out.print("Dry run: nothing sent.")
        return
    if not yes:
        typer.confirm(f"Send to {plan.counts.reachable} people?", abort=True)
    new_id = broadcasting.confirm(plan, _actor())
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


def _show_plan(plan: Plan, broadcasting: Broadcasting, zone: ZoneInfo) -> None:
    counts, estimate = plan.counts, plan.estimate
    kind = "progress update" if plan.kind.value == "update" else "invitation"
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("broadcast", f"{plan.activity_key} ({kind}): {plan.title}")
    table.add_row("to", str(plan.audience))
    table.add_row("people matching", str(counts.people))
    channels = ", ".join(f"{c} {n}" for c, n in sorted(counts.by_channel.items()))
    table.add_row("will be sent", f"{counts.reachable} ({channels})")
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
    table.add_row(
        "time to send",
        f"~{_duration(estimate.seconds)} at {rates}; done by {_local(estimate.finishes_at, zone)}",
    )
    if plan.reminders:
        table.add_row("reminders", ", ".join(_local(r, zone) for r in plan.reminders))
    out.print(table, highlight=False)
    for warning in plan.warnings:
        err.print(f"[yellow]warning[/yellow] {warning}", highlight=False)


def _enqueue_with_progress(broadcasting: Broadcasting, broadcast_id: int, people: int) -> None:
    from rich.progress import Progress

    with Progress(console=err, transient=True) as bar:
        task = bar.add_task(f"Queueing broadcast #{broadcast_id}", total=people)
        outcome = broadcasting.enqueue(
            broadcast_id,
            actor=_actor(),
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
        table = Table("#", "kind", "activity", "to", "status", "when", "queued", "sent", "failed")
        for record in broadcasting.latest():
            progress = broadcasting.status(record.id)
            table.add_row(
                str(record.id),
                record.kind.value,
                record.activity_key or "",
                str(record.audience),
                record.status.value,
                _local(record.scheduled_at, zone),
                str(progress.queued + progress.sending),
                str(progress.sent),
                str(progress.failed),
            )
        out.print(table)
        return

    def counts(p: BroadcastProgress) -> str:
        return (
            f"queued {p.queued + p.sending} · sent {p.sent} · delivered {p.delivered} · "
            f"failed {p.failed + p.undelivered} · opted out {p.opted_out}"
        )

    progress = broadcasting.status(broadcast_id)
    columns = (TextColumn("#{task.fields[id]}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TextColumn("{task.fields[counts]}"), console=err) as bar:
        task = bar.add_task("", total=progress.total or None, id=broadcast_id, counts="")
        while True:
            bar.update(task, total=progress.total or None, completed=progress.done)
            bar.update(task, counts=counts(progress))
            if not watch or progress.finished or progress.status in ("cancelled", "scheduled"):
                break
            time.sleep(1.0)
            progress = broadcasting.status(broadcast_id)
    out.print(f"Broadcast #{broadcast_id} ({progress.status}): {counts(progress)}", highlight=False)


# -- simulate and demo ---------------------------------------------------------


class TerminalChannel:
    """A channel that prints what would be sent, as an SMS would show it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.count = 0

    async def send(self, message: OutboundMessage) -> str:
        self.count += 1
        body = as_plain_text(message.text, message.choices)
        self.console.print(f"[bold cyan]bot>[/bold cyan] {body}", highlight=False)
        return f"terminal-{uuid.uuid4().hex}"


def _conversation(
    runtime: Runtime, address: str, lines: Sequence[str] | None, console: Console
) -> None:
    sender = OutboxSender(runtime.outbox, {Channel.SIMULATOR: TerminalChannel(console)}, utcnow)

    async def flush() -> None:
        while await sender.run_once():
            pass

    def say(line: str, number: int) -> None:
        runtime.service.handle_inbound(
            InboundMessage(
                Channel.SIMULATOR,
                address,
                line,
                provider_id=f"{address}:{utcnow().isoformat()}:{number}",
            )
        )
        asyncio.run(flush())

    if lines is not None:
        for number, line in enumerate(lines):
            console.print(f"[bold green]you>[/bold green] {line}", highlight=False)
            say(line, number)
        return
    console.print("Type as a family would (Ctrl-D to quit). Try HELP, LANGUAGE, STOP.")
    number = 0
    while True:
        try:
            line = input("you> ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        number += 1
        say(line, number)


@app.command()
def simulate(
    address: Annotated[
        str, typer.Option("--as", help="Who you are, e.g. a phone number.")
    ] = "+15550100001",
) -> None:
    """Chat with the bot in the terminal as a family would, no provider needed.

    Example: engage simulate --as +15550100002
    """
    runtime = _runtime(detector=True)
    _initialize(runtime)
    _conversation(runtime, address, None, out)


# Three families text the district's number; each line is one SMS.
DEMO_FAMILIES: dict[str, list[str]] = {
    "+15550100101": [
        *("Hola", "2", "sí", "1", "garfield", "4", "3,1,5", "no"),
        *("Las notas llegan solo en inglés", "Más maestros bilingües"),
    ],
    "+15550100102": [
        *("PLAN", "3", "có", "1", "1", "5", "1 2 3", "không"),
        *("Thông báo chỉ bằng tiếng Anh", "BỎ QUA"),
    ],
    "+15550100103": [
        *("hi", "1", "yes", "parent", "kennedy", "seven", "2"),
        *("mental health, safety", "yes", "Later start times for high school"),
        "STOP",
    ],
}


@app.command()
def demo(
    database: Annotated[Path, typer.Option(help="SQLite file for the demo.")] = Path(
        "engage-demo.db"
    ),
) -> None:
    """Run a complete demo on SQLite with the examples: three families take the survey,
    then the answers are exported. No credentials needed."""
    import os

    examples = Path(__file__).resolve().parents[2] / "examples"
    if not examples.is_dir():
        raise EngageError("the examples/ folder is missing: run the demo from a source checkout")
    os.environ.setdefault("ENGAGE_DATABASE_URL", f"sqlite:///{database}")
    os.environ.setdefault("ENGAGE_DISTRICT_FILE", str(examples / "district.yaml"))
    runtime = _runtime(detector=True)
    _initialize(runtime)
    files = sorted(examples.glob("*.yaml"))
    activities = [f for f in files if f.name != "district.yaml"]
    for path in activities:
        source = path.read_text(encoding="utf-8-sig")
        store_activity(
            runtime.engine, parse_activity(source, str(path)), source, utcnow(), actor="demo"
        )
    survey = parse_activity(
        (examples / "family-priorities.yaml").read_text("utf-8"), "family-priorities.yaml"
    )
    for address, lines in DEMO_FAMILIES.items():
        out.rule(f"family {address[-4:]} (SMS)")
        _conversation(runtime, address, lines, out)
    frame = tidy_responses(
        runtime.engine,
        survey.key,
        parse_activity,
        runtime.settings.pseudonym_secret.get_secret_value(),
        runtime.district.timezone,
    )
    path = write_table(frame, Path("engage-demo-export.csv"), ExportFormat.CSV)
    out.rule("export")
    out.print(
        frame[["participant", "question", "label_en", "text", "language"]].to_string(index=False)
    )
    out.print(f"\n{len(frame)} answers exported to {path}. Try it yourself: engage simulate")


if __name__ == "__main__":
    main()
