"""Representation with households on SQLite and PostgreSQL: a school's round against its
own enrollment, a household counted once per school, and the under-represented audience."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from bot.authoring.activities import parse_activity
from bot.core.audience import AudienceError, Group
from bot.core.messages import Channel, InboundMessage
from bot.core.roster import RosterRules
from bot.services.broadcasting import Broadcasting
from bot.services.inbound import Service
from bot.services.roster import RosterImport
from bot.synthesis.representation import measure_representation, under_represented_groups
from storage import models
from storage.activities import store_activity
from storage.broadcasts import BroadcastStore
from storage.representation import SqlRepresentation
from storage.roster import SqlRosterUnitOfWork
from storage.unit_of_work import SqlUnitOfWork
from tests.integration.round_data import enroll
from tests.integration.test_household_broadcasts import (
    POLICY,
    PROGRAM,
    RULES,
    SCHOOLS,
    SIS,
    round_source,
)

NOW = datetime(2026, 9, 1, 15, 0)
# Ana and Luis share a phone for children at Lincoln and Roosevelt; Mai and Binh have a
# phone each for one child at Roosevelt; Rosa and Tom are Roosevelt families too.
ROSTER = (
    SIS
    + "1001,lincoln-es,2,G1,Ana,mother,(312) 555-0101,es,1\n"
    + "1002,roosevelt-ms,7,G1,Ana,mother,(312) 555-0101,es,1\n"
    + "1002,roosevelt-ms,7,G2,Luis,father,(312) 555-0101,es,2\n"
    + "4001,roosevelt-ms,6,G6,Mai,mother,(312) 555-0106,vi,1\n"
    + "4001,roosevelt-ms,6,G7,Binh,father,(312) 555-0107,vi,2\n"
    + "5001,roosevelt-ms,8,G8,Rosa,grandmother,(312) 555-0108,en,1\n"
    + "5002,roosevelt-ms,8,G9,Tom,father,(312) 555-0109,en,1\n"
)
PRIORITIES = """\
key: priorities
kind: survey
version: 1
default_language: en
title: {en: Priorities, es: Prioridades, vi: Ưu tiên}
questions:
  - key: support
    type: scale
    prompt:
      en: How are we doing?
      es: ¿Cómo lo hacemos?
      vi: Chúng tôi làm thế nào?
    scale: {min: 1, max: 5}
"""
ENROLLED = {
    ("lincoln-es", "es", "parent"): 10,
    ("roosevelt-ms", "es", "parent"): 10,
    ("roosevelt-ms", "vi", "parent"): 10,
    ("roosevelt-ms", "en", "parent"): 20,
    ("kennedy-hs", "en", "parent"): 50,
}


@pytest.fixture
def district(engine: Engine, tmp_path: Path) -> Engine:
    with engine.begin() as connection:
        connection.execute(
            insert(models.table(models.School)),
            [{"code": c, "name": n, "created_at": NOW} for c, n in SCHOOLS.items()],
        )
    path = tmp_path / "sis.csv"
    path.write_text(ROSTER, encoding="utf-8")
    rules = RosterRules(PROGRAM.languages, "en", PROGRAM.roles, SCHOOLS)
    assert RosterImport(lambda: SqlRosterUnitOfWork(engine), rules, lambda: NOW).run(path).bad == []
    for key, source in (
        ("roosevelt-round", round_source("roosevelt-round", "roosevelt-ms")),
        ("priorities", PRIORITIES),
    ):
        store_activity(engine, parse_activity(source, f"{key}.yaml"), source, NOW)
    enroll(engine, ENROLLED)
    return engine


def flagged(engine: Engine):  # type: ignore[no-untyped-def]
    return lambda activity: under_represented_groups(SqlRepresentation(engine), activity)


@pytest.fixture
def broadcasting(district: Engine) -> Broadcasting:
    return Broadcasting(
        BroadcastStore(district),
        PROGRAM,
        RULES,
        POLICY,
        parse_activity,
        lambda: NOW,
        flagged=flagged(district),
    )


def answer_all(engine: Engine, broadcasting: Broadcasting, key: str, phones: list[str]) -> None:
    broadcasting.enqueue(broadcasting.confirm(broadcasting.plan(key, "all"), "ana"))
    service = Service(lambda: SqlUnitOfWork(engine), PROGRAM, clock=lambda: NOW)
    for n, phone in enumerate(phones):
        service.handle_inbound(InboundMessage(Channel.SMS, phone, "4", provider_id=f"SM{key}{n}"))


def by_group(engine: Engine, key: str) -> dict[tuple[str, str], tuple[int, int, bool]]:
    report = measure_representation(SqlRepresentation(engine), key)
    return {
        (g.group.school, g.group.language): (g.enrolled, g.respondents, g.under_represented)
        for g in report.groups
    }


ANA, MAI, BINH = "+13125550101", "+13125550106", "+13125550107"
ROSA, TOM = "+13125550108", "+13125550109"


def test_a_schools_round_is_measured_against_its_own_enrollment_once_per_household(
    district: Engine, broadcasting: Broadcasting
) -> None:
    answer_all(district, broadcasting, "roosevelt-round", [ANA, MAI, BINH, ROSA])

    report = measure_representation(SqlRepresentation(district), "roosevelt-round")

    # Mai and Binh are one household: heard once. Lincoln and Kennedy are not in it;
    # English families (1 of 20) are under four fifths of the school's 7.5%.
    assert report.school == "roosevelt-ms"
    assert by_group(district, "roosevelt-round") == {
        ("roosevelt-ms", "en"): (20, 1, True),
        ("roosevelt-ms", "es"): (10, 1, False),
        ("roosevelt-ms", "vi"): (10, 1, False),
    }
    assert (report.enrolled, report.respondents, report.unmatched) == (40, 3, 0)
    assert f"{report.rate:.1%}" == "7.5%"


def test_a_district_activity_hears_a_household_at_each_of_its_schools(
    district: Engine, broadcasting: Broadcasting
) -> None:
    answer_all(district, broadcasting, "priorities", [ANA, MAI])

    heard = by_group(district, "priorities")

    assert heard[("lincoln-es", "es")][1] == heard[("roosevelt-ms", "es")][1] == 1
    assert heard[("roosevelt-ms", "vi")][1] == 1
    # Nobody at Kennedy answered: flagged, with every one of its families missing.
    assert heard[("kennedy-hs", "en")] == (50, 0, True)
    table = measure_representation(SqlRepresentation(district), "priorities").frame(
        ("school", "language")
    )
    kennedy = table[table["school"] == "kennedy-hs"].iloc[0]
    assert kennedy["gap"] == 2  # 3 heard of 100 enrolled: 1.5 expected of 50, rounded up


def test_under_represented_reaches_the_flagged_groups_who_have_not_answered(
    district: Engine, broadcasting: Broadcasting
) -> None:
    answer_all(district, broadcasting, "roosevelt-round", [ANA, MAI, BINH])
    # Roosevelt English families: 0 of 20 heard, while the school is at 2 of 40.
    assert under_represented_groups(SqlRepresentation(district), "roosevelt-round") == [
        Group("roosevelt-ms", "en", "parent")
    ]

    plan = broadcasting.plan("roosevelt-round", "under-represented=roosevelt-round")

    assert str(plan.audience) == (
        "school=roosevelt-ms,not-answered=roosevelt-round,group=roosevelt-ms/en/parent"
    )
    assert (plan.counts.people, plan.counts.reachable) == (2, 2)
    assert plan.counts.by_language == {"en": 2}


def test_under_represented_with_nobody_flagged_is_refused(
    district: Engine, broadcasting: Broadcasting
) -> None:
    answer_all(district, broadcasting, "roosevelt-round", [ANA, MAI, ROSA, TOM])
    with pytest.raises(AudienceError, match="no group is under-represented in roosevelt-round"):
        broadcasting.plan("roosevelt-round", "under-represented=roosevelt-round")


SECRET = "district-secret"


def tidy(engine: Engine, key: str):  # type: ignore[no-untyped-def]
    from storage.export import tidy_responses

    frame = tidy_responses(engine, key, parse_activity, SECRET)
    return frame.sort_values("received_at", kind="stable").reset_index(drop=True)


def test_exports_show_the_household_and_the_school_and_grade_the_round_saw(
    district: Engine, broadcasting: Broadcasting, tmp_path: Path
) -> None:
    from bot.synthesis.pack import summarize
    from storage.export import activity_versions

    answer_all(district, broadcasting, "roosevelt-round", [ANA, MAI, BINH])
    answer_all(district, broadcasting, "priorities", [ANA])
    # Next month Ana's son moves to Kennedy: the answers keep what the rounds saw.
    moved = tmp_path / "november.csv"
    moved.write_text(ROSTER.replace("1002,roosevelt-ms,7", "1002,kennedy-hs,9"), "utf-8")
    rules = RosterRules(PROGRAM.languages, "en", PROGRAM.roles, SCHOOLS)
    report = RosterImport(lambda: SqlRosterUnitOfWork(district), rules, lambda: NOW).run(moved)
    assert report.changes[0].endswith("school roosevelt-ms → kennedy-hs, grade 7 → 9")

    school_round = tidy(district, "roosevelt-round")
    district_wide = tidy(district, "priorities")

    assert list(school_round[["school", "grade"]].itertuples(index=False, name=None)) == [
        ("roosevelt-ms", "7"),
        ("roosevelt-ms", "6"),
        ("roosevelt-ms", "6"),
    ]
    ana, mai, binh = school_round["household"]
    assert mai == binh != ana
    assert len(set(school_round["participant"])) == 3
    assert list(district_wide[["school", "grade"]].itertuples(index=False, name=None)) == [
        ("lincoln-es;roosevelt-ms", "2;7")
    ]
    assert district_wide["household"][0] == ana
    with district.connect() as connection:
        versions = activity_versions(connection, "roosevelt-round", parse_activity)
    overall = summarize(school_round, versions)["overall"]
    assert set(overall["respondents"]) == {3} and set(overall["households"]) == {2}
