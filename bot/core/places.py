"""Where a family is, as far as quiet hours go: the time zones and the US state of a number.

Pure. A number's area code gives its time zones (`phonenumbers.timezone`) and
its state (the geocoder's "Chicago, IL" or "Florida"). An area code that spans
two zones (South Dakota's 605, Idaho's 208) keeps both, and quiet hours then
hold in either: a family is texted only when it is daytime wherever they may be.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as number_zones

__all__ = ["US_STATES", "Place", "place_of_number"]

US_STATES: dict[str, str] = {
    "alabama": "AL",
    "alaska": "AK",
    "arizona": "AZ",
    "arkansas": "AR",
    "california": "CA",
    "colorado": "CO",
    "connecticut": "CT",
    "delaware": "DE",
    "district of columbia": "DC",
    "washington d.c.": "DC",
    "washington, d.c.": "DC",
    "florida": "FL",
    "georgia": "GA",
    "hawaii": "HI",
    "idaho": "ID",
    "illinois": "IL",
    "indiana": "IN",
    "iowa": "IA",
    "kansas": "KS",
    "kentucky": "KY",
    "louisiana": "LA",
    "maine": "ME",
    "maryland": "MD",
    "massachusetts": "MA",
    "michigan": "MI",
    "minnesota": "MN",
    "mississippi": "MS",
    "missouri": "MO",
    "montana": "MT",
    "nebraska": "NE",
    "nevada": "NV",
    "new hampshire": "NH",
    "new jersey": "NJ",
    "new mexico": "NM",
    "new york": "NY",
    "north carolina": "NC",
    "north dakota": "ND",
    "ohio": "OH",
    "oklahoma": "OK",
    "oregon": "OR",
    "pennsylvania": "PA",
    "rhode island": "RI",
    "south carolina": "SC",
    "south dakota": "SD",
    "tennessee": "TN",
    "texas": "TX",
    "utah": "UT",
    "vermont": "VT",
    "virginia": "VA",
    "washington": "WA",
    "west virginia": "WV",
    "wisconsin": "WI",
    "wyoming": "WY",
    "puerto rico": "PR",
    "guam": "GU",
    "american samoa": "AS",
    "northern mariana islands": "MP",
    "u.s. virgin islands": "VI",
    "united states virgin islands": "VI",
}
_CODES = frozenset(US_STATES.values())


@dataclass(frozen=True, slots=True)
class Place:
    """The time zones a contact may be in (one, usually) and their US state, if known."""

    zones: tuple[ZoneInfo, ...]
    state: str | None = None


def place_of_number(address: str) -> Place | None:
    """Where the phone number `address` (E.164) is, by its area code; None if unknown."""
    if not address.startswith("+"):
        return None
    # Every number of a North American area code shares its zones and state.
    key = address[:5] if address.startswith("+1") else address[:7]
    if key not in _KNOWN:
        if len(_KNOWN) >= _KNOWN_MAX:
            _KNOWN.clear()
        _KNOWN[key] = _look_up(address)
    return _KNOWN[key]


# Area code (or a foreign number's first digits) -> place; a few hundred at most in use.
_KNOWN: dict[str, Place | None] = {}
_KNOWN_MAX = 4096


def _look_up(address: str) -> Place | None:
    try:
        number = phonenumbers.parse(address, None)
    except phonenumbers.NumberParseException:
        return None
    zones = []
    for name in number_zones.time_zones_for_number(number):
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):  # "Etc/Unknown"
            continue
    if not zones:
        return None
    state = None
    if number.country_code == 1:
        state = _state(geocoder.description_for_number(number, "en"))
    return Place(tuple(zones), state)


def _state(description: str) -> str | None:
    """ "Chicago, IL" -> IL; "Florida" -> FL; anything else None."""
    _, _, tail = description.rpartition(", ")
    if tail.upper() in _CODES and len(tail) == 2:
        return tail.upper()
    return US_STATES.get(description.strip().lower())
