"""Where a family is, as far as quiet hours go: their time zones and US state.

Pure. A roster's ZIP code gives a state (by its first three digits) and that
state's zones; a number's area code gives its time zones
(`phonenumbers.timezone`) and its state (`bot.core.area_codes`). A place that spans two zones (a Texas ZIP, South Dakota's area code
605) keeps both, and quiet hours then hold in either: a family is texted only
when it is daytime wherever they may be.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_zones

from bot.core.area_codes import AREA_STATES

__all__ = ["US_STATES", "Place", "place_of_number", "place_of_zip"]

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
    "washington state": "WA",
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


# The first three digits of a ZIP code -> its state (USPS sectional centers).
_ZIP3: tuple[tuple[int, int, str], ...] = (
    (5, 5, "NY"), (6, 7, "PR"), (8, 8, "VI"), (9, 9, "PR"),
    (10, 27, "MA"), (28, 29, "RI"), (30, 38, "NH"), (39, 49, "ME"), (50, 59, "VT"),
    (60, 69, "CT"), (70, 89, "NJ"), (100, 149, "NY"), (150, 196, "PA"), (197, 199, "DE"),
    (200, 205, "DC"), (206, 219, "MD"), (220, 246, "VA"), (247, 268, "WV"),
    (270, 289, "NC"), (290, 299, "SC"), (300, 319, "GA"), (320, 349, "FL"),
    (350, 369, "AL"), (370, 385, "TN"), (386, 397, "MS"), (398, 399, "GA"),
    (400, 427, "KY"), (430, 459, "OH"), (460, 479, "IN"), (480, 499, "MI"),
    (500, 528, "IA"), (530, 549, "WI"), (550, 567, "MN"), (569, 569, "DC"),
    (570, 577, "SD"), (580, 588, "ND"), (590, 599, "MT"), (600, 629, "IL"),
    (630, 658, "MO"), (660, 679, "KS"), (680, 693, "NE"), (700, 715, "LA"),
    (716, 729, "AR"), (730, 749, "OK"), (750, 799, "TX"), (800, 816, "CO"),
    (820, 831, "WY"), (832, 838, "ID"), (840, 847, "UT"), (850, 865, "AZ"),
    (870, 884, "NM"), (885, 885, "TX"), (889, 898, "NV"), (900, 961, "CA"),
    (967, 968, "HI"), (969, 969, "GU"), (970, 979, "OR"), (980, 994, "WA"),
    (995, 999, "AK"),
)  # fmt: skip
# A state's time zones: every one it spans, so a ZIP alone never picks the later
# evening of two (quiet hours then hold in both).
_STATE_ZONES: dict[str, tuple[str, ...]] = {
    "AL": ("America/Chicago",), "AK": ("America/Anchorage", "America/Adak"),
    "AZ": ("America/Phoenix",), "AR": ("America/Chicago",), "CA": ("America/Los_Angeles",),
    "CO": ("America/Denver",), "CT": ("America/New_York",), "DE": ("America/New_York",),
    "DC": ("America/New_York",), "FL": ("America/New_York", "America/Chicago"),
    "GA": ("America/New_York",), "HI": ("Pacific/Honolulu",),
    "ID": ("America/Boise", "America/Los_Angeles"), "IL": ("America/Chicago",),
    "IN": ("America/Indiana/Indianapolis", "America/Chicago"), "IA": ("America/Chicago",),
    "KS": ("America/Chicago", "America/Denver"),
    "KY": ("America/New_York", "America/Chicago"), "LA": ("America/Chicago",),
    "ME": ("America/New_York",), "MD": ("America/New_York",), "MA": ("America/New_York",),
    "MI": ("America/Detroit", "America/Menominee"), "MN": ("America/Chicago",),
    "MS": ("America/Chicago",), "MO": ("America/Chicago",), "MT": ("America/Denver",),
    "NE": ("America/Chicago", "America/Denver"), "NV": ("America/Los_Angeles",),
    "NH": ("America/New_York",), "NJ": ("America/New_York",), "NM": ("America/Denver",),
    "NY": ("America/New_York",), "NC": ("America/New_York",),
    "ND": ("America/Chicago", "America/Denver"), "OH": ("America/New_York",),
    "OK": ("America/Chicago",), "OR": ("America/Los_Angeles", "America/Boise"),
    "PA": ("America/New_York",), "RI": ("America/New_York",), "SC": ("America/New_York",),
    "SD": ("America/Chicago", "America/Denver"),
    "TN": ("America/Chicago", "America/New_York"), "TX": ("America/Chicago", "America/Denver"),
    "UT": ("America/Denver",), "VT": ("America/New_York",), "VA": ("America/New_York",),
    "WA": ("America/Los_Angeles",), "WV": ("America/New_York",), "WI": ("America/Chicago",),
    "WY": ("America/Denver",), "PR": ("America/Puerto_Rico",), "VI": ("America/St_Thomas",),
    "GU": ("Pacific/Guam",),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Place:
    """The time zones a contact may be in (one, usually) and their US state, if known."""

    zones: tuple[ZoneInfo, ...]
    state: str | None = None

    def key(self) -> str:
        """As stored: "SD:America/Chicago,America/Denver" (":America/Chicago" without a state)."""
        return f"{self.state or ''}:{','.join(zone.key for zone in self.zones)}"

    @classmethod
    def parse(cls, key: str) -> Place | None:
        """The place `key()` wrote; None if it names no zone this machine knows."""
        state, _, names = key.partition(":")
        zones = []
        for name in names.split(","):
            try:
                zones.append(ZoneInfo(name))
            except (ZoneInfoNotFoundError, ValueError):
                continue
        return cls(tuple(zones), state or None) if zones else None


def place_of_zip(code: str) -> Place | None:
    """Where a US ZIP code ("60614", "60614-1234") is: its state and the state's zones."""
    digits = code.strip()[:5]
    if len(digits) != 5 or not digits.isdigit():
        return None
    prefix = int(digits[:3])
    for low, high, state in _ZIP3:
        if low <= prefix <= high:
            return Place(tuple(ZoneInfo(name) for name in _STATE_ZONES[state]), state)
    return None


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
    state = AREA_STATES.get(address[2:5]) if number.country_code == 1 else None
    return Place(tuple(zones), state)
