"""Rendering replies: numbered options for SMS, and right-to-left marks for Arabic."""

from __future__ import annotations

import pytest

from bot.core.messages import Channel, Choice, OutboundMessage
from bot.core.render import RIGHT_TO_LEFT_MARK as RLM
from bot.core.render import as_plain_text, with_direction


def _message(text: str, *labels: str) -> OutboundMessage:
    keys = [label if label.isdigit() else f"k{i}" for i, label in enumerate(labels)]
    choices = tuple(
        Choice(key, label, f"q:a:q:{key}") for key, label in zip(keys, labels, strict=True)
    )
    return OutboundMessage(Channel.SMS, "+15550100001", text, choices)


DIRECTION_CASES = [
    (
        "english",
        _message("Reply YES or NO.", "Yes", "No"),
        _message("Reply YES or NO.", "Yes", "No"),
    ),
    (
        "arabic opening with the program's latin name",
        _message("Riverside Plan 2030. أسئلة؟ اتصلوا بنا.\nأرسل توقف للإيقاف."),
        _message(f"{RLM}Riverside Plan 2030. أسئلة؟ اتصلوا بنا.\n{RLM}أرسل توقف للإيقاف."),
    ),
    (
        "arabic options, one of them a school's english name",
        _message("ما هي مدرستك؟", "مدرسة لينكولن", "Kennedy High School"),
        _message(f"{RLM}ما هي مدرستك؟", f"{RLM}مدرسة لينكولن", f"{RLM}Kennedy High School"),
    ),
    (
        "a scale's bare numbers stay bare",
        _message("ما مدى رضاك؟ من 1 إلى 5", "1", "2", "3"),
        _message(f"{RLM}ما مدى رضاك؟ من 1 إلى 5", "1", "2", "3"),
    ),
    ("hebrew", _message("תודה רבה"), _message(f"{RLM}תודה רבה")),
    ("marked already", _message(f"{RLM}شكرا"), _message(f"{RLM}شكرا")),
    (
        "english with one arabic word",
        _message("Thank you! We read every message, شكرا."),
        _message("Thank you! We read every message, شكرا."),
    ),
    ("blank lines stay blank", _message("شكرا\n\nمرحبا"), _message(f"{RLM}شكرا\n\n{RLM}مرحبا")),
    ("no letters", _message("👍 1, 2"), _message("👍 1, 2")),
]


@pytest.mark.parametrize(
    ("message", "expected"), [c[1:] for c in DIRECTION_CASES], ids=[c[0] for c in DIRECTION_CASES]
)
def test_right_to_left_messages_mark_every_line(
    message: OutboundMessage, expected: OutboundMessage
) -> None:
    assert with_direction(message) == expected


def test_marked_arabic_options_still_render_as_numbered_lines() -> None:
    message = with_direction(_message("هل توافق؟", "نعم", "لا"))
    assert (
        as_plain_text(message.text, message.choices) == f"{RLM}هل توافق؟\n1) {RLM}نعم\n2) {RLM}لا"
    )


def test_a_marked_scale_still_needs_no_numbered_lines() -> None:
    message = with_direction(_message("ما مدى رضاك؟", "1", "2", "3", "4", "5"))
    assert as_plain_text(message.text, message.choices) == f"{RLM}ما مدى رضاك؟"
