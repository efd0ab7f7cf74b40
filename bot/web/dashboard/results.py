"""What people said, per question, on the dashboard: as the public pack shows it.

Choice questions show each option's count and share; scales their mean with
n; rankings their top options by Borda points; free text its themes with
quotes. Every number goes through the public pack's suppression
(bot.synthesis.public): a count under the threshold shows as `<10`, and so
does whatever would give it away. Quotes are shown for the themes a public
pack shows (at least `threshold` people), since the dashboard is for staff.

Working the tables out reads every answer, so results are kept per activity
until its answers change, and worked out again at most every five minutes
while answers keep arriving (the page itself refreshes every minute).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

import pandas as pd

from bot.core.versions import Parse
from bot.ports import DashboardStore
from bot.web.dashboard.charts import horizontal_bars

__all__ = ["QuestionResult", "Results", "activity_results", "render_results", "version_of"]

CACHED = 8
# Pseudonyms are worked out on the way and never shown: a key of this process only.
_SECRET = secrets.token_hex(32)


@dataclass(frozen=True, slots=True)
class Line:
    """One option (or theme): its label, count and share, each possibly a marker."""

    label: str
    count: object
    share: object
    extra: object = None
    quotes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QuestionResult:
    key: str
    prompt: str
    kind: str
    respondents: object
    lines: list[Line] = field(default_factory=list)
    mean: object = None
    n: object = None


@dataclass(frozen=True, slots=True)
class Results:
    activity: str
    threshold: int
    answers: int
    people: int
    period: str
    questions: list[QuestionResult]


# Per (database, activity, time zone, threshold): the answers' version, when worked
# out (time.monotonic) and the results.
_cache: dict[tuple[Any, ...], tuple[tuple[Any, ...], float, Results | None]] = {}
_lock = threading.Lock()
# Answers keep coming during a round: work the tables out again at most this often.
REFRESH_SECONDS = 300.0


def activity_results(
    store: DashboardStore,
    parse: Parse,
    activity_key: str,
    timezone: str,
    threshold: int,
    version: tuple[Any, ...] = (),
    *,
    clock: Callable[[], float] = time.monotonic,
) -> Results | None:
    """The results of `activity_key`, suppressed as in a public pack; None with no answers.

    `version` is anything that changes when the answers do (their count and the
    latest time): results are worked out again only then, and at most every
    `REFRESH_SECONDS` (a round with answers arriving all the time).
    """
    key = (store.database, activity_key, timezone, threshold)
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        seen, when, results = cached
        if seen == version or clock() - when < REFRESH_SECONDS:
            return results
    results = _work_out(store, parse, activity_key, timezone, threshold)
    with _lock:
        _cache.pop(key, None)
        while len(_cache) >= CACHED:
            _cache.pop(next(iter(_cache)))
        _cache[key] = (version, clock(), results)
    return results


def _work_out(
    store: DashboardStore, parse: Parse, activity_key: str, timezone: str, threshold: int
) -> Results | None:
    from bot.core.versions import question_order
    from bot.synthesis.pack import period, summarize, theme_table
    from bot.synthesis.public import publish

    tidy = store.tidy_responses(activity_key, parse, _SECRET, timezone)
    if tidy.empty:
        return None
    versions = store.versions(activity_key, parse)
    sheets = summarize(tidy, versions)
    themes = theme_table(tidy, versions, None, public=True, threshold=threshold)
    quotes = theme_table(tidy, versions, None)
    published = publish(sheets, themes, None, threshold)
    summary, themes = published.summary, published.themes
    said = {
        (str(r.question), str(r.language), int(r.theme)): tuple(
            q for q in (r.quote_1, r.quote_2, r.quote_3) if isinstance(q, str) and q
        )
        for r in quotes.itertuples(index=False)
    }
    questions = summary["questions"].set_index("question")
    overall = summary["overall"]
    scales = summary["scales"]
    scales = scales[scales["dimension"] == "all"].set_index("question")
    rankings = summary["rankings"]
    results = []
    for key, kind, prompt in question_order(versions):
        answered = questions.loc[key, "answered"] if key in questions.index else 0
        result = QuestionResult(key, prompt or key, kind, answered)
        if kind == "ranking":
            ranked = rankings[rankings["question"] == key]
            result.lines.extend(
                Line(str(r.label), r.first_choice, r.first_choice_share, r.borda_points)
                for r in ranked.itertuples(index=False)
            )
        elif kind == "free_text":
            mine = themes[themes["question"] == key]
            result.lines.extend(
                Line(
                    str(r.top_terms),
                    r.size,
                    r.share,
                    r.language,
                    said.get((key, str(r.language), int(r.theme)), ()) if r.theme else (),
                )
                for r in mine.itertuples(index=False)
            )
        else:
            mine = overall[overall["question"] == key]
            result.lines.extend(
                Line(str(r.label), r.count, r.share) for r in mine.itertuples(index=False)
            )
            if kind == "scale" and key in scales.index:
                result = QuestionResult(
                    key,
                    result.prompt,
                    kind,
                    answered,
                    result.lines,
                    scales.loc[key, "mean"],
                    scales.loc[key, "n"],
                )
        results.append(result)
    return Results(
        activity=activity_key,
        threshold=threshold,
        answers=len(tidy),
        people=int(tidy["participant"].nunique()),
        period=period(tidy["received_at"], timezone),
        questions=results,
    )


# -- the section ---------------------------------------------------------------------


def _hidden(value: object) -> bool:
    return isinstance(value, str) and value.startswith("<")


def _count(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if _hidden(value):
        return escape(str(value))
    return f"{int(float(str(value))):,}"


def _percent(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if _hidden(value):
        return escape(str(value))
    return f"{float(str(value)):.0%}"


def _question(result: QuestionResult) -> str:
    kind = result.kind.replace("_", " ")
    head = (
        f'<article class="question" data-question="{escape(result.key)}">'
        f"<h3>{escape(result.prompt)}</h3>"
        f'<p class="muted">{escape(kind)} · <span data-field="n">n = '
        f"{_count(result.respondents)}</span> people answered</p>"
    )
    if not result.lines:
        return head + '<p class="muted">No answers yet.</p></article>'
    if result.kind == "ranking":
        rows = "".join(
            f'<tr data-option="{escape(line.label)}"><td class="n">{rank}</td>'
            f"<td>{escape(line.label)}</td>"
            f'<td class="n" data-field="points">{_count(line.extra)}</td>'
            f'<td class="n">{_count(line.count)}</td><td class="n">{_percent(line.share)}</td></tr>'
            for rank, line in enumerate(result.lines[:5], start=1)
        )
        return (
            head + '<p class="muted">Top options by Borda points: with m options a first place '
            "gives m points, a second m−1, and so on.</p>"
            "<table><thead><tr><th class=n>#</th><th>option</th><th class=n>points</th>"
            "<th class=n>first choices</th><th class=n>of n</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></article>"
        )
    if result.kind == "free_text":
        items = []
        for line in result.lines:
            quotes = "".join(f"<blockquote>{escape(q)}</blockquote>" for q in line.quotes)
            items.append(
                f'<li data-theme="{escape(line.label)}"><strong>{escape(line.label)}</strong> '
                f'<span class="muted">({escape(str(line.extra))}) · '
                f'<span data-field="size">{_count(line.count)}</span> people · '
                f"{_percent(line.share)}</span>{quotes}</li>"
            )
        return head + f'<ul class="themes">{"".join(items)}</ul></article>'
    shown = [
        (line.label, float(str(line.share))) for line in result.lines if not _hidden(line.share)
    ]
    chart = horizontal_bars(shown, f"{result.prompt}: share of people", percent=True)
    rows = "".join(
        f'<tr data-option="{escape(line.label)}"><td>{escape(line.label)}</td>'
        f'<td class="n" data-field="count">{_count(line.count)}</td>'
        f'<td class="n" data-field="share">{_percent(line.share)}</td></tr>'
        for line in result.lines
    )
    mean = ""
    if result.kind == "scale":
        value = "—" if result.mean is None else escape(str(result.mean))
        if result.mean is not None and not _hidden(result.mean) and not pd.isna(result.mean):
            value = f"{float(str(result.mean)):.1f}"
        mean = (
            f'<p>Mean <strong data-field="mean">{value}</strong> '
            f'(n = <span data-field="mean-n">{_count(result.n)}</span>)</p>'
        )
    return (
        head
        + mean
        + chart
        + "<table><thead><tr><th>option</th><th class=n>people</th><th class=n>share</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></article>"
    )


def render_results(results: Results | None, activity: str | None) -> str:
    """The dashboard's "What people said" section."""
    if activity is None:
        return ""
    title = f"What people said: {escape(activity)}"
    if results is None:
        return (
            f'<section id="results"><h2>{title}</h2><p class="muted">No answers yet.</p></section>'
        )
    rule = (
        f"{results.answers:,} answers from {results.people:,} people, {results.period}. "
        f"As in the public pack, a count under {results.threshold} shows as "
        f"&lt;{results.threshold}, and so does anything that would give it away."
    )
    return (
        f'<section id="results"><h2>{title}</h2><p class="muted">{rule}</p>'
        + "".join(_question(q) for q in results.questions)
        + "</section>"
    )


def version_of(answers: int, last: datetime | None) -> tuple[Any, ...]:
    """What changes when an activity's answers do."""
    return (answers, last.isoformat() if last else "")
