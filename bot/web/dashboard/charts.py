"""Small inline SVG charts for server-rendered pages: no script, no CDN, crisp at any zoom."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["Segment", "columns", "horizontal_bars", "stacked_bars"]

LABEL_WIDTH = 190
ROW_HEIGHT = 24
BAR_HEIGHT = 16
PALETTE = ("#2f6f9f", "#c98b2b", "#b5473a", "#6b8e23")


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _svg(width: int, height: int, label: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
        f"{body}</svg>"
    )


def horizontal_bars(
    items: Sequence[tuple[str, float]],
    label: str,
    *,
    width: int = 640,
    maximum: float | None = None,
    reference: float | None = None,
    reference_label: str = "",
    percent: bool = False,
    highlight: Sequence[bool] = (),
) -> str:
    """One bar per item; `reference` draws a dashed line (the district-wide rate);
    highlighted bars are drawn in the warning colour."""
    if not items:
        return ""
    top = max([v for _, v in items] + ([reference] if reference else []) + [maximum or 0])
    top = top or 1.0
    plot = width - LABEL_WIDTH - 70
    parts = []
    for row, (name, value) in enumerate(items):
        y = row * ROW_HEIGHT + 4
        length = plot * value / top
        colour = PALETTE[2] if row < len(highlight) and highlight[row] else PALETTE[0]
        shown = f"{value:.0%}" if percent else _number(value)
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 12}" text-anchor="end" font-size="12">'
            f"{escape(name)}</text>"
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" '
            f'fill="{colour}"/>'
            f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{y + 12}" font-size="12">{shown}</text>'
        )
    height = len(items) * ROW_HEIGHT + 8
    if reference:
        x = LABEL_WIDTH + plot * reference / top
        parts.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}" stroke="#333" '
            f'stroke-dasharray="4 3"/>'
        )
        if reference_label:
            parts.append(
                f'<text x="{x + 3:.1f}" y="{height + 12}" font-size="11">'
                f"{escape(reference_label)}</text>"
            )
        height += 16
    return _svg(width, height, label, "".join(parts))


class Segment:
    """One part of a stacked bar: its name (for the legend) and colour."""

    def __init__(self, name: str, colour: str) -> None:
        self.name = name
        self.colour = colour


def stacked_bars(
    items: Sequence[tuple[str, Sequence[float]]],
    segments: Sequence[Segment],
    label: str,
    *,
    width: int = 640,
    maximum: float | None = None,
) -> str:
    """One stacked bar per item (e.g. answered / skipped / not understood), with a legend."""
    if not items:
        return ""
    top = maximum or max(sum(values) for _, values in items) or 1.0
    plot = width - LABEL_WIDTH - 70
    parts = []
    for row, (name, values) in enumerate(items):
        y = row * ROW_HEIGHT + 4
        x = float(LABEL_WIDTH)
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 12}" text-anchor="end" font-size="12">'
            f"{escape(name)}</text>"
        )
        for value, segment in zip(values, segments, strict=True):
            length = plot * value / top
            if length > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" '
                    f'fill="{segment.colour}"><title>{escape(segment.name)}: '
                    f"{_number(value)}</title></rect>"
                )
            x += length
        parts.append(
            f'<text x="{x + 4:.1f}" y="{y + 12}" font-size="12">{_number(sum(values))}</text>'
        )
    y = len(items) * ROW_HEIGHT + 10
    x = LABEL_WIDTH
    for segment in segments:
        parts.append(
            f'<rect x="{x}" y="{y}" width="10" height="10" fill="{segment.colour}"/>'
            f'<text x="{x + 14}" y="{y + 9}" font-size="11">{escape(segment.name)}</text>'
        )
        x += 14 + 7 * len(segment.name) + 18
    return _svg(width, y + 16, label, "".join(parts))


def columns(
    items: Sequence[tuple[str, float]], label: str, *, width: int = 640, height: int = 160
) -> str:
    """Vertical columns over time (answers per day); every seventh label is shown."""
    if not items:
        return ""
    top = max(v for _, v in items) or 1.0
    plot_height = height - 34
    step = width / len(items)
    parts = []
    for index, (name, value) in enumerate(items):
        tall = plot_height * value / top
        x = index * step
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{12 + plot_height - tall:.1f}" '
            f'width="{max(step - 2, 1):.1f}" height="{tall:.1f}" fill="{PALETTE[0]}">'
            f"<title>{escape(name)}: {_number(value)}</title></rect>"
        )
        last = index == len(items) - 1 and index % 7 >= 4
        if index % 7 == 0 or last:
            # Centred under its column, but never cut off at either edge.
            anchor, at = "middle", x + step / 2
            if index == 0:
                anchor, at = "start", 0.0
            elif index == len(items) - 1:
                anchor, at = "end", float(width)
            parts.append(
                f'<text x="{at:.1f}" y="{height - 6}" font-size="10" '
                f'text-anchor="{anchor}">{escape(name)}</text>'
            )
    parts.append(f'<text x="2" y="10" font-size="10">max {_number(top)}</text>')
    return _svg(width, height, label, "".join(parts))
