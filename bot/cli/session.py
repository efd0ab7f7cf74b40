"""What every command shares: the two consoles, the runtime, who is acting."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:
    from bot.bootstrap import Runtime


T = TypeVar("T")

out = Console()
err = Console(stderr=True)

# Problems and changes listed one by one before "… and N more".
SHOWN = 50

_verbose = False


def set_verbose(on: bool) -> None:
    global _verbose
    _verbose = on


def verbose() -> bool:
    """Whether -v was given: debug logs and tracebacks."""
    return _verbose


def open_runtime(detector: bool = False) -> Runtime:
    from bot.bootstrap import build_runtime
    from bot.settings import Settings

    return build_runtime(Settings(), detector=detector)


def initialize(runtime: Runtime) -> None:
    from bot.bootstrap import sync_schools
    from storage.database import migrate

    migrate(runtime.engine)
    sync_schools(runtime.engine, runtime.district)


def command_runtime(ctx: typer.Context) -> Runtime:
    """A ready runtime whose engine is closed when the command ends."""
    runtime = open_runtime()
    ctx.call_on_close(runtime.engine.dispose)
    initialize(runtime)
    return runtime


def actor() -> str:
    """Who runs the command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def listed(lines: Sequence[str], style: str) -> None:
    for line in lines[:SHOWN]:
        err.print(f"[{style}]{line}[/{style}]", highlight=False, markup=True, soft_wrap=True)
    if len(lines) > SHOWN:
        err.print(f"[{style}]… and {len(lines) - SHOWN} more[/{style}]")


async def in_thread(work: Callable[[], T]) -> T:
    return await asyncio.to_thread(work)
