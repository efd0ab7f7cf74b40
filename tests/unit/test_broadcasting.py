"""The broadcasting rules on the in-memory store: plan, confirm, enqueue, pause, cancel.

The same service runs on SQL in tests/integration/test_broadcasts.py; here the
rules alone, fast, through the BroadcastStorage port (tests/fakes/memory_broadcasts.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.core.activity import Activity, ActivityKind, Localized, Option, Question, QuestionType
from bot.core.audience import AudienceError, AudienceRules, Reach
from bot.core.broadcasts import BroadcastError, BroadcastKind, BroadcastStatus
from bot.core.messages import Channel
from bot.core.quiet_hours import parse_quiet_hours
from bot.core.state import ConversationState, Program, School
from bot.errors import ActivityError
from bot.services.broadcasting import Broadcasting, BroadcastPolicy
from tests.fakes.memory_broadcasts import MemoryBroadcasts

NOW = datetime(2026, 9, 1, 15, 0)  # 10:00 in Chicago
NIGHT = datetime(2026, 9, 2, 3, 0)  # 22:00 in Chicago
PROGRAM = Program(
    name="Riverside Plan",
    contact="555-0100",
    languages=("en", "es"),
    schools=(School("lincoln-es", "Lincoln Elementary"), School("kennedy-hs", "Kennedy High")),
)
RULES = AudienceRules(("en", "es"), "en", PROGRAM.roles, (Channel.SMS,))
QUIET = parse_quiet_hours("20:00-08:00", "America/Chicago")
POLICY = BroadcastPolicy(rates={Channel.SMS: 1.0}, quiet_hours=QUIET, reminders=0, max_reminders=2)


def L(en: str, es: str) -> Localized:
    return Localized({"en": en, "es": es})


SURVEY = Activity(
    key="priorities",
    kind=ActivityKind.SURVEY,
    title=L("Family priorities", "Prioridades"),
    intro=L("Help plan our schools.", "Ayude a planear."),
    questions=(
        Question(
            "top",
            QuestionType.SINGLE_CHOICE,
            L("What matters most?", "¿Qué importa más?"),
            options=(
                Option("safety", L("Safety", "Seguridad")),
                Option("read", L("Reading", "Lectura")),
            ),
        ),
    ),
)
UPDATE = Activity(
    key="october",
    kind=ActivityKind.UPDATE,
    title=L("October", "Octubre"),
    intro=L("We hired 3 counselors.", "Contratamos 3 consejeros."),
    questions=(),
)
ROUND = Activity(
    key="lincoln-draft",
    kind=ActivityKind.FEEDBACK,
    title=L("Lincoln draft", "Borrador"),
    school="lincoln-es",
    questions=(Question("ok", QuestionType.SCALE, L("Support?", "¿Apoyo?")),),
)
DEFINITIONS = {a.key: a for a in (SURVEY, UPDATE, ROUND)}


def parse(source: str, name: str) -> Activity:
    if source == "broken":
        raise ActivityError([f"{name}:3: questions[0].options: needs at least 2"])
    return DEFINITIONS[source]


def onboarded(**changes: object) -> dict[str, object]:
    return {
        "language": "en",
        "consent": True,
        "onboarding_started": True,
        "role": "parent",
        **changes,
    }


@pytest.fixture
def store() -> MemoryBroadcasts:
    store = MemoryBroadcasts()
    for activity in DEFINITIONS.values():
        store.add_activity(activity.key, activity.key)
    store.add_family("+13125550101", **onboarded(language="es", schools=("lincoln-es",)))
    store.add_family("+13125550102", **onboarded(schools=("kennedy-hs",)))
    store.add_family("+13125550103", **onboarded(schools=("lincoln-es",)), reach=Reach.OPTED_OUT)
    return store


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def broadcasting(store: MemoryBroadcasts, clock: Clock) -> Broadcasting:
    return Broadcasting(store, PROGRAM, RULES, POLICY, parse, clock)


def test_a_plan_counts_who_is_reached_and_writes_nothing(
    broadcasting: Broadcasting, store: MemoryBroadcasts
) -> None:
    plan = broadcasting.plan("priorities", "all")
    assert (plan.counts.people, plan.counts.reachable, plan.counts.opted_out) == (3, 2, 1)
    assert plan.kind is BroadcastKind.ACTIVITY
    assert store.broadcasts == {} and store.outbox == {}


@pytest.mark.parametrize(
    ("activity", "to", "problem"),
    [
        ("nope", "all", "no activity named 'nope'"),
        ("priorities", "school=lincoln-es,language=en", "nobody to send to: 1 match"),
        ("lincoln-draft", "school=kennedy-hs", "belongs to school 'lincoln-es'"),
        ("priorities", "role=wizard", "unknown role 'wizard'"),
    ],
    ids=["unknown", "nobody", "other-school", "bad-filter"],
)
def test_a_broadcast_that_cannot_be_sent_is_refused_before_anything_is_written(
    broadcasting: Broadcasting, store: MemoryBroadcasts, activity: str, to: str, problem: str
) -> None:
    with pytest.raises((BroadcastError, AudienceError), match=problem):
        broadcasting.plan(activity, to)
    assert store.broadcasts == {}


def test_a_closed_or_invalid_activity_cannot_be_broadcast(
    broadcasting: Broadcasting, store: MemoryBroadcasts
) -> None:
    closed = store.add_activity("priorities", "priorities", is_open=False)
    with pytest.raises(BroadcastError, match="'priorities' is closed"):
        broadcasting.plan("priorities", "all")
    store.activities.pop(closed)
    store.add_activity("october", "broken")
    with pytest.raises(BroadcastError, match="(?s)does not validate.*needs at least 2"):
        broadcasting.plan("october", "all")


@pytest.mark.parametrize(
    ("activity", "reminders", "problem"),
    [
        ("october", 1, "reminders go with activities that ask something"),
        ("priorities", 3, "at most 2 reminders"),
        ("priorities", -1, "cannot be negative"),
    ],
)
def test_reminders_follow_the_policy(
    broadcasting: Broadcasting, activity: str, reminders: int, problem: str
) -> None:
    with pytest.raises(BroadcastError, match=problem):
        broadcasting.plan(activity, "all", reminders=reminders)


def test_a_schools_round_reaches_that_school_only(broadcasting: Broadcasting) -> None:
    plan = broadcasting.plan("lincoln-draft", "all")
    assert str(plan.audience) == "school=lincoln-es"
    assert plan.counts.reachable == 1


def test_an_invitation_starts_the_activity_or_waits_behind_the_current_one(
    broadcasting: Broadcasting, store: MemoryBroadcasts
) -> None:
    busy = store.add_family(
        "+13125550104", **onboarded(conversation=ConversationState("other", 1, "q"))
    )
    broadcast_id = broadcasting.confirm(broadcasting.plan("priorities", "all"), "ana")
    outcome = broadcasting.enqueue(broadcast_id)
    assert outcome is not None
    assert (outcome.queued, outcome.waiting, outcome.opted_out) == (2, 1, 1)
    spanish = store.outbox[(broadcast_id, 101)].reply
    assert spanish.text == "Ayude a planear.\n\n¿Qué importa más? Responda con una cifra."
    assert [c.label for c in spanish.choices] == ["Seguridad", "Lectura"]
    assert busy.state.pending == ("priorities",)
    assert [(p, c.question) for p, _, c in store.conversations] == [(1, "top"), (2, "top")]
    assert store.get(broadcast_id).status is BroadcastStatus.QUEUED  # type: ignore[union-attr]


def test_enqueueing_again_after_a_crash_sends_nobody_anything_twice(
    broadcasting: Broadcasting, store: MemoryBroadcasts
) -> None:
    broadcast_id = broadcasting.confirm(broadcasting.plan("october", "all"), "ana")
    broadcasting.enqueue(broadcast_id)
    store._set(broadcast_id, BroadcastStatus.ENQUEUING)  # as a crash before finishing leaves it
    again = broadcasting.enqueue(broadcast_id)
    assert again is not None and (again.queued, again.skipped) == (0, 2)
    assert len(store.outbox) == 2


def test_an_update_goes_in_each_familys_language(
    broadcasting: Broadcasting, store: MemoryBroadcasts
) -> None:
    broadcast_id = broadcasting.confirm(broadcasting.plan("october", "all"), "ana")
    broadcasting.enqueue(broadcast_id)
    texts = {key[1]: m.reply.text for key, m in store.outbox.items()}
    assert texts == {101: "Contratamos 3 consejeros.", 102: "We hired 3 counselors."}


def test_sms_invitations_wait_out_quiet_hours(
    broadcasting: Broadcasting, store: MemoryBroadcasts, clock: Clock
) -> None:
    clock.now = NIGHT
    plan = broadcasting.plan("october", "all")
    assert plan.estimate.deferred
    broadcasting.enqueue(broadcasting.confirm(plan, "ana"))
    morning = datetime(2026, 9, 2, 13, 0)  # 08:00 in Chicago
    assert {m.not_before for m in store.outbox.values()} == {morning}


def test_a_cancel_during_the_enqueue_stops_it_and_withdraws_what_was_queued(
    broadcasting: Broadcasting, store: MemoryBroadcasts
) -> None:
    for n in range(5, 10):
        store.add_family(f"+131255501{n:02d}", **onboarded())
    broadcast_id = broadcasting.confirm(broadcasting.plan("october", "all"), "ana")
    store.between_batches = lambda: store.cancel(broadcast_id, NOW, "ana") and None
    outcome = broadcasting.enqueue(broadcast_id, batch_size=2)
    assert outcome is not None and outcome.people == 2  # the first batch only
    assert store.get(broadcast_id).status is BroadcastStatus.CANCELLED  # type: ignore[union-attr]


def test_pause_resume_and_cancel_say_what_is_wrong(
    broadcasting: Broadcasting, store: MemoryBroadcasts
) -> None:
    broadcast_id = broadcasting.confirm(broadcasting.plan("october", "all"), "ana")
    broadcasting.enqueue(broadcast_id)
    assert broadcasting.pause(broadcast_id, "ana").paused
    with pytest.raises(BroadcastError, match="already paused"):
        broadcasting.pause(broadcast_id, "ana")
    assert not broadcasting.resume(broadcast_id, "ana").paused
    with pytest.raises(BroadcastError, match="is not paused"):
        broadcasting.resume(broadcast_id, "ana")
    assert broadcasting.cancel(broadcast_id, "ana") == 2
    assert broadcasting.status(broadcast_id).cancelled == 2
    for act in (broadcasting.pause, broadcasting.resume, broadcasting.cancel):
        with pytest.raises(BroadcastError, match="cancelled"):
            act(broadcast_id, "ana")
    with pytest.raises(BroadcastError, match="no broadcast 99"):
        broadcasting.pause(99, "ana")
    assert [a[1] for a in store.audit] == [
        "broadcast.create",
        "broadcast.pause",
        "broadcast.resume",
        "broadcast.cancel",
    ]


def test_a_scheduled_broadcast_waits_for_its_time_then_goes(
    broadcasting: Broadcasting, store: MemoryBroadcasts, clock: Clock
) -> None:
    at = NOW + timedelta(hours=2)
    broadcast_id = broadcasting.confirm(broadcasting.plan("october", "all", at=at), "ana")
    assert broadcasting.run_due() == [] and store.outbox == {}
    clock.now = at
    assert broadcasting.run_due() == [broadcast_id]
    assert len(store.outbox) == 2


def test_a_broadcast_whose_activity_stopped_validating_is_cancelled(
    broadcasting: Broadcasting, store: MemoryBroadcasts
) -> None:
    broadcast_id = broadcasting.confirm(broadcasting.plan("october", "all"), "ana")
    october = next(a for a in store.activities.values() if a.key == "october")
    store.activities[october.id] = october.__class__(
        october.id, october.key, october.version, "broken", True
    )
    fresh = Broadcasting(store, PROGRAM, RULES, POLICY, parse, lambda: NOW)
    with pytest.raises(BroadcastError, match=f"broadcast {broadcast_id} cancelled"):
        fresh.enqueue(broadcast_id)
    assert store.get(broadcast_id).status is BroadcastStatus.CANCELLED  # type: ignore[union-attr]
    assert store.outbox == {}


def test_a_confirmation_replayed_creates_nothing_more(
    broadcasting: Broadcasting, store: MemoryBroadcasts
) -> None:
    plan = broadcasting.plan("october", "all")
    first = broadcasting.confirm(plan, "slack:U0ORG", request_key="nonce-1")
    assert broadcasting.confirm(plan, "slack:U0ORG", request_key="nonce-1") == first
    assert broadcasting.confirmed("nonce-1") == first and broadcasting.confirmed("other") is None
    assert list(store.broadcasts) == [first]


def test_a_family_who_never_heard_from_us_is_told_who_we_are_and_how_to_stop(
    broadcasting: Broadcasting, store: MemoryBroadcasts
) -> None:
    store.add_family("+13125550104", **onboarded(language="es"), introduced=False)
    broadcast_id = broadcasting.confirm(broadcasting.plan("october", "all"), actor="ana")
    broadcasting.enqueue(broadcast_id)
    sent = {m.contact_id: m.reply.text for m in store.outbox.values()}
    assert sent == {
        101: "Contratamos 3 consejeros.",
        102: "We hired 3 counselors.",
        104: "Le escribe Riverside Plan. Responda PARAR para dejar de recibir mensajes, AYUDA "
        "para ayuda.\n\nContratamos 3 consejeros.",
    }


def test_each_family_waits_for_the_morning_in_their_own_time_zone(clock: Clock) -> None:
    store = MemoryBroadcasts()
    store.add_activity("october", "october")
    store.add_family("+13125550101", **onboarded())  # Chicago
    store.add_family("+18085550101", **onboarded())  # Honolulu
    store.add_family("+15555550101", **onboarded())  # fictional: the district's zone
    broadcasting = Broadcasting(store, PROGRAM, RULES, POLICY, parse, clock)
    clock.now = NIGHT  # 22:00 in Chicago, 17:00 in Honolulu
    broadcasting.enqueue(broadcasting.confirm(broadcasting.plan("october", "all"), actor="ana"))
    waits = {m.contact_id: m.not_before for m in store.outbox.values()}
    morning = datetime(2026, 9, 2, 13, 0)  # 08:00 in Chicago
    assert waits == {101: morning, 102: NIGHT, 103: morning}
