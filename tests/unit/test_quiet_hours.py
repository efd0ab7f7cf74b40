"""Quiet hours: SMS broadcasts wait for the district's morning, across DST and midnight."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.quiet_hours import parse_quiet_hours
from bot.errors import ConfigError

CHICAGO = "America/Chicago"
NIGHT = parse_quiet_hours("20:00-08:00", CHICAGO)
assert NIGHT is not None


@pytest.mark.parametrize(
    ("now", "allowed"),
    [
        # 14:00 CDT (UTC-5): not quiet.
        (datetime(2026, 9, 1, 19, 0), datetime(2026, 9, 1, 19, 0)),
        # 20:00 CDT sharp: quiet until 08:00 CDT the next morning.
        (datetime(2026, 9, 2, 1, 0), datetime(2026, 9, 2, 13, 0)),
        # 03:00 CDT: quiet until 08:00 the same morning.
        (datetime(2026, 9, 2, 8, 0), datetime(2026, 9, 2, 13, 0)),
        # 07:59 CDT: still quiet.
        (datetime(2026, 9, 2, 12, 59), datetime(2026, 9, 2, 13, 0)),
        # 08:00 CDT: open.
        (datetime(2026, 9, 2, 13, 0), datetime(2026, 9, 2, 13, 0)),
        # Friday 22:00 CDT; then Saturday 23:00 CDT, the fall-back night: 08:00 CST is 14:00 UTC.
        (datetime(2026, 10, 31, 3, 0), datetime(2026, 10, 31, 13, 0)),
        (datetime(2026, 11, 1, 4, 0), datetime(2026, 11, 1, 14, 0)),
        # The spring-forward night: 21:00 CST, then 08:00 CDT.
        (datetime(2026, 3, 8, 3, 0), datetime(2026, 3, 8, 13, 0)),
    ],
    ids=[
        "afternoon",
        "window-start",
        "small-hours",
        "one-minute-left",
        "window-end",
        "before-fall-back",
        "fall-back-night",
        "spring-forward-night",
    ],
)
def test_next_allowed_is_the_end_of_the_local_window(now: datetime, allowed: datetime) -> None:
    assert NIGHT.next_allowed(now) == allowed


def test_a_window_inside_one_day_works_too() -> None:
    lunch = parse_quiet_hours("12:00-13:00", "UTC")
    assert lunch is not None
    assert lunch.is_quiet(datetime(2026, 9, 1, 12, 30))
    assert not lunch.is_quiet(datetime(2026, 9, 1, 13, 0))
    assert lunch.next_allowed(datetime(2026, 9, 1, 12, 30)) == datetime(2026, 9, 1, 13, 0)
    assert lunch.next_quiet(datetime(2026, 9, 1, 14, 0)) == datetime(2026, 9, 2, 12, 0)


@pytest.mark.parametrize("window", ["off", "", "none", "08:00-08:00"])
def test_off_means_no_quiet_hours(window: str) -> None:
    assert parse_quiet_hours(window, CHICAGO) is None


@pytest.mark.parametrize(
    ("window", "zone", "names"),
    [
        ("8pm to 8am", CHICAGO, "ENGAGE_QUIET_HOURS"),
        ("25:00-08:00", CHICAGO, "ENGAGE_QUIET_HOURS"),
        ("20:00-08:00", "Mars/Olympus", "ENGAGE_TIMEZONE"),
    ],
    ids=["words", "hour-25", "unknown-zone"],
)
def test_malformed_settings_name_the_variable(window: str, zone: str, names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        parse_quiet_hours(window, zone)


def test_finish_time_pauses_overnight() -> None:
    # 19:00 CDT start, three hours of sending: one hour tonight, two tomorrow from 08:00.
    start = datetime(2026, 9, 2, 0, 0)
    assert NIGHT.finish_time(start, 3 * 3600) == datetime(2026, 9, 2, 15, 0)
    # Starting inside the window waits for the morning first.
    assert NIGHT.finish_time(datetime(2026, 9, 2, 4, 0), 60) == datetime(2026, 9, 2, 13, 1)


@given(
    moment=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
)
def test_next_allowed_is_never_quiet_never_earlier_and_within_a_day(moment: datetime) -> None:
    allowed = NIGHT.next_allowed(moment)
    assert allowed >= moment
    assert not NIGHT.is_quiet(allowed)
    assert allowed - moment <= timedelta(hours=13)
