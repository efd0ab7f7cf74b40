"""SMS segment counting: what a text costs, GSM-7 or UCS-2 (CHANNELS.md 1.7)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Encoding", "SegmentCount", "count_segments", "smart_encode"]

# GSM 03.38 basic character set.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs two units (escape + char).
GSM_EXTENDED = frozenset("^{}\\[]~|€\f")

SMART = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u2022": "-",
    }
)


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SegmentCount:
    encoding: Encoding
    units: int
    segments: int


def count_segments(text: str) -> SegmentCount:
    """How many SMS segments `text` costs (an empty text is billed as one)."""
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in text):
        units = sum(2 if c in GSM_EXTENDED else 1 for c in text)
        single, multi, encoding = 160, 153, Encoding.GSM7
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, Encoding.UCS2
    segments = 1 if units <= single else -(-units // multi)
    return SegmentCount(encoding, units, segments)


def smart_encode(text: str) -> str:
    """Swap curly quotes, dashes, ellipses and no-break spaces for GSM-7 look-alikes."""
    return text.translate(SMART)
