"""The `engage` command: set up, serve, author activities, simulate, export, demo."""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bot.authoring import check_activity_file, parse_activity
from bot.bootstrap import Runtime, build_runtime, sync_schools
from bot.core.messages import Channel, InboundMessage, OutboundMessage
from bot.core.render import as_plain_text
from bot.errors import EngageError
from bot.logs import configure_logging
from bot.sender import OutboxSender
from bot.service import utcnow
from bot.settings import Settings
from storage.activities import list_activities, record_audit, set_open, store_activity
from storage.database import migrate
from storage.export import ExportFormat, tidy_responses, write_table

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

    from bot.app import create_app

    configure_logging(logging.DEBUG if _verbose else logging.INFO)
    runtime = _runtime(detector=True)
    _initialize(runtime)
    uvicorn.run(create_app(runtime, run_sender=sender), host=host, port=port, log_config=None)


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
            rates={Channel.SMS: runtime.settings.sms_per_second},
        )
        try:
            await outbox_sender.run(stop)
        finally:
            await runtime.close()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


async def _in_thread(work: Callable[[], T]) -> T:
    return await asyncio.to_thread(work)


# -- activities ----------------------------------------------------------------


def _check(paths: Sequence[Path], languages: Sequence[str]) -> bool:
    ok = True
    for path in paths:
        report = check_activity_file(path, languages)
        for problem in report.errors:
            err.print(f"[red]error[/red] {problem}", highlight=False)
        for warning in report.warnings:
            err.print(f"[yellow]warning[/yellow] {warning}", highlight=False)
        if report.errors:
            ok = False
        else:
            out.print(f"{path}: ok ({len(report.warnings)} warnings)")
    return ok


@activity_app.command("validate")
def activity_validate(
    files: Annotated[list[Path], typer.Argument(help="Activity YAML files.")],
) -> None:
    """Check activity files: errors name file:line: field; warnings list missing
    translations and prompts over 2 SMS segments.

    Example: engage activity validate examples/family-priorities.yaml
    """
    runtime = _runtime()
    if not _check(files, runtime.district.languages):
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
    activity: Annotated[str, typer.Argument(help="Activity key, as in `engage activity list`.")],
    fmt: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="File format.")
    ] = ExportFormat.CSV,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
) -> None:
    """Export every answer to an activity, one row per answer, participants pseudonymized.

    Example: engage export family-priorities-2026 --format xlsx -o priorities.xlsx
    """
    runtime = _runtime()
    _initialize(runtime)
    known = {row.key for row in list_activities(runtime.engine)}
    if activity not in known:
        raise EngageError(f"no activity named {activity!r}: see `engage activity list`")
    frame = tidy_responses(
        runtime.engine,
        activity,
        parse_activity,
        runtime.settings.pseudonym_secret.get_secret_value(),
        runtime.district.timezone,
    )
    path = output or Path(f"{activity}.{fmt.value}")
    try:
        write_table(frame, path, fmt)
    except OSError as error:
        raise EngageError(f"cannot write {path}: {error.strerror}") from error
    record_audit(
        runtime.engine,
        "cli",
        "export",
        {"activity": activity, "rows": len(frame), "path": str(path)},
        utcnow(),
    )
    err.print(f"{len(frame)} answers written to {path}")


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

    examples = Path(__file__).resolve().parent.parent / "examples"
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
