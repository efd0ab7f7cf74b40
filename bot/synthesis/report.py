"""The board report: one print-ready HTML page of an activity, for the superintendent.

The same content as the synthesis pack's summary (what each question got,
scale means with n, rankings by Borda points, themes, who answered against
enrollment), in one self-contained file: charts are embedded images, the
styles are inline, nothing is fetched from anywhere, and it prints on
Letter or A4 paper (each question kept on one page). Every number is
suppressed as in a public pack, so the report can be handed out; quotes are
left out unless asked for, and then come only from themes the public pack
shows.
"""

from __future__ import annotations

import base64
import tempfile
from html import escape
from pathlib import Path

import pandas as pd

from bot.synthesis.charts import bar_chart
from bot.synthesis.pack import RANKING_METHOD, BoardData
from bot.synthesis.suppression import marker

__all__ = ["render_board_report"]

STYLE = """
@page { size: letter; margin: 18mm 16mm; }
* { box-sizing: border-box; }
body { font-family: Georgia, 'Times New Roman', serif; color: #1d2733; max-width: 760px;
       margin: 24px auto; padding: 0 16px; line-height: 1.4; font-size: 11pt; }
h1 { font-size: 22pt; margin: 0 0 4px; }
h2 { font-size: 15pt; border-bottom: 2px solid #2f6f9f; padding-bottom: 2px; margin-top: 28px; }
h3 { font-size: 12pt; margin: 0 0 2px; }
.muted { color: #5b6770; font-size: 9.5pt; }
.glance { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.glance div { border: 1px solid #c9d3dc; border-radius: 6px; padding: 8px 12px; min-width: 130px; }
.glance strong { display: block; font-size: 18pt; }
.question { break-inside: avoid; page-break-inside: avoid; margin: 18px 0; }
table { border-collapse: collapse; width: 100%; font-size: 10pt; margin-top: 6px; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #dde3e8; }
th { background: #eef3f7; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.flag td { background: #fbeae7; }
img { max-width: 100%; }
blockquote { margin: 4px 0 4px 8px; padding-left: 8px; border-left: 3px solid #c9d3dc;
             font-style: italic; }
footer { margin-top: 32px; border-top: 1px solid #c9d3dc; padding-top: 6px; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; } }
"""


def _hidden(value: object) -> bool:
    return isinstance(value, str) and value.startswith("<")


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def _count(value: object) -> str:
    if _missing(value):
        return "—"
    if _hidden(value):
        return escape(str(value))
    return f"{int(float(str(value))):,}"


def _percent(value: object, digits: int = 0) -> str:
    if _missing(value):
        return "—"
    if _hidden(value):
        return escape(str(value))
    return f"{float(str(value)):.{digits}%}"


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{data}">'


def _choice(key: str, prompt: str, data: BoardData, folder: Path, kind: str) -> tuple[str, str]:
    overall = data.summary["overall"]
    mine = overall[overall["question"] == key]
    shown = mine[~mine["share"].map(_hidden)]
    chart = ""
    if len(shown):
        path = folder / f"{len(list(folder.iterdir()))}.png"
        bar_chart(
            path,
            [str(label) for label in shown["label"]],
            [float(v) for v in shown["share"]],
            "Share of the people who answered",
            percent=True,
        )
        chart = _image(path)
    rows = "".join(
        f"<tr><td>{escape(str(r.label))}</td><td class=n>{_count(r.count)}</td>"
        f"<td class=n>{_percent(r.share)}</td></tr>"
        for r in mine.itertuples(index=False)
    )
    mean = ""
    if kind == "scale":
        scales = data.summary["scales"]
        line = scales[(scales["dimension"] == "all") & (scales["question"] == key)]
        if len(line):
            value = line["mean"].iloc[0]
            shown_mean = escape(str(value)) if _hidden(value) else f"{float(value):.1f}"
            mean = (
                f"<p>Average answer: <strong>{shown_mean}</strong> "
                f"(n = {_count(line['n'].iloc[0])})</p>"
            )
    note = (
        '<p class="muted">People could choose several options: shares add up to more than 100%.</p>'
        if kind == "multiple_choice"
        else ""
    )
    table = (
        "<table><thead><tr><th>answer</th><th class=n>people</th><th class=n>share</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    n = mine["respondents"].iloc[0] if len(mine) else 0
    return _count(n), mean + chart + table + note


def _ranking(key: str, data: BoardData) -> tuple[str, str]:
    rankings = data.summary["rankings"]
    mine = rankings[rankings["question"] == key]
    rows = "".join(
        f"<tr><td class=n>{r.rank}</td><td>{escape(str(r.label))}</td>"
        f"<td class=n>{_count(r.borda_points)}</td><td class=n>{_count(r.first_choice)}</td>"
        f"<td class=n>{_percent(r.first_choice_share)}</td></tr>"
        for r in mine.itertuples(index=False)
    )
    n = mine["respondents"].iloc[0] if len(mine) else 0
    return _count(n), (
        "<table><thead><tr><th class=n>#</th><th>option</th><th class=n>Borda points</th>"
        "<th class=n>ranked first</th><th class=n>share first</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _free_text(key: str, data: BoardData, with_quotes: bool) -> tuple[str, str]:
    themes = data.themes[data.themes["question"] == key]
    questions = data.summary["questions"].set_index("question")
    n = questions.loc[key, "answered"] if key in questions.index else 0
    if themes.empty:
        return _count(n), '<p class="muted">No written answers.</p>'
    items = []
    for r in themes.itertuples(index=False):
        quotes = ""
        if with_quotes and int(r.theme):
            said = data.quotes.get((key, str(r.language), int(r.theme)), ())[:2]
            quotes = "".join(f"<blockquote>“{escape(q)}”</blockquote>" for q in said)
        items.append(
            f"<li><strong>{escape(str(r.top_terms))}</strong> "
            f'<span class="muted">({escape(str(r.language))}): {_count(r.size)} people, '
            f"{_percent(r.share)} of those writing</span>{quotes}</li>"
        )
    return _count(n), (
        '<p class="muted">Themes found in what people wrote, by the words that mark each.</p>'
        f"<ul>{''.join(items)}</ul>"
    )


def _representation(data: BoardData) -> str:
    table = data.representation.get("school_language")
    if table is None or table.empty or data.district_rate is None:
        return ""
    rows = "".join(
        f'<tr class="{"flag" if bool(r.under_represented) else ""}">'
        f"<td>{escape(str(r.school))}</td><td>{escape(str(r.language))}</td>"
        f"<td class=n>{_count(r.enrolled)}</td><td class=n>{_count(r.respondents)}</td>"
        f"<td class=n>{_percent(r.response_rate, 1)}</td>"
        f"<td>{'under-represented' if bool(r.under_represented) else ''}</td></tr>"
        for r in table.itertuples(index=False)
    )
    ratio = data.ratio or 0.8
    return (
        "<h2>Who answered</h2>"
        f"<p>Across the district, {data.district_rate:.1%} of enrolled families answered. "
        f"A group is under-represented when its rate is below {ratio:.0%} of that "
        "(highlighted): their voices are missing from the results above.</p>"
        "<table><thead><tr><th>school</th><th>language</th><th class=n>enrolled</th>"
        "<th class=n>answered</th><th class=n>rate</th><th></th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def render_board_report(data: BoardData, *, with_quotes: bool = False) -> str:
    """The report as one HTML document (charts embedded)."""
    activity = data.activity
    title = activity.title.get("en", activity.default_language)
    hidden = marker(data.threshold)
    sections = []
    with tempfile.TemporaryDirectory(prefix="engage-report-") as temporary:
        folder = Path(temporary)
        for key, kind, prompt in data.questions:
            text = prompt or key
            if kind == "ranking":
                n, body = _ranking(key, data)
            elif kind == "free_text":
                n, body = _free_text(key, data, with_quotes)
            else:
                n, body = _choice(key, text, data, folder, kind)
            sections.append(
                f'<section class="question" data-question="{escape(key)}">'
                f"<h3>{escape(text)}</h3>"
                f'<p class="muted">{escape(kind.replace("_", " "))} · n = {n} people</p>'
                f"{body}</section>"
            )
    questions = data.summary["questions"]
    under = 0
    table = data.representation.get("school_language")
    if table is not None and len(table):
        under = int(table["under_represented"].astype(bool).sum())
    glance = [
        (f"{data.people:,}", "people answered"),
        (f"{data.answers:,}", "answers"),
        (f"{len(questions):,}", "questions"),
    ]
    if data.district_rate is not None:
        glance.append((f"{data.district_rate:.1%}", "of enrolled families"))
        glance.append((f"{under}", "groups under-represented"))
    tiles = "".join(f"<div><strong>{v}</strong>{escape(label)}</div>" for v, label in glance)
    how = [
        "Counts are of people: each person counts once per question, with their latest answer.",
        "A share is of the people who answered that question; n says how many that is.",
        f"To protect privacy, any count under {data.threshold} shows as “{hidden}”, and so "
        "does anything that would give it away.",
        RANKING_METHOD,
    ]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}: results</title>
<style>{STYLE}</style></head>
<body>
<header>
<h1>{escape(title)}</h1>
<p class="muted">Results for the board · {escape(data.period)} · activity
<code>{escape(activity.key)}</code></p>
</header>
<div class="glance">{tiles}</div>
<h2>How to read this report</h2>
<ul>{"".join(f"<li>{escape(line)}</li>" for line in how)}</ul>
<h2>What people said</h2>
{"".join(sections)}
{_representation(data)}
<footer class="muted">Made {escape(data.generated)} ({escape(data.timezone)}) with
<code>engage report {escape(activity.key)}</code>. The full tables are in the synthesis
pack (<code>engage export {escape(activity.key)} --pack DIR --public</code>).</footer>
</body></html>
"""
