"""What an SMS costs: GSM-7 or UCS-2, units and segments, as Twilio bills them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SMART_ENCODING,
    Encoding,
    SegmentCount,
    count_segments,
    smart_encode,
)

GSM7, UCS2 = Encoding.GSM7, Encoding.UCS2

COUNTS: dict[str, tuple[str, SegmentCount]] = {
    "empty_is_billed_as_one": ("", SegmentCount(GSM7, 0, 1)),
    "plain_english": ("Reply YES or NO.", SegmentCount(GSM7, 16, 1)),
    "gsm7_160_fits_one": ("a" * 160, SegmentCount(GSM7, 160, 1)),
    "gsm7_161_needs_two": ("a" * 161, SegmentCount(GSM7, 161, 2)),
    "gsm7_306_is_two_parts": ("a" * 306, SegmentCount(GSM7, 306, 2)),
    "gsm7_307_is_three_parts": ("a" * 307, SegmentCount(GSM7, 307, 3)),
    "gsm7_1600_is_eleven_parts": ("a" * 1600, SegmentCount(GSM7, 1600, 11)),
    "newlines_are_gsm7": ("1) Safety\r\n2) Reading", SegmentCount(GSM7, 21, 1)),
    "extension_chars_cost_two": ("^{}\\[]~|€", SegmentCount(GSM7, 18, 1)),
    "form_feed_costs_two": ("a\fb", SegmentCount(GSM7, 4, 1)),
    "80_euro_signs_fit_one": ("€" * 80, SegmentCount(GSM7, 160, 1)),
    "81_euro_signs_need_two": ("€" * 81, SegmentCount(GSM7, 162, 2)),
    "an_escape_pair_is_never_split": (
        "a" * 152 + "{" + "a" * 152,
        SegmentCount(GSM7, 306, 3),
    ),
    "spanish_gsm7_letters": ("¿Qué año? ¡Pingüino à la mañana!", SegmentCount(GSM7, 32, 1)),
    "spanish_acute_o_is_ucs2": ("¿Asistió?", SegmentCount(UCS2, 9, 1)),
    "spanish_acute_a_is_ucs2": ("Está bien", SegmentCount(UCS2, 9, 1)),
    "spanish_acute_i_is_ucs2": ("Sí", SegmentCount(UCS2, 2, 1)),
    "spanish_acute_u_is_ucs2": ("Perú", SegmentCount(UCS2, 4, 1)),
    "capital_c_cedilla_is_gsm7": ("Ç", SegmentCount(GSM7, 1, 1)),
    "small_c_cedilla_is_ucs2": ("ç", SegmentCount(UCS2, 1, 1)),
    "escape_itself_is_ucs2": ("\x1b", SegmentCount(UCS2, 1, 1)),
    "backtick_is_ucs2": ("`", SegmentCount(UCS2, 1, 1)),
    "curly_quote_is_ucs2": ("It’s", SegmentCount(UCS2, 4, 1)),
    "vietnamese": ("Cảm ơn quý vị", SegmentCount(UCS2, 13, 1)),
    "chinese": ("学校安全", SegmentCount(UCS2, 4, 1)),
    "emoji_is_two_units": ("👍", SegmentCount(UCS2, 2, 1)),
    "ucs2_70_fits_one": ("a" * 69 + "á", SegmentCount(UCS2, 70, 1)),
    "ucs2_71_needs_two": ("a" * 70 + "á", SegmentCount(UCS2, 71, 2)),
    "ucs2_134_is_two_parts": ("á" * 134, SegmentCount(UCS2, 134, 2)),
    "ucs2_135_is_three_parts": ("á" * 135, SegmentCount(UCS2, 135, 3)),
    "an_emoji_is_never_split": (
        "á" + "a" * 65 + "😀" + "a" * 66,
        SegmentCount(UCS2, 134, 3),
    ),
    "lone_surrogate_is_one_unit": ("\ud83d", SegmentCount(UCS2, 1, 1)),
    "one_emoji_makes_all_ucs2": ("a" * 100 + "🙂", SegmentCount(UCS2, 102, 2)),
}


@pytest.mark.parametrize(("text", "expected"), COUNTS.values(), ids=COUNTS.keys())
def test_count_segments(text: str, expected: SegmentCount) -> None:
    assert count_segments(text) == expected


SMART: dict[str, tuple[str, str]] = {
    "curly_single_quotes": ("It’s ‘ours’", "It's 'ours'"),
    "curly_double_quotes": ("“Plan 2030”", '"Plan 2030"'),
    "angle_quotes": ("«Hola»", '"Hola"'),
    "en_and_em_dashes": ("8–10 am — or later", "8-10 am - or later"),
    "ellipsis": ("Wait…", "Wait..."),
    "no_break_and_thin_spaces": ("10\u00a0am\u2009today", "10 am today"),
    "zero_width_characters": ("Hi\u200bthere\ufeff", "Hithere"),
    "bullet": ("• Safety", "- Safety"),
    "gsm7_text_is_unchanged": ("¿Qué año? ¡Sí, 100€!", "¿Qué año? ¡Sí, 100€!"),
    "accents_are_kept": ("Có, cảm ơn", "Có, cảm ơn"),
}


@pytest.mark.parametrize(("text", "expected"), SMART.values(), ids=SMART.keys())
def test_smart_encode(text: str, expected: str) -> None:
    assert smart_encode(text) == expected


def test_smart_encoding_can_save_segments() -> None:
    text = "We’d love your ideas — text back anytime… “PLAN” starts the survey. " * 2
    assert count_segments(text) == SegmentCount(UCS2, 136, 3)
    assert count_segments(smart_encode(text)) == SegmentCount(GSM7, 140, 1)


def test_smart_encoding_only_replaces_characters_outside_gsm7() -> None:
    outside = set(SMART_ENCODING) & (GSM7_BASIC | GSM7_EXTENSION)
    assert outside == set()
    replacements = "".join(SMART_ENCODING.values())
    assert count_segments(replacements).encoding is GSM7


@given(st.text())
def test_count_segments_never_raises(text: str) -> None:
    count = count_segments(text)
    assert count.segments >= 1
    assert count.units >= len(text)
    part = 153 if count.encoding is GSM7 else 67
    assert count.segments == 1 or count.units <= count.segments * part


@given(st.text())
def test_smart_encode_is_idempotent(text: str) -> None:
    once = smart_encode(text)
    assert smart_encode(once) == once


@given(st.text(alphabet=st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION))))
def test_gsm7_text_stays_gsm7(text: str) -> None:
    assert smart_encode(text) == text
    assert count_segments(text).encoding is GSM7
