"""The `engage` command: set up, serve, author activities, simulate, export, demo."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer
from rich.markup import escape
from typer.core import TyperOption

from bot.cli import (
    activity,
    broadcast,
    consent,
    export,
    ideas,
    inbox,
    participant,
    roster,
    server,
    setup,
    simulate,
)
from bot.cli.session import err, in_use, set_verbose, verbose
from bot.errors import EngageError
from bot.logs import configure_logging

__all__ = ["app", "main"]

_display_type = TyperOption.display_type_rich


def _flag_without_type(self: TyperOption, ctx: typer.Context) -> str | None:
    """A flag takes no value: show `--verbose`, not `--verbose <bool>` (typer 0.29 does)."""
    if self.is_flag:
        return None
    return _display_type(self, ctx)


TyperOption.display_type_rich = _flag_without_type  # type: ignore[method-assign,assignment]

PRIVATE_UMASK = 0o077

app = typer.Typer(
    help="District engagement bot: surveys and Let's Talk by SMS, Telegram and Slack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks.")] = False,
) -> None:
    set_verbose(verbose)
    configure_logging(logging.DEBUG if verbose else logging.WARNING)


app.command()(setup.init)
app.command()(server.serve)
app.command()(server.worker)
app.add_typer(setup.telegram_app, name="telegram")
app.add_typer(activity.activity_app, name="activity")
app.command()(export.export)
app.command()(export.report)
app.command()(export.representation)
app.add_typer(participant.participant_app, name="participant")
app.add_typer(consent.consent_app, name="consent")
app.add_typer(roster.roster_app, name="roster", no_args_is_help=True)
app.add_typer(roster.enrollment_app, name="enrollment", no_args_is_help=True)
app.add_typer(broadcast.segment_app, name="segment", no_args_is_help=True)
app.command()(broadcast.broadcast)
app.add_typer(ideas.ideas_app, name="ideas", no_args_is_help=True)
app.command()(inbox.inbox)
app.command()(simulate.simulate)
app.command()(simulate.demo)


def main() -> None:
    """Entry point: an EngageError prints one line and exits 1.

    Every file and folder the command makes (database, spool, exports, packs, consent
    records) is its owner's alone, whatever the shell's umask.
    """
    os.umask(PRIVATE_UMASK)
    try:
        app()
    except EngageError as error:
        if verbose():
            raise
        err.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
        if in_use() is not None:
            err.print(f"(using {in_use()})", highlight=False, style="dim", soft_wrap=True)
        sys.exit(1)
