"""The import contract: dependencies point one way (docs/architecture.md).

web and cli -> services -> core and ports; storage implements the ports and
imports only bot.core, bot.ports, bot.errors and bot.files; channels know only
core types; bot.core does no I/O and imports no SQL, web framework or provider
SDK; synthesis and the dashboard read through ports, never storage or SQL.
Every import counts, including those inside functions and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "storage", "channels")

SQL = ("sqlalchemy", "alembic", "psycopg")
WEB = ("starlette", "uvicorn", "httpx", "aiohttp")
SDKS = ("twilio", "telegram", "slack_sdk", "slack_bolt")
OUTER = ("bot.web", "bot.cli", "bot.bootstrap")

# Which modules may not import which (a prefix matches the module and its submodules).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "bot.core": (
        *OUTER,
        "bot.services",
        "bot.authoring",
        "bot.synthesis",
        "bot.settings",
        "storage",
        "channels",
        *SQL,
        *WEB,
        *SDKS,
    ),
    "bot.ports": (*OUTER, "bot.services", "storage", "channels", *SQL, *WEB, *SDKS),
    "bot.errors": ("bot.", "storage", "channels"),
    "bot.services": (*OUTER, "storage", "channels", *SQL, *WEB, *SDKS),
    "bot.files": (
        *OUTER,
        "bot.services",
        "bot.authoring",
        "bot.synthesis",
        "bot.settings",
        "storage",
        "channels",
        *SQL,
        *WEB,
        *SDKS,
    ),
    "bot.authoring": (*OUTER, "bot.services", "bot.synthesis", "storage", "channels"),
    "bot.synthesis": (*OUTER, "bot.services", "storage", "channels", *SQL, *WEB, *SDKS),
    # The dashboard reads through bot.ports.DashboardStore, wired in bot/bootstrap.py.
    "bot.web.dashboard": (
        "bot.cli",
        "bot.bootstrap",
        "bot.services",
        "storage",
        "channels",
        *SQL,
        *SDKS,
    ),
    "storage": (*OUTER, "bot.services", "bot.authoring", "bot.synthesis", "bot.settings"),
    "channels": (*OUTER, "bot.services", "bot.authoring", "bot.synthesis", "storage", *SQL),
}

# Imports that break the contract today, each with the change that removes it.
# The list only shrinks: a new violation fails the suite.
KNOWN_DEBTS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True, slots=True)
class Violation:
    module: str
    line: int
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported} (forbidden: {self.rule})"


def imports_of(source: str, module: str) -> Iterator[tuple[int, str]]:
    """Every module `source` imports, with its line, relative imports resolved."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            yield node.lineno, base


def matches(name: str, prefix: str) -> bool:
    if prefix.endswith("."):
        return name.startswith(prefix)
    return name == prefix or name.startswith(prefix + ".")


def violations(source: str, module: str) -> list[Violation]:
    found = []
    for layer, forbidden in FORBIDDEN.items():
        if not matches(module, layer):
            continue
        for line, imported in imports_of(source, module):
            for rule in forbidden:
                if matches(imported, rule) and not _is_debt(module, imported):
                    found.append(Violation(module, line, imported, rule))
    return found


def _is_debt(module: str, imported: str) -> bool:
    return any(module == debtor and matches(imported, creditor) for debtor, creditor in KNOWN_DEBTS)


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            yield name.removesuffix(".__init__"), path


def test_every_import_points_the_right_way() -> None:
    found = [str(v) for name, path in modules() for v in violations(path.read_text("utf-8"), name)]
    assert found == []


def test_each_known_debt_is_still_owed() -> None:
    """A debt paid off leaves the list, so it cannot come back unnoticed."""
    sources = {name: path.read_text("utf-8") for name, path in modules()}
    for debtor, creditor in KNOWN_DEBTS:
        imported = {name for _, name in imports_of(sources[debtor], debtor)}
        assert any(matches(name, creditor) for name in imported), (debtor, creditor)


@pytest.mark.parametrize(
    ("module", "source", "rule"),
    [
        ("bot.core.step", "from storage.models import Participant", "storage"),
        ("bot.core.step", "import sqlalchemy", "sqlalchemy"),
        ("bot.core.step", "def f():\n    from twilio.rest import Client", "twilio"),
        ("bot.services.roster", "from storage import models", "storage"),
        ("bot.services.inbox", "from channels.slack import SlackChannel", "channels"),
        ("storage.outbox", "from bot.services.sender import OutboxSender", "bot.services"),
        ("storage.outbox", "from bot.web.app import create_app", "bot.web"),
        ("channels.telegram", "from storage.outbox import OutboxStore", "storage"),
        ("bot.synthesis.themes", "from ..services import inbound", "bot.services"),
        ("bot.synthesis.pack", "from storage.export import tidy_responses", "storage"),
        ("bot.synthesis.pack", "from sqlalchemy import select", "sqlalchemy"),
        ("bot.web.dashboard.routes", "from storage.progress import activity_progress", "storage"),
        ("bot.web.dashboard.exchange", "from sqlalchemy import Engine", "sqlalchemy"),
        ("bot.web.dashboard.results", "from bot.bootstrap import Runtime", "bot.bootstrap"),
        ("bot.files.tables", "from storage.export import snapshot", "storage"),
        ("bot.files.tables", "from sqlalchemy import select", "sqlalchemy"),
    ],
    ids=lambda value: value if "\n" not in value and " " not in value else None,
)
def test_a_forbidden_import_is_caught(module: str, source: str, rule: str) -> None:
    assert [v.rule for v in violations(source, module)] == [rule]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("bot.services.inbound", "from bot.ports import UnitOfWork"),
        ("storage.outbox", "from bot.core.messages import Channel"),
        ("bot.web.app", "from storage.outbox import OutboxStore"),
        ("bot.cli.export", "from bot.synthesis.pack import write_pack"),
        ("storage.export", "from bot.files.tables import write_csv"),
        ("bot.web.dashboard.routes", "from bot.ports import DashboardStore"),
        ("bot.web.app", "from bot.web.dashboard.routes import dashboard_routes"),
    ],
)
def test_an_allowed_import_passes(module: str, source: str) -> None:
    assert violations(source, module) == []
