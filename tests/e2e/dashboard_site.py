"""`engage serve`'s app with a round under way, for the dashboard tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from bot.bootstrap import build_runtime
from bot.services.inbound import utcnow
from bot.settings import Settings
from bot.web.app import create_app, server_options
from storage import models
from storage.database import migrate
from tests.conftest import EXAMPLES
from tests.fakes.server import serve
from tests.integration.round_data import enroll, seed_round

TOKEN = "organizer-token-7f3a"


@dataclass
class Site:
    url: str
    engine: Engine


def seed(engine: Engine) -> None:
    """12 of 40 English-speaking Lincoln parents answered, 2 of 30 Spanish-speaking Adams
    parents (under-represented), 3 more of them are reachable; one Let's Talk is open."""
    survey = seed_round(engine)
    for index in range(12):
        survey.full_survey(survey.person(phone=f"+1555010{index:04d}"), why="bus late")
    for index in range(2):
        person = survey.person(language="es", school="adams-ms", phone=f"+1555020{index:04d}")
        survey.answer(person, "top", "safety", "1", language="es", at=utcnow())
    for index in range(3):
        survey.person(language="es", school="adams-ms", phone=f"+1555030{index:04d}")
    enroll(engine, {("lincoln-es", "en", "parent"): 40, ("adams-ms", "es", "parent"): 30})
    with engine.begin() as connection:
        connection.execute(
            insert(models.LetsTalk.__table__),
            {
                "participant_id": survey.people[0],
                "contact_id": survey.contacts[survey.people[0]],
                "text": "Who do I call about the bus <stop>?",
                "language": "en",
                "status": "open",
                "created_at": datetime(2026, 9, 2, 14, 0),
            },
        )


@contextmanager
def running_dashboard(
    tmp_path: Path, token: str | None = TOKEN, **overrides: Any
) -> Iterator[Site]:
    """The app served as `engage serve` serves it (its uvicorn options too)."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'engage.db'}",
        district_file=EXAMPLES / "district.yaml",
        spool_dir=tmp_path / "spool",
        admin_token=token,
        **overrides,
    )
    runtime = build_runtime(settings, detector=False)
    migrate(runtime.engine)
    seed(runtime.engine)
    with serve(create_app(runtime, run_sender=False), **server_options(settings)) as url:
        yield Site(url, runtime.engine)
