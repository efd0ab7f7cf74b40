"""`engage --help` answers at once: heavy libraries load only when a command needs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "pandas",
    "sklearn",
    "matplotlib",
    "twilio",
    "telegram",
    "slack_sdk",
    "slack_bolt",
    "lingua",
    "wordfreq",
    "openpyxl",
    "starlette",
    "uvicorn",
)

PROBE = """
import json, sys
from typer.testing import CliRunner
from bot.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
assert result.exit_code == 0, result.output
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.mark.parametrize(
    "arguments",
    [["--help"], ["activity", "--help"], ["broadcast", "--help"], ["export", "--help"]],
    ids=["engage", "activity", "broadcast", "export"],
)
def test_help_loads_no_heavy_library(arguments: list[str]) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, *arguments], capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(probe.stdout.splitlines()[-1]))
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
