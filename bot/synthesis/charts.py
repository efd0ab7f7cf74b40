"""PNG charts for the synthesis pack (matplotlib, Agg: no display, no global figure state)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["bar_chart", "column_chart"]

BLUE = "#2f6f9f"
RED = "#b5473a"


def _save(figure: Figure, path: Path, title: str = "") -> Path:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    # No software version or date in the metadata: the same data gives the same file.
    # The title goes in as text, for screen readers and whoever files the chart.
    metadata = {"Software": None, **({"Title": title} if title else {})}
    figure.savefig(path, format="png", dpi=110, metadata=metadata)
    return path


def bar_chart(
    path: Path,
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    *,
    percent: bool = False,
    reference: float | None = None,
    reference_label: str = "",
    highlight: Sequence[bool] = (),
    note: str = "",
    subtitle: str = "",
) -> Path:
    """Horizontal bars, first label on top; `reference` draws a dashed vertical line."""
    height = 1.6 + 0.32 * max(len(labels), 1)
    figure = Figure(figsize=(8, height))
    axes = figure.add_subplot()
    colours = [RED if i < len(highlight) and highlight[i] else BLUE for i in range(len(labels))]
    positions = list(range(len(labels)))[::-1]
    axes.barh(positions, values, color=colours)
    axes.set_yticks(positions, [_short(label, 48) for label in labels])
    for position, value in zip(positions, values, strict=True):
        shown = f"{value:.0%}" if percent else f"{value:,.1f}".removesuffix(".0")
        axes.text(value, position, f" {shown}", va="center", fontsize=8)
    top = max([*values, reference or 0.0, 0.0]) or 1.0
    axes.set_xlim(0, top * 1.15)
    if reference is not None:
        axes.axvline(reference, color="#333", linestyle="--", linewidth=1, label=reference_label)
        if reference_label:
            axes.legend(loc="best", fontsize=8)
    if percent:
        axes.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
    _titles(axes, title, subtitle)
    axes.spines[["top", "right"]].set_visible(False)
    if note:
        figure.text(0.01, 0.01, note, fontsize=7, color="#555")
    return _save(figure, path, f"{title} ({subtitle})" if subtitle else title)


def column_chart(
    path: Path, labels: Sequence[str], values: Sequence[float], title: str, subtitle: str = ""
) -> Path:
    """Vertical columns over time (answers per day)."""
    figure = Figure(figsize=(9, 3.2))
    axes = figure.add_subplot()
    axes.bar(range(len(values)), values, color=BLUE)
    step = max(1, len(labels) // 10)
    ticks = list(range(0, len(labels), step))
    axes.set_xticks(ticks, [labels[i] for i in ticks], rotation=45, ha="right", fontsize=8)
    _titles(axes, title, subtitle)
    axes.spines[["top", "right"]].set_visible(False)
    return _save(figure, path, f"{title} ({subtitle})" if subtitle else title)


def _titles(axes: Any, title: str, subtitle: str) -> None:
    """The question (wrapped over at most two lines) in bold, then n and dates."""
    lines = textwrap.wrap(title, 80) or [""]
    if len(lines) > 2:
        lines = [lines[0], _short(" ".join(lines[1:]), 80)]
    text = "\n".join(lines)
    if subtitle:
        axes.set_title(subtitle, fontsize=8, color="#444", loc="left")
        axes.figure.suptitle(text, fontsize=10, fontweight="bold", x=0.01, ha="left")
    else:
        axes.set_title(text, fontsize=10, fontweight="bold")


def _short(text: str, length: int = 40) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
