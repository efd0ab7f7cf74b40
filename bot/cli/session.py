"""What every command shares: the two consoles, the runtime, who is acting."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console

from bot.errors import EngageError

if TYPE_CHECKING:
    from bot.bootstrap import Runtime
    from bot.settings import Settings


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


# `engage demo` writes its database here, in the folder it runs in; `--demo` finds it.
DEMO_DATABASE = Path("engage-demo.db")

# What the last runtime opened, for error messages: "using database …; district file …".
_in_use: str | None = None


def examples_folder() -> Path:
    """The examples/ folder of this checkout (the demo's activities and district file)."""
    return Path(__file__).resolve().parents[2] / "examples"


def demo_settings() -> Settings:
    """The demo's database in this folder and the examples' district file, whatever is set."""
    from bot.settings import Settings

    return Settings(
        database_url=f"sqlite:///{DEMO_DATABASE}",
        district_file=examples_folder() / "district.yaml",
    )


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None for other databases and in-memory ones)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def _check_database(settings: Settings, demo: bool) -> None:
    """Refuse a SQLite file that is not there: only `engage init` (and the demo) create one."""
    path = sqlite_file(settings.database_url)
    if path is None or path.exists():
        return
    where = path.resolve()
    if demo:
        raise EngageError(
            f"no demo database in this folder ({where}): run `engage demo` here first"
        )
    named = (
        f"ENGAGE_DATABASE_URL={settings.database_url}"
        if "database_url" in settings.model_fields_set
        else f"the default database, {settings.database_url}"
    )
    raise EngageError(
        f"no database at {where} ({named}, relative to the folder you are in). "
        "Run this command in the folder where you ran `engage init`, set "
        "ENGAGE_DATABASE_URL to the database, or run `engage init` to create one here"
    )


def open_runtime(
    detector: bool = False, *, create: bool = False, demo: bool = False, database: bool = True
) -> Runtime:
    """The runtime for a command; `create`: make the database if missing (init and demo only);
    `demo`: the demo's database and district; `database`: whether the command needs one."""
    global _in_use
    from bot.bootstrap import build_runtime, district_file_in_use
    from bot.settings import Settings

    settings = demo_settings() if demo else Settings()
    if database and not create:
        _check_database(settings, demo)
    runtime = build_runtime(settings, detector=detector)
    district = district_file_in_use(settings)
    path = sqlite_file(settings.database_url)
    shown = path.resolve() if path else runtime.engine.url.render_as_string(hide_password=True)
    _in_use = (
        f"database {shown}; "
        f"district file {district.resolve() if district else 'none (built-in defaults)'}"
    )
    return runtime


def in_use() -> str | None:
    """Which database and district file the command used, once it opened them."""
    return _in_use


def initialize(runtime: Runtime) -> None:
    from bot.bootstrap import sync_schools
    from storage.database import migrate

    migrate(runtime.engine)
    sync_schools(runtime.engine, runtime.district)


def command_runtime(ctx: typer.Context, demo: bool = False) -> Runtime:
    """A ready runtime whose engine is closed when the command ends."""
    runtime = open_runtime(demo=demo)
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
