"""Results are worked out again when answers change, but not more than every five minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from bot.web.dashboard import results
from bot.web.dashboard.results import REFRESH_SECONDS, activity_results
from storage.dashboard import SqlDashboardStore


def test_results_wait_for_new_answers_and_then_for_the_refresh_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worked: list[str] = []

    def work_out(*args: Any) -> None:
        worked.append(args[2])

    monkeypatch.setattr(results, "_work_out", work_out)
    store = SqlDashboardStore(create_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    now = [1000.0]

    def ask(version: tuple[int, str]) -> None:
        activity_results(store, None, "survey", "UTC", 10, version, clock=lambda: now[0])  # type: ignore[arg-type]

    ask((1, "a"))
    ask((1, "a"))
    now[0] += REFRESH_SECONDS + 1
    ask((1, "a"))  # nothing new: still the same
    assert len(worked) == 1
    ask((2, "b"))  # new answers, and the last time was long ago
    assert len(worked) == 2
    now[0] += 10
    ask((3, "c"))  # new answers again, but only 10 s later
    assert len(worked) == 2
    now[0] += REFRESH_SECONDS
    ask((3, "c"))
    assert len(worked) == 3
