"""Where a number is for quiet hours: its area code's time zones and state."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.core.places import Place, place_of_number
from bot.core.quiet_hours import parse_quiet_hours
from bot.errors import ConfigError


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+13125550100", Place((ZoneInfo("America/Chicago"),), "IL")),
        ("+18085550100", Place((ZoneInfo("Pacific/Honolulu"),), "HI")),
        ("+19545550100", Place((ZoneInfo("America/New_York"),), "FL")),
        # El Paso keeps Mountain time, in Texas.
        ("+19155550100", Place((ZoneInfo("America/Denver"),), "TX")),
        # An area code across two zones keeps both.
        (
            "+16055550100",
            Place((ZoneInfo("America/Denver"), ZoneInfo("America/North_Dakota/Center")), "SD"),
        ),
        ("+442071838750", Place((ZoneInfo("Europe/London"),), None)),
        ("+15555550100", None),  # fictional
        ("5550100", None),
    ],
    ids=["chicago", "honolulu", "florida", "el-paso", "two-zones", "london", "fictional", "local"],
)
def test_a_number_is_placed_by_its_area_code(number: str, expected: Place | None) -> None:
    assert place_of_number(number) == expected


NIGHT = parse_quiet_hours("20:00-08:00", "America/Chicago", "TX=21:00-09:00")
assert NIGHT is not None


@pytest.mark.parametrize(
    ("now", "number", "allowed"),
    [
        # 21:00 CDT is 16:00 HST: Honolulu goes now, Chicago waits for 08:00 CDT.
        (datetime(2026, 9, 2, 2, 0), "+18085550100", datetime(2026, 9, 2, 2, 0)),
        (datetime(2026, 9, 2, 2, 0), "+13125550100", datetime(2026, 9, 2, 13, 0)),
        # 07:00 CDT is 02:00 HST: Honolulu waits for 08:00 HST.
        (datetime(2026, 9, 2, 12, 0), "+18085550100", datetime(2026, 9, 2, 18, 0)),
        # The fall-back night in Chicago: 08:00 CST is 14:00 UTC.
        (datetime(2026, 11, 1, 4, 0), "+13125550100", datetime(2026, 11, 1, 14, 0)),
        # The spring-forward night: 08:00 CDT is 13:00 UTC; Honolulu keeps no DST.
        (datetime(2026, 3, 8, 7, 0), "+13125550100", datetime(2026, 3, 8, 13, 0)),
        (datetime(2026, 3, 8, 7, 0), "+18085550100", datetime(2026, 3, 8, 18, 0)),
        # Texas's own window: 09:00 in Dallas (CDT), 09:00 in El Paso (MDT).
        (datetime(2026, 9, 2, 13, 30), "+12145550100", datetime(2026, 9, 2, 14, 0)),
        (datetime(2026, 9, 2, 13, 30), "+19155550100", datetime(2026, 9, 2, 15, 0)),
        # Two zones: daytime in both (08:00 MDT is the later).
        (datetime(2026, 9, 2, 13, 30), "+16055550100", datetime(2026, 9, 2, 14, 0)),
        # Unknown: the district's zone.
        (datetime(2026, 9, 2, 2, 0), "+15555550100", datetime(2026, 9, 2, 13, 0)),
    ],
    ids=[
        "honolulu-afternoon",
        "chicago-evening",
        "honolulu-night",
        "chicago-fall-back",
        "chicago-spring-forward",
        "honolulu-no-dst",
        "dallas-texas-window",
        "el-paso-texas-window",
        "two-zones",
        "unknown",
    ],
)
def test_quiet_hours_hold_in_the_familys_own_zone(
    now: datetime, number: str, allowed: datetime
) -> None:
    assert NIGHT.next_allowed_at(now, place_of_number(number)) == allowed
    assert NIGHT.is_quiet_at(now, place_of_number(number)) is (allowed > now)


@pytest.mark.parametrize("bad", ["TX", "Texas=21:00-09:00", "TX=9pm-9am", "TX=21:00"])
def test_a_malformed_state_window_names_the_variable(bad: str) -> None:
    with pytest.raises(ConfigError, match="ENGAGE_QUIET_HOURS_BY_STATE"):
        parse_quiet_hours("20:00-08:00", "America/Chicago", bad)


def test_the_area_code_table_says_what_the_phonenumbers_geocoder_says() -> None:
    """bot/core/area_codes.py is data from phonenumbers; a new release must regenerate it."""
    from bot.core.area_codes import AREA_STATES, _generate

    assert _generate() == AREA_STATES
