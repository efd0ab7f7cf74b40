"""`engage simulate` and `engage demo`: the bot in a terminal, no provider needed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from bot.cli.session import (
    DEMO_DATABASE,
    examples_folder,
    initialize,
    open_runtime,
    out,
)
from bot.errors import EngageError

if TYPE_CHECKING:
    from bot.bootstrap import Runtime
    from bot.core.messages import OutboundMessage


class TerminalChannel:
    """A channel that prints what would be sent, as an SMS would show it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.count = 0

    async def send(self, message: OutboundMessage) -> str:
        from bot.core.render import as_plain_text

        self.count += 1
        body = as_plain_text(message.text, message.choices)
        self.console.print(f"[bold cyan]bot>[/bold cyan] {body}", highlight=False)
        return f"terminal-{uuid.uuid4().hex}"


def _conversation(
    runtime: Runtime, address: str, lines: Sequence[str] | None, console: Console
) -> None:
    from bot.core.messages import Channel, InboundMessage
    from bot.services.inbound import utcnow
    from bot.services.sender import OutboxSender

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


def simulate(
    address: Annotated[
        str, typer.Option("--as", help="Who you are, e.g. a phone number.")
    ] = "+15550100001",
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Use the database `engage demo` wrote in this folder."),
    ] = False,
) -> None:
    """Chat with the bot in the terminal as a family would, no provider needed.

    Examples:
      engage simulate --as +15550100002
      engage simulate --demo   (after engage demo, with the demo's activities)
    """
    runtime = open_runtime(detector=True, demo=demo)
    initialize(runtime)
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


def demo(
    database: Annotated[
        Path, typer.Option(help="SQLite file for the demo (its name must contain 'demo').")
    ] = DEMO_DATABASE,
) -> None:
    """Run a complete demo on SQLite with the examples: three families take the survey,
    then the answers are exported. No credentials needed; each run starts afresh.

    Afterwards, `engage simulate --demo` and `engage serve --demo` use its database.
    """
    import secrets

    from bot.authoring.activities import parse_activity
    from bot.bootstrap import build_runtime
    from bot.files.tables import write_table
    from bot.services.inbound import utcnow
    from bot.settings import Settings
    from storage.activities import store_activity
    from storage.export import ExportFormat, tidy_responses

    examples = examples_folder()
    if not examples.is_dir():
        raise EngageError("the examples/ folder is missing: run the demo from a source checkout")
    if "demo" not in database.name:
        raise EngageError(
            f"--database {database}: the demo starts by deleting its file; "
            "name one with 'demo' in it"
        )
    # A clean start each time: a second run must not continue the first one's conversations.
    for leftover in (database, *(Path(f"{database}{end}") for end in ("-wal", "-shm", "-journal"))):
        leftover.unlink(missing_ok=True)
    runtime = build_runtime(
        Settings(
            database_url=f"sqlite:///{database}",
            district_file=examples / "district.yaml",
        ),
        detector=True,
    )
    initialize(runtime)
    activities = [p for p in sorted(examples.glob("*.yaml")) if p.name != "district.yaml"]
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
    # The demo's keys need not outlive it: a fresh random secret, kept nowhere.
    frame = tidy_responses(
        runtime.engine,
        survey.key,
        parse_activity,
        secrets.token_urlsafe(32),
        runtime.district.timezone,
    )
    runtime.engine.dispose()
    path = write_table(frame, Path("engage-demo-export.csv"), ExportFormat.CSV)
    out.rule("export")
    label = frame["label_en"].fillna("").astype(str)
    shown = frame.assign(answer=label.where(label != "", frame["text"].fillna("")))
    out.print(
        shown[["participant", "question", "answer", "language"]].to_string(index=False),
        highlight=False,
        soft_wrap=True,
    )
    out.print(f"\n{len(frame)} answers exported to {path}.", highlight=False)
    if database == DEMO_DATABASE:
        out.print(
            "Try it yourself on the demo's data (in this folder):\n"
            "  engage simulate --demo      chat as a family would\n"
            "  engage serve --demo         the dashboard, at http://127.0.0.1:8000/\n"
            "Run `engage demo` again to start afresh.",
            highlight=False,
        )
    else:
        out.print(
            "Try it yourself on the demo's data: set "
            f"ENGAGE_DATABASE_URL=sqlite:///{database} "
            f"ENGAGE_DISTRICT_FILE={examples / 'district.yaml'}, then engage simulate",
            highlight=False,
            soft_wrap=True,
        )
