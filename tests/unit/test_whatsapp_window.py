"""WhatsApp's 24-hour window as arithmetic: when free-form may go, and what goes instead."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.core.whatsapp import (
    WINDOW_MARGIN,
    WindowSend,
    how_to_send,
    is_window_open,
    window_closes_at,
)

NOW = datetime(2026, 9, 1, 15, 0)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("last", "open_"),
    [
        (None, False),
        (NOW, True),
        (NOW - 23 * H, True),
        (NOW - 24 * H + timedelta(seconds=1), True),
        (NOW - 24 * H, False),  # exactly 24 hours later it is closed
        (NOW - 25 * H, False),
        (NOW + H, True),  # a clock a little behind the database's
    ],
    ids=["never-wrote", "just-now", "23h", "24h-less-1s", "24h", "25h", "future"],
)
def test_the_window_is_open_strictly_within_24_hours(last: datetime | None, open_: bool) -> None:
    assert is_window_open(last, NOW) is open_


def test_the_window_closes_24_hours_after_the_last_message() -> None:
    assert window_closes_at(NOW) == NOW + 24 * H
    assert window_closes_at(None) is None


def test_a_margin_closes_it_early() -> None:
    last = NOW - 24 * H + WINDOW_MARGIN
    assert is_window_open(last, NOW)
    assert not is_window_open(last, NOW, WINDOW_MARGIN)


SENDS = {
    "open-free-form": (NOW - H, True, False, WindowSend.FREE_FORM),
    "open-even-after-its-template": (NOW - H, True, True, WindowSend.FREE_FORM),
    "open-without-template": (NOW - H, False, False, WindowSend.FREE_FORM),
    "closing-soon-counts-as-closed": (
        NOW - 24 * H + 5 * timedelta(minutes=1),
        True,
        False,
        WindowSend.TEMPLATE,
    ),
    "closed-template": (NOW - 25 * H, True, False, WindowSend.TEMPLATE),
    "never-wrote-template": (None, True, False, WindowSend.TEMPLATE),
    "closed-no-template": (NOW - 25 * H, False, False, WindowSend.NO_TEMPLATE),
    "never-wrote-no-template": (None, False, False, WindowSend.NO_TEMPLATE),
    "closed-template-unanswered": (NOW - 30 * 24 * H, True, True, WindowSend.UNANSWERED),
}


@pytest.mark.parametrize(("last", "has", "sent", "expected"), SENDS.values(), ids=SENDS.keys())
def test_free_form_never_goes_outside_the_window(
    last: datetime | None, has: bool, sent: bool, expected: WindowSend
) -> None:
    assert how_to_send(last, NOW, has_template=has, template_sent=sent) is expected
