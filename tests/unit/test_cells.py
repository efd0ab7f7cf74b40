"""Which texts a spreadsheet would run, and how a CSV cell neutralises them."""

from __future__ import annotations

import pytest

from bot.core.cells import is_formula_like, quoted

CASES = [
    ('=HYPERLINK("http://x","click")', True),
    ("+cmd|' /C calc'!A0", True),
    ("@SUM(1)", True),
    ("-2+3", True),
    ("\t=1+1", True),
    ("\r=1+1", True),
    ("- more buses please", True),
    ("=", True),
    ("-2", False),
    ("+3.5", False),
    ("1e5", False),
    ("4", False),
    ("", False),
    ("More buses", False),
    ("a=b", False),
    ("Más autobuses", False),
]


@pytest.mark.parametrize(("text", "runs"), CASES, ids=[repr(t) for t, _ in CASES])
def test_a_spreadsheet_runs_text_that_starts_like_a_formula(text: str, runs: bool) -> None:
    assert is_formula_like(text) is runs
    assert quoted(text) == ("'" + text if runs else text)
