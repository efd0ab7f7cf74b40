"""The dashboard's own SVG charts: every label inside the picture."""

from __future__ import annotations

import re

from bot.web.dashboard.charts import columns


def test_the_first_and_last_day_labels_are_not_cut_off_at_the_edges() -> None:
    days = [(f"Nov {n:02d}", float(n % 3)) for n in range(7, 40)]
    svg = columns(days, "Answers per day", width=640)
    labels = re.findall(
        r'<text x="([\d.]+)" y="\d+" font-size="10" text-anchor="(\w+)">([^<]+)<', svg
    )
    first, *middle, last = labels
    assert first == ("0.0", "start", "Nov 07")
    assert last == ("640.0", "end", "Nov 39")
    assert all(anchor == "middle" and 0 < float(x) < 640 for x, anchor, _ in middle)
