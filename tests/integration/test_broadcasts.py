"""Broadcasts on SQLite and PostgreSQL: invitations through the engine, once per person."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, update

from bot.core.activity import Activity, ActivityKind, Localized, Option, Question, QuestionType
from bot.core.audience import AudienceError, AudienceRules
from bot.core.broadcasts import BroadcastError, BroadcastStatus
from bot.core.messages import Channel, InboundMessage, Reply
from bot.core.quiet_hours import parse_quiet_hours
from bot.core.roster import RosterRules
from bot.core.state import Program, School
from bot.errors import ActivityError, EngageError
from bot.services.broadcasting import (
    Broadcasting,
    BroadcastPolicy,
    combine,
    parse_delay,
    parse_when,
)
from bot.services.roster import RosterImport
from storage import models
from storage.activities import set_open, store_activity
from storage.broadcasts import BroadcastStore
from storage.roster import SqlRosterUnitOfWork

# 10:00 in Chicago.
NOW = datetime(2026, 9, 1, 15, 0)
SCHOOLS = {"lincoln-es": "Lincoln Elementary", "washington-ms": "Washington Middle"}
PROGRAM = Program(
    name="Riverside Plan",
    contact="555-0100",
    languages=("en", "es", "vi"),
    schools=tuple(School(c, n) for c, n in SCHOOLS.items()),
)
RULES = AudienceRules(
    languages=PROGRAM.languages,
    default_language="en",
    roles=PROGRAM.roles,
    channels=(Channel.SMS, Channel.TELEGRAM),
)
QUIET = parse_quiet_hours("20:00-08:00", "America/Chicago")
POLICY = BroadcastPolicy(
    rates={Channel.SMS: 10.0, Channel.TELEGRAM: 25.0}, quiet_hours=QUIET, reminders=0
)


def text(en: str, es: str, vi: str) -> Localized:
    return Localized({"en": en, "es": es, "vi": vi})


SURVEY = Activity(
    key="priorities",
    kind=ActivityKind.SURVEY,
    title=text("Family priorities", "Prioridades", "Ưu tiên"),
    intro=text("Help plan our schools.", "Ayude a planear.", "Giúp lập kế hoạch."),
    questions=(
        Question(
            "top",
            QuestionType.SINGLE_CHOICE,
            text("What matters most?", "¿Qué importa más?", "Điều gì quan trọng nhất?"),
            options=(
                Option("safety", text("Safety", "Seguridad", "An toàn")),
                Option("reading", text("Reading", "Lectura", "Đọc")),
            ),
        ),
        Question("why", QuestionType.FREE_TEXT, text("Why?", "¿Por qué?", "Tại sao?")),
    ),
)
OTHER = Activity(
    key="transport",
    kind=ActivityKind.SURVEY,
    title=text("Buses", "Autobuses", "Xe buýt"),
    questions=(Question("late", QuestionType.YES_NO, text("Late?", "¿Tarde?", "Trễ?")),),
)
UPDATE = Activity(
    key="october-update",
    kind=ActivityKind.UPDATE,
    title=text("October", "Octubre", "Tháng Mười"),
    intro=text("We hired 3 counselors.", "Contratamos 3 consejeros.", "Đã tuyển 3 cố vấn."),
    questions=(),
)
SCHOOL_ROUND = Activity(
    key="lincoln-draft",
    kind=ActivityKind.FEEDBACK,
    title=text("Lincoln draft", "Borrador", "Dự thảo"),
    school="lincoln-es",
    questions=(Question("ok", QuestionType.SCALE, text("Support?", "¿Apoyo?", "Ủng hộ?")),),
)
BROKEN = "broken"
DEFINITIONS = {a.key: a for a in (SURVEY, OTHER, UPDATE, SCHOOL_ROUND)}

ROSTER = """\
external_id,phone,language,school,role,telegram,consent
1,(312) 555-0101,es,lincoln-es,parent,,
2,(312) 555-0102,vi,lincoln-es,parent,5550002,
3,(312) 555-0103,en,washington-ms,parent,,
4,(312) 555-0104,es,washington-ms,parent,,
5,(312) 555-0105,en,lincoln-es,parent,,no
"""


UNREADABLE = "unreadable"
EN_FIRST = "This is Riverside Plan. Text STOP anytime to stop, HELP for help."
ES_FIRST = (
    "Le escribe Riverside Plan. Responda PARAR para dejar de recibir mensajes, AYUDA para ayuda."
)
VI_FIRST = "Đây là Riverside Plan. Nhắn DỪNG để ngừng, GIÚP để được trợ giúp."


def parse(source: str, name: str) -> Activity:
    if source == BROKEN:
        raise ActivityError([f"{name}:3: questions[0].options: needs at least 2"])
    if source == UNREADABLE:
        raise RuntimeError(f"{name}: the disk failed mid-read")
    return DEFINITIONS[source]


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def district(engine: Engine, tmp_path: Path) -> Engine:
    with engine.begin() as connection:
        connection.execute(
            insert(models.School.__table__),
            [{"code": c, "name": n, "created_at": NOW} for c, n in SCHOOLS.items()],
        )
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER)
    rules = RosterRules(PROGRAM.languages, "en", PROGRAM.roles, SCHOOLS)
    RosterImport(lambda: SqlRosterUnitOfWork(engine), rules, lambda: NOW).run(path)
    for activity in DEFINITIONS.values():
        store_activity(engine, activity, activity.key, NOW)
    # 4 said STOP.
    contacts = models.Contact.__table__
    with engine.begin() as connection:
        connection.execute(
            update(contacts).where(contacts.c.address == "+13125550104"), {"opted_out_at": NOW}
        )
    return engine


@pytest.fixture
def broadcasting(district: Engine, clock: Clock) -> Broadcasting:
    return Broadcasting(BroadcastStore(district), PROGRAM, RULES, POLICY, parse, clock)


def queued(engine: Engine) -> list[tuple[str, str, str, str]]:
    o, c, p = models.Outbox, models.Contact, models.Participant
    with engine.connect() as connection:
        rows = connection.execute(
            select(p.external_id, o.channel, o.body, o.dedup_key)
            .join(c, c.id == o.contact_id)
            .join(p, p.id == c.participant_id)
            .where(o.kind == "broadcast")
            .order_by(p.external_id, o.id)
        ).all()
    return [tuple(row) for row in rows]


def conversations(engine: Engine) -> list[tuple[str, str, str, str | None]]:
    cv, a, p = models.Conversation, models.Activity, models.Participant
    with engine.connect() as connection:
        rows = connection.execute(
            select(p.external_id, a.key, cv.status, cv.question)
            .join(a, a.id == cv.activity_id)
            .join(p, p.id == cv.participant_id)
            .order_by(p.external_id, cv.id)
        ).all()
    return [tuple(row) for row in rows]


def test_the_plan_shows_the_numbers_before_anything_is_written(
    broadcasting: Broadcasting, district: Engine
) -> None:
    plan = broadcasting.plan("priorities", "role=parent")
    counts = plan.counts
    assert (counts.people, counts.reachable, counts.opted_out, counts.declined) == (5, 3, 1, 1)
    # Participant 2 has Telegram too but never wrote from it: SMS comes first.
    assert counts.by_channel == {"sms": 3}
    assert plan.estimate.seconds == pytest.approx(0.3)
    assert plan.estimate.starts_at == NOW and not plan.estimate.deferred
    assert queued(district) == []


def test_an_invitation_is_the_intro_and_first_question_in_each_language(
    broadcasting: Broadcasting, district: Engine
) -> None:
    broadcast_id = broadcasting.confirm(broadcasting.plan("priorities", "all"), actor="ana")
    outcome = broadcasting.enqueue(broadcast_id)
    assert outcome is not None
    assert (outcome.queued, outcome.opted_out, outcome.declined) == (3, 1, 1)
    key = f"b:{broadcast_id}:"
    # Roster families who never wrote to us: the message opens with who we are and how to stop.
    assert queued(district) == [
        (
            "1",
            "sms",
            ES_FIRST + "\n\nAyude a planear.\n\n¿Qué importa más? Responda con una cifra.",
            key + "1",
        ),
        (
            "2",
            "sms",
            VI_FIRST + "\n\nGiúp lập kế hoạch.\n\nĐiều gì quan trọng nhất? Trả lời bằng một số.",
            key + "2",
        ),
        (
            "3",
            "sms",
            EN_FIRST + "\n\nHelp plan our schools.\n\nWhat matters most? Reply with a number.",
            key + "4",
        ),
    ]
    assert conversations(district) == [
        ("1", "priorities", "active", "top"),
        ("2", "priorities", "active", "top"),
        ("3", "priorities", "active", "top"),
    ]
    with district.connect() as connection:
        b = models.Broadcast
        record = connection.execute(select(b.status, b.total, b.created_by)).one()
        actions = connection.execute(select(models.AuditEntry.action)).scalars().all()
        choices = connection.execute(select(models.Outbox.choices)).scalars().first()
    assert (record.status, record.total, record.created_by) == ("queued", 3, "ana")
    assert "broadcast.create" in actions and "broadcast.enqueued" in actions
    assert choices == [
        ["safety", "Seguridad", "q:priorities:top:safety"],
        ["reading", "Lectura", "q:priorities:top:reading"],
    ]


def test_someone_in_another_activity_gets_it_queued_behind_not_a_second_conversation(
    broadcasting: Broadcasting, district: Engine
) -> None:
    first = broadcasting.confirm(broadcasting.plan("transport", "school=lincoln-es"), "ana")
    broadcasting.enqueue(first)
    second = broadcasting.confirm(broadcasting.plan("priorities", "all"), "ana")
    outcome = broadcasting.enqueue(second)
    assert outcome is not None and (outcome.queued, outcome.waiting) == (1, 2)
    assert [c[:3] for c in conversations(district)] == [
        ("1", "transport", "active"),
        ("2", "transport", "active"),
        ("3", "priorities", "active"),
    ]
    p = models.Participant
    with district.connect() as connection:
        pending = dict(connection.execute(select(p.external_id, p.pending)).all())
    assert pending["1"] == ["priorities"] and pending["3"] == []


def test_people_alike_but_for_what_they_wait_for_are_told_apart_in_one_batch(
    broadcasting: Broadcasting, district: Engine
) -> None:
    # 1 and 2: same language, role and school, no conversation; 2 already waits for it.
    p = models.Participant.__table__
    with district.begin() as connection:
        connection.execute(update(p).where(p.c.external_id == "1"), {"language": "vi"})
        connection.execute(update(p).where(p.c.external_id == "2"), {"pending": ["priorities"]})
    outcome = broadcasting.enqueue(
        broadcasting.confirm(broadcasting.plan("priorities", "all"), "ana")
    )
    assert outcome is not None and (outcome.queued, outcome.skipped) == (2, 1)
    assert [row[0] for row in queued(district)] == ["1", "3"]
    assert [c[:2] for c in conversations(district)] == [
        ("1", "priorities"),
        ("3", "priorities"),
    ]


def test_enqueueing_again_after_a_crash_adds_nothing_twice(
    broadcasting: Broadcasting, district: Engine
) -> None:
    broadcast_id = broadcasting.confirm(broadcasting.plan("priorities", "all"), "ana")
    calls = {"n": 0}
    real = broadcasting._invitations

    def crashing(activity_id: int, activity: Activity) -> Any:
        decide = real(activity_id, activity)

        def wrapper(batch: Any) -> None:
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("kill -9")
            decide(batch)

        return wrapper

    broadcasting._invitations = crashing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        broadcasting.enqueue(broadcast_id, batch_size=2)
    assert len(queued(district)) == 2
    assert broadcasting.store.get(broadcast_id).status is BroadcastStatus.ENQUEUING  # type: ignore[union-attr]
    broadcasting._invitations = real  # type: ignore[method-assign]
    assert broadcasting.run_due() == [broadcast_id]
    assert broadcasting.run_due() == []
    rows = queued(district)
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert len({r[3] for r in rows}) == 3
    assert [c[0] for c in conversations(district)] == ["1", "2", "3"]


def test_sms_waits_for_the_morning_and_telegram_does_not(
    broadcasting: Broadcasting, district: Engine, clock: Clock
) -> None:
    clock.now = datetime(2026, 9, 2, 2, 30)  # 21:30 in Chicago
    plan = broadcasting.plan("priorities", "language=es|vi")
    assert plan.estimate.deferred
    assert plan.estimate.starts_at == datetime(2026, 9, 2, 13, 0)
    assert any("quiet hours" in w for w in plan.warnings)
    contacts = models.Contact.__table__
    with district.begin() as connection:
        connection.execute(
            update(contacts).where(contacts.c.address == "5550002"), {"last_inbound_at": NOW}
        )
    broadcasting.enqueue(broadcasting.confirm(plan, "ana"))
    o = models.Outbox
    with district.connect() as connection:
        rows = connection.execute(select(o.channel, o.not_before).order_by(o.id)).all()
    assert [tuple(r) for r in rows] == [
        ("sms", datetime(2026, 9, 2, 13, 0)),
        ("telegram", datetime(2026, 9, 2, 2, 30)),
    ]


def test_a_progress_update_without_a_question_is_a_plain_message(
    broadcasting: Broadcasting, district: Engine
) -> None:
    plan = broadcasting.plan("october-update", "school=lincoln-es")
    assert plan.kind.value == "update" and plan.reminders == ()
    broadcasting.enqueue(broadcasting.confirm(plan, "ana"))
    assert [(r[0], r[2]) for r in queued(district)] == [
        ("1", ES_FIRST + "\n\nContratamos 3 consejeros."),
        ("2", VI_FIRST + "\n\nĐã tuyển 3 cố vấn."),
    ]
    assert conversations(district) == []


def test_a_school_round_reaches_its_school_only(broadcasting: Broadcasting) -> None:
    plan = broadcasting.plan("lincoln-draft", "role=parent")
    assert plan.audience.schools == ("lincoln-es",)
    assert plan.counts.reachable == 2
    with pytest.raises(AudienceError, match="belongs to school 'lincoln-es'"):
        broadcasting.plan("lincoln-draft", "school=washington-ms")


def test_reminders_re_ask_the_open_question_to_those_who_have_not_finished(
    broadcasting: Broadcasting, district: Engine, clock: Clock
) -> None:
    plan = broadcasting.plan("priorities", "all", reminders=2, reminder_delay=parse_delay("2d"))
    assert plan.reminders == (NOW + timedelta(days=2), NOW + timedelta(days=4))
    broadcast_id = broadcasting.confirm(plan, "ana")
    broadcasting.enqueue(broadcast_id)
    o, cv, p = models.Outbox.__table__, models.Conversation.__table__, models.Participant.__table__
    with district.begin() as connection:
        connection.execute(update(o), {"status": "sent", "sent_at": NOW})
        # 1 finished, 3 answered the first question and stopped.
        one = select(p.c.id).where(p.c.external_id == "1").scalar_subquery()
        three = select(p.c.id).where(p.c.external_id == "3").scalar_subquery()
        connection.execute(
            update(cv).where(cv.c.participant_id == one), {"status": "completed", "question": None}
        )
        connection.execute(update(cv).where(cv.c.participant_id == three), {"question": "why"})
    assert broadcasting.run_due() == []
    clock.now = NOW + timedelta(days=2)
    assert len(broadcasting.run_due()) == 1
    reminders = [r for r in queued(district) if not r[3].startswith(f"b:{broadcast_id}:")]
    assert [(r[0], r[2]) for r in reminders] == [
        (
            "2",
            'Nhắc từ Riverside Plan: mong quý vị trả lời "Ưu tiên".'
            "\n\nĐiều gì quan trọng nhất? Trả lời bằng một số.",
        ),
        (
            "3",
            "Reminder from Riverside Plan: we would still love your answers to "
            '"Family priorities".\n\nWhy?',
        ),
    ]


def test_cancelling_stops_queued_messages_and_reminders(
    broadcasting: Broadcasting, district: Engine
) -> None:
    plan = broadcasting.plan("priorities", "all", reminders=1)
    broadcast_id = broadcasting.confirm(plan, "ana")
    broadcasting.enqueue(broadcast_id)
    assert broadcasting.cancel(broadcast_id, "ana") == 3
    statuses = {r.id: r.status for r in broadcasting.latest()}
    assert set(statuses.values()) == {BroadcastStatus.CANCELLED}
    progress = broadcasting.status(broadcast_id)
    # Cancelled rows count as cancelled, not as opted out.
    assert (progress.total, progress.cancelled, progress.opted_out, progress.queued) == (3, 3, 0, 0)
    with pytest.raises(BroadcastError, match="already cancelled"):
        broadcasting.cancel(broadcast_id, "ana")


def test_a_scheduled_broadcast_waits_for_its_time(
    broadcasting: Broadcasting, district: Engine, clock: Clock
) -> None:
    at = parse_when("2026-09-03T09:00", QUIET.zone, NOW)  # type: ignore[union-attr]
    assert at == datetime(2026, 9, 3, 14, 0)
    broadcast_id = broadcasting.confirm(broadcasting.plan("priorities", "all", at=at), "ana")
    assert broadcasting.run_due() == [] and queued(district) == []
    clock.now = at
    assert broadcasting.run_due() == [broadcast_id]
    assert len(queued(district)) == 3


def test_progress_counts_sent_delivered_failed_and_opted_out(
    broadcasting: Broadcasting, district: Engine
) -> None:
    broadcast_id = broadcasting.confirm(broadcasting.plan("priorities", "all"), "ana")
    broadcasting.enqueue(broadcast_id)
    o, m = models.Outbox.__table__, models.Message.__table__
    with district.begin() as connection:
        ids = connection.execute(select(o.c.id).order_by(o.c.id)).scalars().all()
        connection.execute(update(o).where(o.c.id == ids[0]), {"status": "sent"})
        connection.execute(update(o).where(o.c.id == ids[1]), {"status": "failed"})
        connection.execute(
            insert(m),
            {
                "direction": "out",
                "channel": "sms",
                "body": "x",
                "status": "delivered",
                "outbox_id": ids[0],
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
    progress = broadcasting.status(broadcast_id)
    assert (progress.total, progress.queued, progress.sent, progress.delivered) == (3, 1, 1, 1)
    assert (progress.failed, progress.done, progress.finished) == (1, 2, False)


@pytest.mark.parametrize(
    ("activity", "to", "at", "message"),
    [
        ("nope", "all", None, "no activity named 'nope'"),
        ("priorities", "school=hogwarts", None, "unknown school 'hogwarts'"),
        ("priorities", "grade=12", None, "nobody to send to: 0 match grade=12"),
        ("priorities", "all", NOW - timedelta(hours=1), "in the past"),
        ("priorities", "school=washington-ms", None, "nobody to send to"),
    ],
    ids=["unknown-activity", "unknown-school", "empty", "past", "all-opted-out-or-unreachable"],
)
def test_bad_broadcasts_are_refused_before_anything_is_written(
    broadcasting: Broadcasting,
    district: Engine,
    activity: str,
    to: str,
    at: datetime | None,
    message: str,
) -> None:
    contacts = models.Contact.__table__
    with district.begin() as connection:
        connection.execute(
            update(contacts).where(contacts.c.address == "+13125550103"), {"invalid_at": NOW}
        )
    with pytest.raises(EngageError, match=message.replace("(", r"\(")):
        broadcasting.plan(activity, to, at=at)
    with district.connect() as connection:
        assert connection.execute(select(func.count()).select_from(models.Broadcast)).scalar() == 0


def test_closed_and_invalid_activities_cannot_be_broadcast(
    broadcasting: Broadcasting, district: Engine
) -> None:
    set_open(district, "transport", False, NOW)
    with pytest.raises(BroadcastError, match="'transport' is closed"):
        broadcasting.plan("transport", "all")
    a = models.Activity.__table__
    with district.begin() as connection:
        connection.execute(update(a).where(a.c.key == "priorities"), {"source": BROKEN})
    with pytest.raises(BroadcastError, match="(?s)does not validate.*needs at least 2"):
        broadcasting.plan("priorities", "all")


def test_a_scheduled_broadcast_whose_activity_no_longer_validates_is_cancelled(
    broadcasting: Broadcasting, district: Engine, clock: Clock
) -> None:
    broadcast_id = broadcasting.confirm(
        broadcasting.plan("priorities", "all", at=NOW + timedelta(hours=1)), "ana"
    )
    a = models.Activity.__table__
    with district.begin() as connection:
        connection.execute(update(a).where(a.c.key == "priorities"), {"source": BROKEN})
    fresh = Broadcasting(BroadcastStore(district), PROGRAM, RULES, POLICY, parse, clock)
    clock.now = NOW + timedelta(hours=1)
    assert fresh.run_due() == []
    assert fresh.store.get(broadcast_id).status is BroadcastStatus.CANCELLED  # type: ignore[union-attr]
    assert queued(district) == []


def test_a_second_broadcast_reaches_people_mid_way_through_another_from_a_cold_start(
    broadcasting: Broadcasting, district: Engine, clock: Clock
) -> None:
    first = broadcasting.confirm(broadcasting.plan("transport", "school=lincoln-es"), "ana")
    broadcasting.enqueue(first)
    # Another `engage broadcast` process: no definition read yet, so the one of the
    # activity people are mid-way through is read inside the enqueue transaction.
    fresh = Broadcasting(BroadcastStore(district), PROGRAM, RULES, POLICY, parse, clock)
    second = fresh.confirm(fresh.plan("priorities", "all"), "ana")
    outcome = fresh.enqueue(second)

    assert outcome is not None and (outcome.queued, outcome.waiting) == (1, 2)
    assert fresh.store.get(second).status is BroadcastStatus.QUEUED  # type: ignore[union-attr]


def test_a_broadcast_that_fails_does_not_hold_up_those_due_after_it(
    broadcasting: Broadcasting, district: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    later = NOW + timedelta(hours=1)
    failing = broadcasting.confirm(broadcasting.plan("transport", "all", at=later), "ana")
    other = broadcasting.confirm(broadcasting.plan("priorities", "all", at=later), "ana")
    a = models.Activity.__table__
    with district.begin() as connection:
        connection.execute(update(a).where(a.c.key == "transport"), {"source": UNREADABLE})
    fresh = Broadcasting(BroadcastStore(district), PROGRAM, RULES, POLICY, parse, clock)
    clock.now = later

    assert fresh.run_due() == [other]
    assert fresh.store.get(failing).status is BroadcastStatus.ENQUEUING  # type: ignore[union-attr]
    assert "broadcast.enqueue_failed" in caplog.messages
    # Once it can be read again, the next round resumes it.
    with district.begin() as connection:
        connection.execute(update(a).where(a.c.key == "transport"), {"source": "transport"})
    assert Broadcasting(
        BroadcastStore(district), PROGRAM, RULES, POLICY, parse, clock
    ).run_due() == [failing]


def test_combine_keeps_order_and_the_last_choices() -> None:
    from bot.core.messages import Choice

    choice = Choice("1", "1", "q:a:b:1")
    assert combine([Reply("Intro"), Reply("Q?", (choice,))]) == Reply("Intro\n\nQ?", (choice,))


@pytest.mark.parametrize("bad", ["3", "d", "-1d", "0h", "3y"])
def test_delays_must_name_a_unit(bad: str) -> None:
    with pytest.raises(EngageError, match="like 3d"):
        parse_delay(bad)


def test_a_feedback_round_invitation_is_answered_section_by_section(
    district: Engine, clock: Clock
) -> None:
    from bot.authoring.activities import parse_activity
    from bot.services.inbound import Service
    from storage.unit_of_work import SqlUnitOfWork
    from tests.conftest import EXAMPLES

    for key in DEFINITIONS:  # stand-ins without YAML: the service reads only real sources
        set_open(district, key, False, NOW)
    source = (EXAMPLES / "draft-plan-feedback.yaml").read_text("utf-8")
    store_activity(district, parse_activity(source, "draft-plan-feedback.yaml"), source, NOW)
    broadcasting = Broadcasting(
        BroadcastStore(district), PROGRAM, RULES, POLICY, parse_activity, clock
    )
    plan = broadcasting.plan("draft-plan-feedback-2026", "school=lincoln-es,language=es")
    broadcasting.enqueue(broadcasting.confirm(plan, "ana"))
    ((who, _, body, _),) = queued(district)
    assert who == "1"
    assert body == ES_FIRST + "\n\n" + (
        "El borrador tiene 3 partes. Para cada una, responda del 1 al 5: ¿cuánto la apoya?\n\n"
        'Parte 1 de 3: "Todos leyendo en 3.er grado": Tutores en cada primaria. Informes de '
        "lectura cada trimestre. Texto completo: https://riverside.example.org/plan/reading\n"
        "¿Qué tanto apoya esta parte? Responda de 1 (nada) a 5 (totalmente)."
    )
    # The family answers by SMS; the service finds the conversation the broadcast started.
    service = Service(lambda: SqlUnitOfWork(district), PROGRAM, clock=lambda: NOW)
    for n, text_ in enumerate(["4", "Más tutores, por favor", "2", "saltar"]):
        service.handle_inbound(
            InboundMessage(Channel.SMS, "+13125550101", text_, provider_id=f"SMin{n}")
        )
    r, a = models.Response, models.Activity
    with district.connect() as connection:
        answers = connection.execute(
            select(r.question, r.value, r.status)
            .join(a, a.id == r.activity_id)
            .where(a.key == "draft-plan-feedback-2026")
            .order_by(r.id)
        ).all()
    assert [tuple(row) for row in answers] == [
        ("reading", 4, "answered"),
        ("reading-comment", "Más tutores, por favor", "answered"),
        ("counselors", 2, "answered"),
        ("counselors-comment", None, "skipped"),
    ]
    assert conversations(district)[-1][1:] == ("draft-plan-feedback-2026", "active", "buses")


def test_engage_stats_in_slack_shows_the_broadcast_counts(
    broadcasting: Broadcasting, district: Engine
) -> None:
    import asyncio

    from bot.services.organizers import EngageCommand, Organizers, PlannedBroadcasts
    from storage.progress import activity_progress

    broadcast_id = broadcasting.confirm(broadcasting.plan("priorities", "all"), "ana")
    broadcasting.enqueue(broadcast_id)
    o = models.Outbox.__table__
    with district.begin() as connection:
        first = connection.execute(select(func.min(o.c.id))).scalar_one()
        connection.execute(update(o).where(o.c.id == first), {"status": "sent"})

    async def stats() -> Any:
        return activity_progress(district)

    async def inline(work: Any) -> Any:
        return work()

    command = EngageCommand(
        Organizers(frozenset()),
        stats=stats,
        broadcasts=PlannedBroadcasts(broadcasting),
        inbox=None,
        run=inline,
        clock=lambda: NOW,
    )
    reply = asyncio.run(command.handle("U0STAFF", "stats priorities"))
    assert reply.text.splitlines()[-1] == (
        f"Broadcast #{broadcast_id} of `priorities` to `all` (queued): queued 2 · sent 1 · "
        "delivered 0 · failed 0 · opted out 0 · cancelled 0"
    )
    other = asyncio.run(command.handle("U0STAFF", "stats transport"))
    assert "Broadcast" not in other.text


def test_organizers_pause_resume_and_cancel_from_slack(
    broadcasting: Broadcasting, district: Engine
) -> None:
    import asyncio

    from bot.services.organizers import EngageCommand, Organizers, PlannedBroadcasts

    broadcast_id = broadcasting.confirm(broadcasting.plan("priorities", "all"), "ana")
    broadcasting.enqueue(broadcast_id)

    async def inline(work: Any) -> Any:
        return work()

    async def no_stats() -> Any:
        return []

    command = EngageCommand(
        Organizers(frozenset({"U0ORG"})),
        stats=no_stats,
        broadcasts=PlannedBroadcasts(broadcasting),
        inbox=None,
        run=inline,
        clock=lambda: NOW,
    )

    def say(user: str, text_: str) -> str:
        return asyncio.run(command.handle(user, text_)).text

    assert say("U0STAFF", f"pause {broadcast_id}").startswith("Only organizers can pause")
    assert say("U0ORG", f"pause {broadcast_id}") == (
        f"Broadcast #{broadcast_id} paused (queued, paused): queued 3 · sent 0 · delivered 0 · "
        "failed 0 · opted out 0 · cancelled 0"
    )
    assert say("U0ORG", f"pause {broadcast_id}").startswith("Not done: broadcast 1 is already")
    assert broadcasting.store.get(broadcast_id).paused_at == NOW  # type: ignore[union-attr]
    assert say("U0ORG", f"resume #{broadcast_id}").startswith(
        f"Broadcast #{broadcast_id} resumed (queued): queued 3"
    )
    assert say("U0ORG", f"cancel {broadcast_id}").endswith(
        "queued 0 · sent 0 · delivered 0 · failed 0 · opted out 0 · cancelled 3"
    )
    assert (
        say("U0ORG", "cancel") == "Which broadcast? `/engage cancel ID` (the number `stats` shows)."
    )
    with district.connect() as connection:
        actions = connection.execute(
            select(models.AuditEntry.actor, models.AuditEntry.action).order_by(models.AuditEntry.id)
        ).all()
    assert [tuple(a) for a in actions][-3:] == [
        ("slack:U0ORG", "broadcast.pause"),
        ("slack:U0ORG", "broadcast.resume"),
        ("slack:U0ORG", "broadcast.cancel"),
    ]


def test_only_a_family_who_never_heard_from_us_gets_who_we_are_and_how_to_stop(
    broadcasting: Broadcasting, district: Engine
) -> None:
    contacts = models.Contact.__table__
    with district.begin() as connection:
        # 1 wrote to us before the broadcast.
        connection.execute(
            update(contacts).where(contacts.c.address == "+13125550101"),
            {"last_inbound_at": NOW - timedelta(days=2)},
        )
    first = broadcasting.enqueue(
        broadcasting.confirm(broadcasting.plan("october-update", "all"), "ana")
    )
    assert first is not None and first.queued == 3
    bodies = {who: body for who, _, body, _ in queued(district)}
    assert bodies == {
        "1": "Contratamos 3 consejeros.",
        "2": VI_FIRST + "\n\nĐã tuyển 3 cố vấn.",
        "3": EN_FIRST + "\n\nWe hired 3 counselors.",
    }
    # 2's message went out; 3's is still queued (not yet a message they got).
    outbox = models.Outbox.__table__
    with district.begin() as connection:
        connection.execute(
            update(outbox)
            .where(outbox.c.address == "+13125550102")
            .values(status="sent", sent_at=NOW, provider_id="SM2")
        )
    second = broadcasting.enqueue(
        broadcasting.confirm(broadcasting.plan("transport", "all"), "ana")
    )
    assert second is not None and second.queued == 3
    later = [(who, body) for who, _, body, key in queued(district) if key.startswith("b:2:")]
    assert later == [
        ("1", "¿Tarde? Responda SI o NO."),
        ("2", "Trễ? Trả lời CÓ hoặc KHÔNG."),
        ("3", EN_FIRST + "\n\nLate? Reply YES or NO."),
    ]


def test_the_preview_lints_the_first_message_in_every_language(
    district: Engine, clock: Clock
) -> None:
    linked = Activity(
        key="linked",
        kind=ActivityKind.UPDATE,
        title=text("Plan", "Plan", "Kế hoạch"),
        intro=text(
            "Read the plan: https://bit.ly/plan2030 \u2014 it\u2019s short!",
            "Lea el plan: https://riverside.example.org/plan",
            "Đọc kế hoạch: https://riverside.example.org/plan",
        ),
        questions=(),
    )
    DEFINITIONS["linked"] = linked
    try:
        store_activity(district, linked, "linked", NOW)
        broadcasting = Broadcasting(BroadcastStore(district), PROGRAM, RULES, POLICY, parse, clock)
        plan = broadcasting.plan("linked", "all")
    finally:
        del DEFINITIONS["linked"]
    assert plan.warnings == (
        "in 'en': links through bit.ly, a public shortener carriers filter; use the full link "
        "or the district's own domain",
        "in 'en': \u2014 (em dash), \u2019 (right single quotation mark) make it UCS-2: "
        "2 SMS segments instead of 1",
    )
    assert {lang: cost.segments for lang, cost in plan.costs.items()} == {
        "en": 2,
        "es": 1,
        "vi": 2,
    }


def test_a_family_the_roster_places_in_honolulu_gets_an_evening_text_from_chicago(
    district: Engine, clock: Clock, tmp_path: Path
) -> None:
    """Their number is from Chicago, but the roster's ZIP is Honolulu's: 21:00 CDT is 16:00 there."""
    import asyncio

    from bot.services.sender import OutboxSender
    from storage.outbox import OutboxStore

    path = tmp_path / "moved.csv"
    path.write_text(
        "external_id,phone,language,school,role,zip\n"
        "1,(312) 555-0101,es,lincoln-es,parent,96813\n"
        "3,(312) 555-0103,en,washington-ms,parent,60614\n"
    )
    rules = RosterRules(PROGRAM.languages, "en", PROGRAM.roles, SCHOOLS)
    RosterImport(lambda: SqlRosterUnitOfWork(district), rules, lambda: NOW).run(path)
    evening = datetime(2026, 9, 2, 2, 0)  # 21:00 in Chicago, 16:00 in Honolulu
    clock.now = evening
    broadcasting = Broadcasting(BroadcastStore(district), PROGRAM, RULES, POLICY, parse, clock)
    broadcasting.enqueue(broadcasting.confirm(broadcasting.plan("october-update", "all"), "ana"))
    o = models.Outbox
    with district.connect() as connection:
        waits = dict(connection.execute(select(o.address, o.not_before).order_by(o.id)).all())
        places = dict(connection.execute(select(o.address, o.place)).all())
    morning = datetime(2026, 9, 2, 13, 0)  # 08:00 in Chicago
    assert waits == {"+13125550101": evening, "+13125550102": morning, "+13125550103": morning}
    assert places == {
        "+13125550101": "HI:Pacific/Honolulu",
        "+13125550102": None,
        "+13125550103": "IL:America/Chicago",
    }

    class Provider:
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send(self, message: Any) -> str:
            self.sent.append(message.address)
            return f"SM{len(self.sent):032d}"

    provider = Provider()
    sender = OutboxSender(
        OutboxStore(district), {Channel.SMS: provider}, lambda: evening, quiet_hours=QUIET
    )
    asyncio.run(sender.run_once())
    assert provider.sent == ["+13125550101"]
