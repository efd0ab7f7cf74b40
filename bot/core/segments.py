"""What an SMS costs: its encoding and how many segments it is billed as (CHANNELS.md 1.7).

A text whose every character is in the GSM 03.38 alphabet travels as GSM-7:
160 units in one segment, 153 per segment once it is split. Any other
character makes the whole text UCS-2: 70 UTF-16 code units in one segment, 67
per segment. Spanish is the usual surprise: é ñ ü ¿ ¡ à are GSM-7, but á í ó ú
are not, so "¿Asistió?" costs as much as an emoji.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Encoding", "SegmentCount", "count_segments", "smart_encode"]

# GSM 03.38 basic table, without ESC (0x1B), which only introduces the extension table.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: sent as ESC + a character, so each costs two units.
GSM7_EXTENSION = frozenset("^{}\\[]~|€\f")

SINGLE_GSM7, PART_GSM7 = 160, 153
SINGLE_UCS2, PART_UCS2 = 70, 67

# What Twilio's Smart Encoding swaps for a GSM-7 look-alike: only characters
# outside GSM-7, so a text that is GSM-7 already never changes.
SMART_ENCODING: dict[str, str] = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4\u0060\u02bc\u02bb\uff07", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb\uff02", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe63\uff0d", "-"),
    **dict.fromkeys("\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a", " "),
    **dict.fromkeys("\u202f\u205f\u3000\u2028\u2029\t", " "),
    **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u00ad", ""),
    "\u2026": "...",
    "\u2022": "-",
    "\u2039": "<",
    "\u203a": ">",
    "\u00f7": "/",
    "\u2044": "/",
    "\u00bc": "1/4",
    "\u00bd": "1/2",
    "\u00be": "3/4",
}
_SMART_TABLE = str.maketrans(SMART_ENCODING)


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """A text's encoding, its length in units (GSM-7 septets or UTF-16 code units) and its segments."""

    encoding: Encoding
    units: int
    segments: int


def count_segments(text: str) -> SegmentCount:
    """How `text` is sent by SMS: encoding, units and segments billed.

    An empty text is billed as one segment. Once a text is split, a character
    is never cut in two: an extension character (2 units) or an emoji (a
    surrogate pair) that does not fit the end of a segment starts the next, as
    Twilio and the carriers do, so a split text can cost one segment more than
    units / 153 (or / 67) suggests.
    """
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        costs = [2 if char in GSM7_EXTENSION else 1 for char in text]
        encoding, single, part = Encoding.GSM7, SINGLE_GSM7, PART_GSM7
    else:
        costs = [2 if ord(char) > 0xFFFF else 1 for char in text]
        encoding, single, part = Encoding.UCS2, SINGLE_UCS2, PART_UCS2
    units = sum(costs)
    if units <= single:
        return SegmentCount(encoding, units, 1)
    segments, free = 1, part
    for cost in costs:
        if cost > free:
            segments, free = segments + 1, part
        free -= cost
    return SegmentCount(encoding, units, segments)


def smart_encode(text: str) -> str:
    """`text` with curly quotes, dashes, ellipses and odd spaces swapped for GSM-7 look-alikes.

    What Twilio's Smart Encoding does before sending: "It’s a “plan” – …" becomes
    "It's a "plan" - ...", which may turn a UCS-2 text into GSM-7 and cost less.
    """
    return text.translate(_SMART_TABLE)
