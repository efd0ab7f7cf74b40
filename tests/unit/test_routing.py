"""Routing rules: which team, channel and owner each Let's Talk message gets; closing words."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.core.business_hours import BusinessHours
from bot.core.promise import ReplyPromise
from bot.core.routing import Route, Routing, RoutingRule, Team, Topic, UrgentDesk, is_closing

TEAMS = {
    "family": Team("family", "C0FAMILY", "S0FAMILY", lead="U0LEAD"),
    "transport": Team("transport", "C0BUS", "U0BUS", lead="U0BUSLEAD"),
    "lincoln": Team("lincoln", "C0LINCOLN", "U0PRINCIPAL"),
    "vietnamese": Team("vietnamese", "C0VI", "U0LIAISON"),
}
TOPICS = [
    Topic(
        "transportation",
        {
            "en": ("bus*", "pick up", "drop off"),
            "es": ("autobús", "camión", "ruta"),
            "vi": ("xe buýt",),
        },
    ),
    Topic("special-education", {"en": ("iep", "504 plan"), "es": ("educación especial",)}),
]
ROUTING = Routing(
    teams=TEAMS,
    default_team="family",
    rules=[
        RoutingRule("transport", topics=frozenset({"transportation"})),
        RoutingRule("lincoln", schools=frozenset({"lincoln-es"})),
        RoutingRule("family", topics=frozenset({"special-education"}), owner="U0SPED"),
        RoutingRule("vietnamese", languages=frozenset({"vi"})),
    ],
    topics=TOPICS,
    urgent=UrgentDesk("C0URGENT", "U0ONCALL", {"en": "call 555-0199", "es": "llame al 555-0199"}),
    languages=("en", "es", "vi"),
)

CASES = [
    (
        "a bus question goes to transport",
        "The bus is late every day",
        None,
        "en",
        Route("transport", "C0BUS", "U0BUS", "U0BUSLEAD", ("transportation",)),
    ),
    (
        "in any configured language",
        "el camión llega tarde",
        "lincoln-es",
        "es",
        Route("transport", "C0BUS", "U0BUS", "U0BUSLEAD", ("transportation",)),
    ),
    (
        "without accents too",
        "xe buyt tre qua",
        None,
        "vi",
        Route("transport", "C0BUS", "U0BUS", "U0BUSLEAD", ("transportation",)),
    ),
    (
        "a school's messages go to its team",
        "more art classes please",
        "lincoln-es",
        "en",
        Route("lincoln", "C0LINCOLN", "U0PRINCIPAL", None),
    ),
    (
        "a rule may name its own owner",
        "question about the IEP meeting",
        None,
        "en",
        Route("family", "C0FAMILY", "U0SPED", "U0LEAD", ("special-education",)),
    ),
    (
        "a language goes to its liaison",
        "cảm ơn về kế hoạch",
        "kennedy-hs",
        "vi",
        Route("vietnamese", "C0VI", "U0LIAISON", None),
    ),
    (
        "the rest goes to the default team",
        "more art classes please",
        "kennedy-hs",
        "en",
        Route("family", "C0FAMILY", "S0FAMILY", "U0LEAD"),
    ),
    ("no school given", "hello", None, None, Route("family", "C0FAMILY", "S0FAMILY", "U0LEAD")),
]


@pytest.mark.parametrize(
    ("text", "school", "language", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_first_matching_rule_routes_a_message(
    text: str, school: str | None, language: str | None, expected: Route
) -> None:
    assert ROUTING.route(text, school, language) == expected


def test_an_urgent_message_goes_to_the_person_on_call_and_keeps_its_team() -> None:
    route = ROUTING.route("the bus driver hit my son", None, "en", urgent=True)
    assert route == Route(
        "transport", "C0URGENT", "U0ONCALL", "U0BUSLEAD", ("transportation",), urgent=True
    )


def test_without_an_urgent_desk_an_urgent_message_stays_with_its_team() -> None:
    routing = Routing(teams=TEAMS, default_team="family")
    route = routing.route("help", None, "en", urgent=True)
    assert (route.channel, route.owner, route.urgent) == ("C0FAMILY", "S0FAMILY", True)


def test_a_topic_in_a_language_the_district_does_not_use_is_not_read() -> None:
    assert ROUTING.topics_of("el camión") == ("transportation",)
    routing = Routing(teams=TEAMS, default_team="family", topics=TOPICS, languages=("en",))
    assert routing.topics_of("el camión") == ()


def test_rules_naming_unknown_teams_or_topics_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown teams: nobody"):
        Routing(teams=TEAMS, default_team="nobody")
    with pytest.raises(ValueError, match="unknown topics: lunch"):
        Routing(
            teams=TEAMS,
            default_team="family",
            rules=[RoutingRule("family", topics=frozenset({"lunch"}))],
        )


def test_the_urgent_contact_falls_back_to_the_default_language() -> None:
    desk = UrgentDesk("C0URGENT", "U0ONCALL", {"en": "call 555-0199", "es": "llame al 555-0199"})
    assert desk.contact_in("es", "en") == "llame al 555-0199"
    assert desk.contact_in("vi", "en") == "call 555-0199"


CLOSING = [
    ("gracias", True),
    ("Muchas gracias!!", True),
    ("ok", True),
    ("OK thanks", True),
    ("👍", True),
    ("👍🏽", True),
    ("🙏 ❤️", True),
    ("cảm ơn cô", True),
    ("cam on", True),
    ("谢谢", True),
    ("شكرا جزيلا", True),
    ("thanks, but the bus is still late", False),
    ("ok when is the meeting?", False),
    ("gracias, mi hijo sigue sin autobús", False),
    ("?", False),
    ("😡", False),
    ("", False),
]


@pytest.mark.parametrize(("text", "closes"), CLOSING, ids=[c[0] or "empty" for c in CLOSING])
def test_thanks_and_ok_close_a_thread(text: str, closes: bool) -> None:
    assert is_closing(text, ["en", "es", "vi", "zh", "ar"]) is closes


CHICAGO = ZoneInfo("America/Chicago")
PROMISE = ReplyPromise(BusinessHours(CHICAGO), timedelta(hours=48), timedelta(hours=4))
# Tuesday 2026-01-06 10:00 in Chicago.
RECEIVED = datetime(2026, 1, 6, 16)


def test_a_promise_is_due_reminded_and_kept() -> None:
    assert PROMISE.due_at(RECEIVED) == datetime(2026, 1, 8, 16)
    assert PROMISE.remind_at(RECEIVED) == datetime(2026, 1, 8, 12)
    assert PROMISE.is_kept(RECEIVED, datetime(2026, 1, 7, 9), datetime(2026, 1, 9)) is True
    assert PROMISE.is_kept(RECEIVED, datetime(2026, 1, 8, 17), datetime(2026, 1, 9)) is False
    assert PROMISE.is_kept(RECEIVED, None, datetime(2026, 1, 8, 15)) is None
    assert PROMISE.is_kept(RECEIVED, None, datetime(2026, 1, 8, 17)) is False


def test_the_age_of_a_message_counts_business_time_only() -> None:
    # Friday 10:00 to Monday 10:00 in Chicago: one working day.
    assert PROMISE.age(datetime(2026, 1, 9, 16), datetime(2026, 1, 12, 16)) == timedelta(hours=24)
