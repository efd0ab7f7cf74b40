"""The dashboard's section for an idea exchange: ideas waiting for a moderator, top and
consensus ideas, the opinion-group map (inline SVG), and who takes part, by language and
school, against enrollment.

The analysis (bot.synthesis.ideas) is kept per exchange until its reactions
change and for at most `ANALYSIS_SECONDS`, so a page refreshing every minute
does not redo PCA and k-means each time for a large exchange.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from html import escape

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bot.core.activity import Activity
from bot.core.moderation import IdeaCard
from bot.ports import DashboardStore
from bot.synthesis.ideas import ExchangeVotes, IdeasReport, analyse_exchange, group_name
from bot.synthesis.suppression import DEFAULT_THRESHOLD
from bot.web.dashboard.charts import PALETTE

__all__ = ["ExchangeView", "gather_exchange", "opinion_map", "render_exchange"]

ANALYSIS_SECONDS = 300.0
MAP_POINTS = 1500
MAP_SIZE = 420
SHOWN_IDEAS = 5
GREY = "#9a9a9a"

_cache: dict[str, tuple[float, int, IdeasReport | None]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class ExchangeView:
    """What the section shows for one exchange."""

    key: str
    waiting: list[IdeaCard]
    live: int
    people: int
    reactions: int
    report: IdeasReport | None
    by_language: pd.DataFrame
    by_school: pd.DataFrame


def _analysed(key: str, data: ExchangeVotes, reactions: int) -> IdeasReport | None:
    with _lock:
        kept = _cache.get(key)
        if (
            kept is not None
            and kept[1] == reactions
            and time.monotonic() - kept[0] < ANALYSIS_SECONDS
        ):
            return kept[2]
    report = analyse_exchange(data, threshold=DEFAULT_THRESHOLD) if reactions else None
    with _lock:
        _cache[key] = (time.monotonic(), reactions, report)
    return report


def _taking_part(
    store: DashboardStore, votes: pd.DataFrame, people: pd.DataFrame, column: str, default: str
) -> pd.DataFrame:
    """People and reactions per `column` (language or school), with enrollment beside them."""
    who = people[column].replace("", pd.NA)
    if column == "language":
        who = who.fillna(default)
    who = who.fillna("unknown")
    reacting = votes.assign(group=who.reindex(votes["participant"]).to_numpy())
    counts = reacting.groupby("group").agg(
        people=("participant", "nunique"), reactions=("idea", "size")
    )
    enrolled = pd.Series(store.enrolled(column), dtype="int64")
    table = counts.join(enrolled.rename("enrolled"), how="outer").fillna(0).astype("int64")
    table["share"] = np.where(
        table["enrolled"] > 0, table["people"] / table["enrolled"].clip(lower=1), np.nan
    )
    return table.sort_values(["people", "enrolled"], ascending=False)


def gather_exchange(store: DashboardStore, activity: Activity) -> ExchangeView:
    """Everything the exchange section shows."""
    language = activity.default_language
    waiting = store.waiting_ideas(activity.key)
    tables = store.exchange_tables(activity.key, language)
    prompt = activity.exchange.prompt.get(language) if activity.exchange else ""
    data = ExchangeVotes(activity.key, prompt, "", tables.ideas, tables.votes, tables.participants)
    reactions = len(tables.votes)
    return ExchangeView(
        key=activity.key,
        waiting=waiting,
        live=int((tables.ideas["status"] == "approved").sum()),
        people=int(tables.votes["participant"].nunique()) if reactions else 0,
        reactions=reactions,
        report=_analysed(activity.key, data, reactions),
        by_language=_taking_part(store, tables.votes, tables.participants, "language", language),
        by_school=_taking_part(store, tables.votes, tables.participants, "school", language),
    )


def opinion_map(report: IdeasReport, size: int = MAP_SIZE) -> str:
    """The participants on the two PCA components, coloured by opinion group (grey: not
    grouped); at most `MAP_POINTS` of them, drawn evenly from everyone."""
    opinion = report.opinion
    points: NDArray[np.float64] = opinion.projection
    labels = opinion.labels
    if len(points) == 0:
        return ""
    if len(points) > MAP_POINTS:
        chosen = np.linspace(0, len(points) - 1, MAP_POINTS).astype(np.int64)
        points, labels = points[chosen], labels[chosen]
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    margin = 16
    scaled = margin + (points - low) / span * (size - 2 * margin)
    dots = []
    for (x, y), label in zip(scaled, labels, strict=True):
        colour = PALETTE[int(label) % len(PALETTE)] if label >= 0 else GREY
        dots.append(
            f'<circle cx="{x:.1f}" cy="{size - y:.1f}" r="2.5" fill="{colour}" '
            f'fill-opacity="0.6" data-group="{int(label)}"/>'
        )
    legend = []
    for g in range(opinion.count):
        people = int((opinion.labels == g).sum())
        legend.append(
            f'<text x="{size + 12}" y="{24 + 20 * g}" font-size="13" '
            f'fill="{PALETTE[g % len(PALETTE)]}">● group {group_name(g)}: {people:,}</text>'
        )
    ungrouped = int((opinion.labels < 0).sum())
    legend.append(
        f'<text x="{size + 12}" y="{24 + 20 * opinion.count}" font-size="13" fill="{GREY}">'
        f"● not grouped: {ungrouped:,}</text>"
    )
    label = f"Opinion groups: {opinion.count} groups of {len(opinion.labels):,} people"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size + 200} {size}" '
        f'width="100%" role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
        f'<rect x="0" y="0" width="{size}" height="{size}" fill="none" stroke="#ccc"/>'
        + "".join(dots)
        + "".join(legend)
        + "</svg>"
    )


def _ideas_list(frame: pd.DataFrame, list_id: str, empty: str) -> str:
    if frame.empty:
        return f'<p class="muted" id="{list_id}">{escape(empty)}</p>'
    items = "".join(
        f'<li data-idea="{int(row.idea)}">{escape(str(row.text))} '
        f'<span class="muted">{float(row.agreement):.0%} agree of {int(row.reactions):,}</span></li>'
        for row in frame.head(SHOWN_IDEAS).itertuples()
    )
    return f'<ol id="{list_id}">{items}</ol>'


def _taking_part_table(frame: pd.DataFrame, what: str, table_id: str) -> str:
    rows = "".join(
        f'<tr data-{what}="{escape(str(name))}"><td>{escape(str(name))}</td>'
        f'<td class="n">{int(r.people):,}</td><td class="n">{int(r.reactions):,}</td>'
        f'<td class="n">{int(r.enrolled):,}</td>'
        f'<td class="n">{"—" if pd.isna(r.share) else f"{r.share:.0%}"}</td></tr>'
        for name, r in frame.iterrows()
    )
    return (
        f'<table id="{table_id}"><thead><tr><th>{what}</th><th class=n>people</th>'
        "<th class=n>reactions</th><th class=n>enrolled</th><th class=n>people ÷ enrolled</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def render_exchange(view: ExchangeView) -> str:
    """The section, as HTML."""
    waiting = "".join(
        f'<tr data-idea="{card.number}"><td class="n">{card.number}</td>'
        f"<td>{escape(card.language)}</td><td>{escape(card.text)}</td>"
        f"<td>{escape('⚑ ' + '; '.join(card.flags)) if card.flags else ''}</td></tr>"
        for card in view.waiting
    )
    waiting_html = (
        f'<table id="ideas-waiting"><thead><tr><th class=n>#</th><th>language</th><th>idea</th>'
        f"<th>flags</th></tr></thead><tbody>{waiting}</tbody></table>"
        if view.waiting
        else '<p class="muted" id="ideas-waiting">Nothing waiting for a moderator.</p>'
    )
    report = view.report
    if report is None:
        analysis = '<p class="muted">No reactions yet.</p>'
    else:
        groups = (
            f"{report.opinion.count} opinion groups"
            if report.opinion.count
            else "no opinion groups yet (too few people have reacted to enough ideas)"
        )
        analysis = (
            f"<h3>Top ideas</h3>{_ideas_list(report.top(SHOWN_IDEAS), 'ideas-top', 'None yet.')}"
            "<h3>Consensus: a majority agrees in every group</h3>"
            f"{_ideas_list(report.consensus, 'ideas-consensus', 'No consensus idea yet.')}"
            f'<h3>Opinion groups</h3><p class="muted">{escape(groups)}</p>'
            f'<div id="opinion-map">{opinion_map(report)}</div>'
        )
    return (
        f'<section id="exchange"><h2>Idea exchange: {escape(view.key)}</h2>'
        f'<p><span id="ideas-live">{view.live:,}</span> ideas live, '
        f'<span id="ideas-waiting-count">{len(view.waiting):,}</span> waiting for a moderator; '
        f"{view.reactions:,} reactions from {view.people:,} people.</p>"
        f"<h3>Waiting for moderation</h3>{waiting_html}{analysis}"
        "<h3>Taking part, by language</h3>"
        f"{_taking_part_table(view.by_language, 'language', 'ideas-by-language')}"
        "<h3>Taking part, by school</h3>"
        f"{_taking_part_table(view.by_school, 'school', 'ideas-by-school')}</section>"
    )
