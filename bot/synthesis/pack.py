"""The synthesis pack: everything the planning committee needs from one activity, in one folder.

`write_pack` builds the folder next to its destination and renames it into
place at the end, so an interrupted or failed export leaves nothing
half-written. docs/synthesis.md lists the files; README.md inside the pack
says the same for the committee.

A public pack (`public=True`) holds aggregates only: no row-level tables, no
Let's Talk threads, no quotes; every count below the threshold is suppressed,
with whatever would give it away by subtraction (bot.synthesis.public).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from bot.core.activity import Activity, QuestionType
from bot.core.keys import participant_key
from bot.core.texts import text as system_text
from bot.core.versions import Parse, Version, question_order
from bot.core.workbook import About, facts, frame_sheet
from bot.errors import ExportError, RepresentationError
from bot.files.answers import scales_as_numbers, wide_responses
from bot.files.tables import TABLE_SHEETS, XLSX_MAX_ROWS, write_csv, write_workbook
from bot.ports import LetsTalkMessage, SynthesisStore
from bot.synthesis.charts import bar_chart, column_chart
from bot.synthesis.public import publish
from bot.synthesis.representation import Representation, measure_representation
from bot.synthesis.suppression import DEFAULT_THRESHOLD, marker
from bot.synthesis.themes import find_themes

__all__ = [
    "BoardData",
    "PackReport",
    "board_data",
    "lets_talk_threads",
    "summarize",
    "theme_table",
    "write_pack",
]

MANIFEST = "pack.json"
DIMENSIONS = ("school", "role", "language")
EXCLUSIVE = frozenset(
    {QuestionType.SINGLE_CHOICE.value, QuestionType.YES_NO.value, QuestionType.SCALE.value}
)
COUNTED = EXCLUSIVE | {QuestionType.MULTIPLE_CHOICE.value, QuestionType.RANKING.value}
UNKNOWN = "(unknown)"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class PackReport:
    """What a pack holds: its folder, its files (relative), and notes for the organizer."""

    directory: Path
    files: tuple[str, ...]
    answers: int
    participants: int
    public: bool
    notes: tuple[str, ...] = field(default_factory=tuple)


# -- summary -------------------------------------------------------------------------


def _option_labels(versions: Sequence[Version]) -> dict[tuple[str, str], str]:
    """English label of every option, the newest version's wording winning."""
    labels: dict[tuple[str, str], str] = {}
    for version in versions:
        activity = version.activity
        for question in activity.questions:
            for option in question.options:
                labels[(question.key, option.key)] = option.label.get(
                    "en", activity.default_language
                )
            if question.type is QuestionType.YES_NO:
                for answer in ("yes", "no"):
                    labels[(question.key, answer)] = system_text(answer, "en")
            if question.type is QuestionType.SCALE:
                for number in range(question.scale_min, question.scale_max + 1):
                    labels[(question.key, str(number))] = str(number)
    return labels


def _latest(tidy: pd.DataFrame) -> pd.DataFrame:
    """One row per participant and question: the latest (tidy rows are in arrival order)."""
    latest = tidy.drop_duplicates(["participant", "question"], keep="last").copy()
    for dimension in DIMENSIONS:
        latest[dimension] = latest[dimension].replace("", UNKNOWN)
    return latest


def summarize(tidy: pd.DataFrame, versions: Sequence[Version]) -> dict[str, pd.DataFrame]:
    """summary.xlsx, one frame per sheet: questions, overall, by_school, by_role,
    by_language, scales, rankings.

    Counts are of people (their latest answer to a question); `households` beside
    `respondents` counts the households they answered from (two guardians of one
    child are one). Shares are of the people who answered that question in that group; a multiple-choice share
    is of people who chose the option, so shares there add up to more than 1.
    """
    order = question_order(versions)
    types = {key: kind for key, kind, _ in order}
    latest = _latest(tidy)
    status = (
        pd.crosstab(latest["question"], latest["status"])
        .reindex(columns=["answered", "skipped", "unparsed"], fill_value=0)
        .astype("int64")
    )
    questions = pd.DataFrame(
        [
            {
                "question": key,
                "type": kind,
                "text": prompt,
                "reached": int(status.loc[key].sum()) if key in status.index else 0,
                "answered": int(status.loc[key, "answered"]) if key in status.index else 0,
                "skipped": int(status.loc[key, "skipped"]) if key in status.index else 0,
                "unparsed": int(status.loc[key, "unparsed"]) if key in status.index else 0,
            }
            for key, kind, prompt in order
        ]
    )
    answered = latest[
        (latest["status"] == "answered") & latest["question"].map(types).isin(COUNTED)
    ]
    chosen = answered.assign(option=answered["value"].str.split(";")).explode("option")
    chosen = chosen[chosen["option"].notna() & (chosen["option"] != "")]
    labels = _option_labels(versions)
    observed = chosen.groupby("question")["option"].unique()
    options = {
        key: list(
            dict.fromkeys([o for (q, o) in labels if q == key] + sorted(observed.get(key, [])))
        )
        for key, kind, _ in order
        if kind in COUNTED
    }
    sheets: dict[str, pd.DataFrame] = {"questions": questions}
    for dimension in (None, *DIMENSIONS):
        sheets["overall" if dimension is None else f"by_{dimension}"] = _counts(
            answered, chosen, options, labels, types, dimension
        )
    sheets["scales"] = _scales(answered, types)
    sheets["rankings"] = _rankings(answered, options, labels, types)
    return sheets


def _counts(
    answered: pd.DataFrame,
    chosen: pd.DataFrame,
    options: dict[str, list[str]],
    labels: dict[tuple[str, str], str],
    types: dict[str, str],
    dimension: str | None,
) -> pd.DataFrame:
    group = [dimension] if dimension else []
    respondents = answered.groupby([*group, "question"]).size()
    households = answered.groupby([*group, "question"])["household"].nunique().to_dict()
    counts = chosen.groupby([*group, "question", "option"]).size().to_dict()
    rows = []
    for index, n in respondents.items():
        key = index if isinstance(index, tuple) else (index,)
        question = str(key[-1])
        for option in options.get(question, []):
            count = int(counts.get((*key, option), 0))
            rows.append(
                {
                    **({dimension: key[0]} if dimension else {}),
                    "question": question,
                    "type": types.get(question, ""),
                    "option": option,
                    "label": labels.get((question, option), option),
                    "count": count,
                    "respondents": int(n),
                    "households": int(households.get(index, 0)),
                    "share": count / int(n),
                }
            )
    columns = [
        *group,
        "question",
        "type",
        "option",
        "label",
        "count",
        "respondents",
        "households",
        "share",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    order = {key: i for i, key in enumerate(options)}
    return frame.sort_values(
        [*group, "question"],
        key=lambda c: c.map(order) if c.name == "question" else c,
        kind="stable",
    ).reset_index(drop=True)


def _scales(answered: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    scale = answered[answered["question"].map(types.get) == QuestionType.SCALE.value]
    scale = scale.assign(score=pd.to_numeric(scale["value"], errors="coerce")).dropna(
        subset=["score"]
    )
    frames = []
    for dimension in (None, *DIMENSIONS):
        keys = ["question"] if dimension is None else [dimension, "question"]
        stats = scale.groupby(keys)["score"].agg(n="size", mean="mean").reset_index()
        stats.insert(0, "dimension", dimension or "all")
        stats.insert(1, "group", stats.pop(dimension) if dimension else "all")
        frames.append(stats)
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    columns = ["dimension", "group", "question", "n", "mean"]
    return result.reindex(columns=columns) if not result.empty else pd.DataFrame(columns=columns)


RANKING_METHOD = (
    "Ranking questions are ordered by Borda points: with m options, each first place "
    "gives an option m points, each second place m-1, and so on; an option someone "
    "did not rank gets nothing from them. Ties go to the option with more first "
    "choices. n (respondents) is how many people ranked anything; first_choice_share "
    "is the share of them who put the option first."
)


def _rankings(
    answered: pd.DataFrame,
    options: dict[str, list[str]],
    labels: dict[tuple[str, str], str],
    types: dict[str, str],
) -> pd.DataFrame:
    """One row per option of each ranking question, best first (see RANKING_METHOD)."""
    ranking = answered[answered["question"].map(types.get) == QuestionType.RANKING.value]
    columns = [
        "question",
        "rank",
        "option",
        "label",
        "borda_points",
        "ranked",
        "first_choice",
        "first_choice_share",
        "respondents",
    ]
    rows: list[dict[str, Any]] = []
    for question, group in ranking.groupby("question", sort=False):
        key = str(question)
        places: dict[str, list[int]] = {o: [] for o in options.get(key, [])}
        for value in group["value"]:
            for place, option in enumerate(str(value).split(";"), start=1):
                if option:
                    places.setdefault(option, []).append(place)
        size = len(places)
        respondents = len(group)
        scored: list[dict[str, Any]] = [
            {
                "question": key,
                "option": option,
                "label": labels.get((key, option), option),
                "borda_points": sum(size + 1 - p for p in seen),
                "ranked": len(seen),
                "first_choice": sum(1 for p in seen if p == 1),
                "first_choice_share": sum(1 for p in seen if p == 1) / respondents,
                "respondents": respondents,
            }
            for option, seen in places.items()
        ]
        scored.sort(key=lambda r: (-r["borda_points"], -r["first_choice"]))
        previous: tuple[Any, Any] | None = None
        for position, row in enumerate(scored, start=1):
            score = (row["borda_points"], row["first_choice"])
            row["rank"] = rows[-1]["rank"] if score == previous else position
            previous = score
            rows.append(row)
    return pd.DataFrame(rows, columns=columns)


# -- Let's Talk ----------------------------------------------------------------------


def lets_talk_threads(
    store: SynthesisStore, versions: Sequence[Version], secret: str, timezone: str
) -> pd.DataFrame:
    """Let's Talk messages about the activity and unsolicited ones, one row each, with
    staff replies on the first row of their thread.

    Messages sharing a Slack thread share `thread` (its first message's id). A
    staff reply is the audit entry `lets_talk.reply` naming the thread (who
    wrote what); an outbox row of kind `staff_reply` without one is matched to
    the person's latest message before it.
    """
    zone = ZoneInfo(timezone)
    keys = {v.id: v.activity.key for v in versions}
    log = store.lets_talk([v.id for v in versions])
    items, roots = log.messages, log.roots
    audited, queued = log.audited_replies, log.queued_replies

    def thread_of(item: LetsTalkMessage) -> int:
        posted = item.slack_ts is not None and not str(item.slack_ts).startswith("lease:")
        return int(roots.get((item.slack_channel, item.slack_ts), item.id)) if posted else item.id

    thread = {item.id: thread_of(item) for item in items}
    replies: dict[int, list[str]] = {}
    seen_outbox: set[int] = set()
    for entry in audited:
        detail = entry.detail or {}
        root = detail.get("item")
        if isinstance(root, int) and root in thread.values():
            when = _local_text(entry.created_at, zone)
            replies.setdefault(root, []).append(f"[{when}] {entry.actor}: {detail.get('text', '')}")
            if detail.get("outbox_id") is not None:
                seen_outbox.add(int(detail["outbox_id"]))
    by_person: dict[int, list[LetsTalkMessage]] = {}
    for item in items:
        by_person.setdefault(item.participant_id, []).append(item)
    for reply in queued:
        if reply.id in seen_outbox:
            continue
        earlier = [
            i for i in by_person.get(reply.participant_id, []) if i.created_at <= reply.created_at
        ]
        if earlier:
            when = _local_text(reply.created_at, zone)
            replies.setdefault(thread[earlier[-1].id], []).append(f"[{when}] {reply.body}")
    records = [
        {
            "thread": thread[item.id],
            "message": item.id,
            "participant": participant_key(secret, item.export_salt),
            "activity": keys.get(item.activity_id, "") if item.activity_id else "",
            "received_at": _local_text(item.created_at, zone),
            "language": item.language or "",
            "role": item.role or "",
            "school": item.school or "",
            "text": item.text,
            "status": item.status,
            "first_response_at": _local_text(item.first_response_at, zone),
            "resolved_at": _local_text(item.resolved_at, zone),
            "staff_replies": "\n".join(replies.get(item.id, []))
            if thread[item.id] == item.id
            else "",
        }
        for item in items
    ]
    columns = [
        "thread",
        "message",
        "participant",
        "activity",
        "received_at",
        "language",
        "role",
        "school",
        "text",
        "status",
        "first_response_at",
        "resolved_at",
        "staff_replies",
    ]
    return pd.DataFrame.from_records(records, columns=columns)


def _local_text(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return ""
    return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).isoformat(timespec="seconds")


# -- themes --------------------------------------------------------------------------


def theme_table(
    tidy: pd.DataFrame,
    versions: Sequence[Version],
    threads: pd.DataFrame | None,
    *,
    public: bool = False,
    threshold: int = DEFAULT_THRESHOLD,
) -> pd.DataFrame:
    """Themes of every free-text question (and of Let's Talk messages), per language.

    A text's language is the detected one when detection was confident, else
    the language the participant was using. Public: no quotes, and themes
    smaller than `threshold` are folded into one suppressed row.
    """
    order = {key: i for i, (key, _, _) in enumerate(question_order(versions))}
    free = _latest(tidy)
    free = free[
        (free["question_type"] == QuestionType.FREE_TEXT.value)
        & (free["status"] == "answered")
        & (free["text"].str.strip() != "")
    ]
    sources: list[tuple[str, str, pd.Series]] = []
    for question, group in free.groupby("question", sort=False):
        language = group["detected_language"].where(
            group["detected_language"] != "", group["language"]
        )
        for code, texts in group["text"].groupby(language.to_numpy(), sort=True):
            sources.append((str(question), str(code), texts))
    if threads is not None and len(threads):
        for code, texts in threads["text"].groupby(
            threads["language"].replace("", UNKNOWN).to_numpy(), sort=True
        ):
            sources.append(("lets_talk", str(code), texts))
    sources.sort(key=lambda s: (order.get(s[0], len(order)), s[0], s[1]))
    rows = []
    for question, language, texts in sources:
        themes = find_themes(list(texts), language)
        total = sum(t.size for t in themes)
        small = 0
        for number, theme in enumerate(themes, start=1):
            if public and theme.size < threshold:
                small += theme.size
                continue
            quotes = () if public else theme.quotes
            rows.append(
                {
                    "question": question,
                    "language": language,
                    "theme": number,
                    "top_terms": ", ".join(theme.terms) or "(no distinctive words)",
                    "size": theme.size,
                    "share": theme.size / total if total else np.nan,
                    "quote_1": quotes[0] if len(quotes) > 0 else "",
                    "quote_2": quotes[1] if len(quotes) > 1 else "",
                    "quote_3": quotes[2] if len(quotes) > 2 else "",
                }
            )
        if small:
            rows.append(
                {
                    "question": question,
                    "language": language,
                    "theme": 0,
                    "top_terms": "(smaller themes)",
                    "size": small,
                    "share": small / total,
                    "quote_1": "",
                    "quote_2": "",
                    "quote_3": "",
                }
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "question",
            "language",
            "theme",
            "top_terms",
            "size",
            "share",
            "quote_1",
            "quote_2",
            "quote_3",
        ],
    )
    return frame


# -- representation --------------------------------------------------------------------


def representation_tables(report: Representation) -> dict[str, pd.DataFrame]:
    """representation.xlsx: per school × language (the dashboard's view), and × role."""
    return {
        "school_language": report.frame(("school", "language")),
        "school_language_role": report.frame(("school", "language", "role")),
        "school": report.frame(("school",)),
        "language": report.frame(("language",)),
    }


# -- writing ---------------------------------------------------------------------------


# What each sheet of the pack's workbooks holds (shown on their About sheet).
SHEETS = {
    "tidy": "one row per answer: who (a pseudonymous key), which question, what they said",
    "wide": "one row per participant and activity, a column per question",
    "questions": "each question: how many people it reached, answered, skipped it "
    "or gave a reply that could not be read",
    "overall": "each option of each question: how many people chose it (count), of how "
    "many who answered (respondents), and the share",
    "by_school": "as overall, per school",
    "by_role": "as overall, per role (parent, student, staff…)",
    "by_language": "as overall, per language the person used",
    "scales": "scale questions: the mean answer and how many people gave one (n), "
    "overall and per school, role and language",
    "rankings": "ranking questions, best first by Borda points, with how many ranked "
    "each option and put it first (the method is on this sheet)",
    "lets_talk": "Let's Talk messages with staff replies",
    "themes": "themes of every free-text question per language: top terms, size, quotes",
    "school_language": "response rate against enrollment per school and language, "
    "under-represented groups flagged",
    "school_language_role": "as school_language, per role too",
    "school": "response rate per school",
    "language": "response rate per language",
}


@dataclass(frozen=True, slots=True)
class _Context:
    """What every workbook of one pack says on its About sheet."""

    activity: Activity
    answers: int
    people: int
    first: str
    last: str
    generated: str
    timezone: str
    public: bool
    threshold: int

    def about(self, what: str, notes: Sequence[str] = ()) -> About:
        title = self.activity.title.get("en", self.activity.default_language)
        if self.public:
            rule = (
                f"PUBLIC: every count under {self.threshold} shows as "
                f"{marker(self.threshold)}, as does every share, mean or rate computed "
                "from it, and any count that would give one away by subtraction."
            )
        else:
            rule = (
                "none: INTERNAL, with row-level answers and free text. Share only with "
                "the planning committee; publish the public pack (--public) instead."
            )
        return About(
            title=f"{title}: {what}",
            facts=facts(
                {
                    "Activity": f"{self.activity.key} ({title})",
                    "Answers": f"{self.answers:,}",
                    "People": f"{self.people:,}",
                    "First answer": self.first,
                    "Last answer": self.last,
                    "Generated": self.generated,
                    "Times in": self.timezone,
                    "Suppression": rule,
                    "Counts": "people, each counted once per question with their latest "
                    "answer; a share is of the people who answered that question in "
                    "that group (multiple choice: shares add up to more than 100%)",
                }
            ),
            notes=(*notes, "The pack's README.md describes every file and chart."),
        )


def _workbook(
    frames: dict[str, pd.DataFrame],
    path: Path,
    context: _Context,
    what: str,
    notes: Sequence[str] = (),
) -> None:
    write_workbook(
        [frame_sheet(name, SHEETS.get(name, ""), frame) for name, frame in frames.items()],
        path,
        context.about(what, notes),
    )


def _table(
    frame: pd.DataFrame,
    folder: Path,
    stem: str,
    files: list[str],
    notes: list[str],
    context: _Context,
) -> None:
    write_csv(frame, folder / f"{stem}.csv")
    frame.to_parquet(folder / f"{stem}.parquet", index=False, engine="pyarrow")
    files += [f"{stem}.csv", f"{stem}.parquet"]
    if len(frame) <= XLSX_MAX_ROWS:
        name, _ = TABLE_SHEETS[stem]
        write_workbook(
            [frame_sheet(name, SHEETS[stem], scales_as_numbers(frame))],
            folder / f"{stem}.xlsx",
            context.about("every answer" if stem == "tidy" else "answers per participant"),
        )
        files.append(f"{stem}.xlsx")
    else:
        notes.append(f"{stem}.xlsx left out: {len(frame):,} rows are more than Excel holds")


def _file_name(text: str) -> str:
    return _UNSAFE.sub("-", text).strip("-") or "question"


def period(received: pd.Series, timezone: str) -> str:
    """The days answers came in, as a reader says them: "Sep 1 – Sep 30, 2026"."""
    days = received.dt.tz_convert(timezone)
    first, last = days.min(), days.max()
    if first.date() == last.date():
        return f"{first:%b} {first.day}, {first:%Y}"
    if first.year == last.year:
        return f"{first:%b} {first.day} – {last:%b} {last.day}, {last:%Y}"
    return f"{first:%b} {first.day}, {first:%Y} – {last:%b} {last.day}, {last:%Y}"


def _people(n: object) -> str:
    """The n of a chart: "17", or "fewer than 10" when suppressed ("<10")."""
    text = str(n)
    return f"fewer than {text[1:]}" if text.startswith("<") else f"{int(float(text)):,}"


def _charts(
    folder: Path,
    sheets: dict[str, pd.DataFrame],
    tidy: pd.DataFrame,
    versions: Sequence[Version],
    representation: Representation | None,
    tables: dict[str, pd.DataFrame],
    timezone: str,
    public: bool,
    threshold: int,
) -> list[tuple[str, str]]:
    """Draw the pack's charts; each chart's file and what it shows, for the README."""
    charts = folder / "charts"
    charts.mkdir()
    made: list[tuple[str, str]] = []
    hidden = marker(threshold)
    note = f"Counts under {threshold} are not shown." if public else ""
    when = period(tidy["received_at"], timezone)
    overall = sheets["overall"]
    rankings = sheets["rankings"]
    prompts = {key: prompt for key, _, prompt in question_order(versions)}
    for question, group in overall.groupby("question", sort=False):
        key = str(question)
        prompt = prompts.get(key) or key
        kind = str(group["type"].iloc[0]).replace("_", " ")
        n = _people(group["respondents"].iloc[0])
        path = charts / f"question-{_file_name(key)}.png"
        if kind == "ranking":
            ranked = rankings[rankings["question"] == key]
            ranked = ranked[ranked["borda_points"] != hidden]
            if ranked.empty:
                continue
            bar_chart(
                path,
                [str(label) for label in ranked["label"]],
                [float(v) for v in ranked["borda_points"]],
                prompt,
                subtitle=f"Ranking, Borda points (best first) · n = {n} people ranked · {when}",
                note=note,
            )
            made.append(
                (
                    f"charts/{path.name}",
                    f"“{prompt}” (ranking): each option's Borda points, best first, "
                    f"from the {n} people who ranked ({when}).",
                )
            )
            continue
        shown = group[group["share"] != hidden]
        if shown.empty:
            continue
        extra = " · shares add up to more than 100%" if kind == "multiple choice" else ""
        bar_chart(
            path,
            [str(label) for label in shown["label"]],
            [float(v) for v in shown["share"]],
            prompt,
            subtitle=f"{kind.capitalize()} · n = {n} people answered · {when}{extra}",
            percent=True,
            note=note,
        )
        made.append(
            (
                f"charts/{path.name}",
                f"“{prompt}” ({kind}): the share of the {n} people who answered "
                f"choosing each option ({when}).",
            )
        )
    days = tidy["received_at"].dt.tz_convert(timezone).dt.date.value_counts().sort_index()
    if len(days) and not public:
        full = pd.date_range(days.index.min(), days.index.max(), freq="D").date
        days = days.reindex(full, fill_value=0)
        column_chart(
            charts / "answers-per-day.png",
            [d.strftime("%b %d") for d in days.index],
            [float(v) for v in days.to_numpy()],
            f"Answers per day, {when} ({timezone})",
            subtitle=f"{len(tidy):,} answers from {tidy['participant'].nunique():,} people",
        )
        made.append(
            (
                "charts/answers-per-day.png",
                f"How many answers arrived each day ({when}, {timezone} time).",
            )
        )
    questions = sheets["questions"]
    shown_q = questions[questions["reached"] != hidden]
    if len(shown_q):
        bar_chart(
            charts / "completion.png",
            [str(t or q) for q, t in zip(shown_q["question"], shown_q["text"], strict=True)],
            [float(v) for v in shown_q["answered"].replace(hidden, 0)],
            "People who answered each question",
            subtitle=f"In the order asked · {when}",
            note=note,
        )
        made.append(
            (
                "charts/completion.png",
                "How many people answered each question, in the order asked: "
                "where people stopped or skipped.",
            )
        )
    if representation is not None and representation.groups:
        table = tables["school_language"]
        table = table[table["response_rate"] != hidden]  # as published: suppressed rows left out
        if len(table):
            bar_chart(
                charts / "representation.png",
                [f"{s} · {la}" for s, la in zip(table["school"], table["language"], strict=True)],
                [float(v) for v in table["response_rate"].fillna(0)],
                "Response rate by school and language",
                subtitle=f"People who answered / enrolled · district rate "
                f"{representation.rate:.0%} · {when}",
                percent=True,
                reference=representation.rate,
                reference_label=f"district rate {representation.rate:.1%}",
                highlight=[bool(v) for v in table["under_represented"]],
                note=note,
            )
            made.append(
                (
                    "charts/representation.png",
                    "The response rate of each school and language (people who answered "
                    "out of those enrolled), against the district rate (dashed line); "
                    "red bars are under-represented groups: under four fifths of the "
                    "district rate.",
                )
            )
    if not made:  # everything was suppressed
        charts.rmdir()
    return made


FILES = {
    "tidy": "every answer, one row each: who (a pseudonymous key, the same in every "
    "export), the question and its text, the answer (`value`: option keys, a scale "
    "number; `label_en`: the option in English; `text`: what the person wrote), "
    "whether it was answered, skipped or could not be read, their language, channel, "
    "role, school and grade, and when it arrived",
    "wide": "one row per person, a column per question (their latest answer), with "
    "how many questions they answered, skipped or replied to unreadably",
    "summary": "the numbers a committee reads: each question's reach (`questions`); "
    "each option's count, respondents and share overall (`overall`) and per school, "
    "role and language (`by_school`, `by_role`, `by_language`); scale means with n "
    "(`scales`); ranking questions in order of Borda points (`rankings`). Its first "
    "sheet, About, lists each sheet",
    "lets_talk": "Let's Talk messages (families asking to talk to someone), with what "
    "staff replied",
    "themes": "what people wrote in free-text questions, grouped into themes per "
    "language: the words that mark each theme, how many wrote it, example quotes",
    "representation": "who answered against who is enrolled, per school and language "
    "(and role): response rates, and groups under-represented",
    "pack": "machine-readable list of what the pack holds",
}


def _readme(
    activity: Activity,
    files: list[str],
    charts: list[tuple[str, str]],
    notes: list[str],
    *,
    answers: int,
    people: int,
    when: str,
    households: int | str,
    public: bool,
    threshold: int,
    timezone: str,
    generated_at: str,
) -> str:
    """The pack's README: everything a committee member needs, with no other document."""
    title = activity.title.get("en", activity.default_language)
    lines = [
        f"# {title}: results",
        "",
        f"Activity `{activity.key}`. {answers:,} answers from {people:,} people "
        f"in {households if isinstance(households, str) else f'{households:,}'} households, "
        f"{when}. Made {generated_at} (times in {timezone}).",
        "",
    ]
    if public:
        lines += [
            f"**PUBLIC.** Aggregates only. Every count under {threshold} shows as "
            f"`{marker(threshold)}`, as does every share, mean or rate computed from it, "
            "and any count that would give a hidden one away by subtraction; "
            "no row-level data, Let's Talk text or quotes.",
            "",
        ]
    else:
        lines += [
            "**Internal.** Row-level answers and free text: share only with the planning "
            "committee. People appear as pseudonymous keys (the same in every export), "
            "never by name or number.",
            "",
        ]
    lines += [
        "## How to read the numbers",
        "",
        "- **Counts are of people**: each person counts once per question, with their "
        "latest answer.",
        "- **A share** is of the people who answered that question (in that school, role "
        "or language, on the `by_…` sheets). For multiple-choice questions people pick "
        "several options, so shares add up to more than 100%.",
        "- **n** is how many people a number is based on: a mean or share from a small n "
        "can change a lot with a few more answers.",
        "- **Scale questions**: the mean of the numbers people gave, with n.",
        f"- **Ranking questions**: {RANKING_METHOD}",
        "- **Representation**: a group is under-represented when its response rate is "
        "under four fifths of the district's.",
        "- **Every workbook** opens on an About sheet listing its sheets, n, dates and "
        "the suppression rule.",
        "",
        "## Files",
        "",
    ]
    tables: dict[str, list[str]] = {}
    for name in files:
        if not name.startswith("charts/"):
            tables.setdefault(name.split(".")[0], []).append(name)
    for stem, names in tables.items():
        lines.append(f"- {', '.join(f'`{n}`' for n in names)}: {FILES.get(stem, '')}")
    if charts:
        lines += ["", "## Charts", ""]
        for name, description in charts:
            lines.append(f"- `{name}`: {description}")
    if notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n"


def _prepare(directory: Path) -> Path:
    """A fresh staging folder beside `directory`; refuses a folder that is not a pack."""
    try:
        if directory.exists():
            if not directory.is_dir():
                raise ExportError(f"cannot write {directory}: it is a file, not a folder")
            if any(directory.iterdir()) and not (directory / MANIFEST).is_file():
                raise ExportError(
                    f"cannot write {directory}: the folder has other files; "
                    "choose a new or empty folder"
                )
        directory.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))
    except OSError as error:
        raise ExportError(f"cannot write {directory}: {error.strerror or error}") from error


def _swap(staging: Path, directory: Path) -> None:
    """Put the finished pack in place; an older pack there is replaced whole."""
    old = None
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
        os.replace(directory, old)
    try:
        os.replace(staging, directory)
    except OSError:
        if old is not None:
            os.replace(old, directory)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_pack(
    store: SynthesisStore,
    activity_key: str,
    parse: Parse,
    secret: str,
    timezone: str,
    directory: Path,
    now: datetime,
    *,
    public: bool = False,
    threshold: int = DEFAULT_THRESHOLD,
    include_contacts: bool = False,
    actor: str = "cli",
) -> PackReport:
    """Write the synthesis pack of `activity_key` to `directory` and audit it.

    Raises ExportError, leaving nothing behind, when the activity is unknown,
    has no answers yet, or the folder cannot be written. `include_contacts`
    adds contact details to the row-level tables; a public pack never has them.
    """
    if public and include_contacts:
        raise ExportError("a public pack never includes contact details: drop --include-contacts")
    if threshold < 1:
        raise ExportError(f"the suppression threshold must be at least 1, not {threshold}")
    staging = _prepare(directory)
    try:
        report = _build(
            store,
            activity_key,
            parse,
            secret,
            timezone,
            staging,
            directory,
            now,
            public=public,
            threshold=threshold,
            include_contacts=include_contacts,
        )
        _swap(staging, directory)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise ExportError(f"cannot write {directory}: {error.strerror or error}") from error
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    store.record_audit(
        actor,
        "export.pack",
        {
            "activity": activity_key,
            "path": str(directory),
            "answers": report.answers,
            "public": public,
            "threshold": threshold,
            "include_contacts": include_contacts,
            "files": len(report.files),
        },
        now,
    )
    return report


@dataclass(frozen=True)
class ExchangeReport:
    """An exchange's analysis as written: files (relative), who and what it counted."""

    files: tuple[str, ...]
    participants: int
    ideas: int
    reactions: int
    groups: int
    top: tuple[str, ...]
    consensus: tuple[str, ...]
    notes: tuple[str, ...]


def write_exchange_report(
    store: SynthesisStore, activity: Activity, directory: Path, *, public: bool, threshold: int
) -> ExchangeReport:
    """Analyse an idea exchange and write its report into `directory` (docs/exchange.md).

    Internal: every table and Polis's export files in `polis/`. Public: the
    tables of `public_tables`, every count under `threshold` hidden.
    """
    from bot.synthesis.ideas import ExchangeVotes, analyse_exchange, write_report

    assert activity.exchange is not None
    language = activity.default_language
    tables = store.exchange_tables(activity.key, language)
    if tables.votes.empty:
        raise ExportError(f"{activity.key} has no reactions yet: nothing to analyse")
    data = ExchangeVotes(
        activity.key,
        activity.exchange.prompt.get(language, language),
        activity.title.get(language, language),
        tables.ideas,
        tables.votes,
        tables.participants,
    )
    report = analyse_exchange(data, threshold=threshold)
    # The next-idea rule puts ideas that split the groups found here in front.
    store.set_group_splits(activity.key, report.group_splits())
    files = write_report(data, report, directory, public=public)
    top = report.top(5)
    consensus = report.consensus["text"] if "text" in report.consensus else pd.Series([])
    return ExchangeReport(
        files=tuple(files),
        participants=int(len(tables.participants)),
        ideas=int((tables.ideas["status"] == "approved").sum()),
        reactions=int(len(tables.votes)),
        groups=report.opinion.count,
        top=tuple(str(t) for t in top["text"]) if "text" in top else (),
        consensus=tuple(str(t) for t in consensus.head(5)),
        notes=tuple(report.notes),
    )


def _build_exchange(
    store: SynthesisStore,
    activity: Activity,
    folder: Path,
    directory: Path,
    now: datetime,
    timezone: str,
    public: bool,
    threshold: int,
) -> PackReport:
    written = write_exchange_report(store, activity, folder, public=public, threshold=threshold)
    generated = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(timezone))
    kind = (
        f"**PUBLIC.** Aggregates only; every count under {threshold} shows as "
        f"`{marker(threshold)}`, with everything computed from it."
        if public
        else "**Internal.** Every table, and Polis's own export files in `polis/`: share only "
        "with the planning committee."
    )
    lines = [
        f"# Synthesis pack: {activity.key} (idea exchange)",
        "",
        f"{activity.title.get('en', activity.default_language)}. Generated "
        f"{generated.isoformat(timespec='minutes')} (times in {timezone}). "
        f"{written.reactions:,} reactions from {written.participants:,} people to "
        f"{written.ideas:,} ideas; {written.groups} opinion groups.",
        "",
        kind,
        "",
        "The method (opinion groups, consensus, divisive and representative ideas) is in "
        "docs/exchange.md of the project.",
        "",
        "## Files",
        "",
        *(f"- `{file}`" for file in written.files),
        "",
    ]
    if written.notes:
        lines += ["## Notes", "", *(f"- {note}" for note in written.notes), ""]
    (folder / "README.md").write_text("\n".join(lines), encoding="utf-8")
    manifest = {
        "activity": activity.key,
        "generated_at": generated.isoformat(timespec="seconds"),
        "reactions": written.reactions,
        "participants": written.participants,
        "public": public,
        "threshold": threshold,
        "files": ["README.md", *written.files],
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return PackReport(
        directory=directory,
        files=("README.md", MANIFEST, *written.files),
        answers=written.reactions,
        participants=written.participants,
        public=public,
        notes=written.notes,
    )


def _build(
    store: SynthesisStore,
    activity_key: str,
    parse: Parse,
    secret: str,
    timezone: str,
    folder: Path,
    directory: Path,
    now: datetime,
    *,
    public: bool,
    threshold: int,
    include_contacts: bool,
) -> PackReport:
    newest_version = store.versions(activity_key, parse)[-1].activity
    if newest_version.exchange is not None:
        return _build_exchange(
            store, newest_version, folder, directory, now, timezone, public, threshold
        )
    tidy = store.tidy_responses(
        activity_key, parse, secret, timezone, include_contacts=include_contacts
    )
    if tidy.empty:
        raise ExportError(f"{activity_key} has no answers yet: nothing to export")
    versions = store.versions(activity_key, parse)
    newest = versions[-1].activity
    files: list[str] = []
    notes: list[str] = []
    generated = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(timezone))
    people = int(tidy["participant"].nunique())
    received = tidy["received_at"].dt.tz_convert(timezone)
    context = _Context(
        activity=newest,
        answers=len(tidy),
        people=people,
        first=received.min().strftime("%Y-%m-%d %H:%M"),
        last=received.max().strftime("%Y-%m-%d %H:%M"),
        generated=generated.strftime("%Y-%m-%d %H:%M"),
        timezone=timezone,
        public=public,
        threshold=threshold,
    )
    if not public:
        _table(tidy, folder, "tidy", files, notes, context)
        questions = [(key, kind) for key, kind, _ in question_order(versions)]
        _table(wide_responses(tidy, questions), folder, "wide", files, notes, context)
    sheets = summarize(tidy, versions)
    threads = lets_talk_threads(store, versions, secret, timezone)
    themes = theme_table(tidy, versions, threads, public=public, threshold=threshold)
    representation: Representation | None = None
    try:
        representation = measure_representation(store.representation, activity_key)
    except RepresentationError as error:
        notes.append(f"no representation table: {error}")
    tables = representation_tables(representation) if representation is not None else {}
    if public:
        published = publish(sheets, themes, tables, threshold)
        sheets, themes, tables = published.summary, published.themes, published.representation
    ranked = len(sheets["rankings"]) > 0
    _workbook(
        sheets,
        folder / "summary.xlsx",
        context,
        "summary of the answers",
        [RANKING_METHOD] if ranked else [],
    )
    files.append("summary.xlsx")
    if not public:
        write_csv(threads, folder / "lets_talk.csv")
        _workbook({"lets_talk": threads}, folder / "lets_talk.xlsx", context, "Let's Talk")
        files += ["lets_talk.csv", "lets_talk.xlsx"]
    write_csv(themes, folder / "themes.csv")
    _workbook({"themes": themes}, folder / "themes.xlsx", context, "themes of free text")
    files += ["themes.csv", "themes.xlsx"]
    if tables:
        _workbook(tables, folder / "representation.xlsx", context, "representation")
        write_csv(tables["school_language"], folder / "representation.csv")
        files += ["representation.xlsx", "representation.csv"]
    charts = _charts(
        folder, sheets, tidy, versions, representation, tables, timezone, public, threshold
    )
    files += [name for name, _ in charts]
    homes: int | str = int(tidy["household"].nunique())
    if public and isinstance(homes, int) and homes < threshold:
        homes = marker(threshold)
    readme = _readme(
        newest,
        files,
        charts,
        notes,
        answers=len(tidy),
        people=people,
        when=period(tidy["received_at"], timezone),
        households=homes,
        public=public,
        threshold=threshold,
        timezone=timezone,
        generated_at=generated.strftime("%Y-%m-%d %H:%M"),
    )
    (folder / "README.md").write_text(readme, encoding="utf-8")
    manifest = {
        "activity": activity_key,
        "generated_at": generated.isoformat(timespec="seconds"),
        "answers": len(tidy),
        "participants": people,
        "households": homes,
        "public": public,
        "threshold": threshold,
        "files": ["README.md", *files],
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return PackReport(
        directory=directory,
        files=tuple(["README.md", MANIFEST, *files]),
        answers=len(tidy),
        participants=people,
        public=public,
        notes=tuple(notes),
    )


# -- the board report ----------------------------------------------------------------


@dataclass(frozen=True)
class BoardData:
    """What the board report shows of one activity: the pack's summary, suppressed as
    in a public pack (`threshold`), with quotes for the themes it shows."""

    activity: Activity
    answers: int
    people: int
    period: str
    generated: str
    timezone: str
    threshold: int
    questions: list[tuple[str, str, str]]
    summary: dict[str, pd.DataFrame]
    themes: pd.DataFrame
    quotes: dict[tuple[str, str, int], tuple[str, ...]]
    representation: dict[str, pd.DataFrame]
    district_rate: float | None
    ratio: float | None


def board_data(
    store: SynthesisStore,
    activity_key: str,
    parse: Parse,
    secret: str,
    timezone: str,
    now: datetime,
    *,
    threshold: int = DEFAULT_THRESHOLD,
) -> BoardData:
    """The tables of the board report (bot.synthesis.report) of `activity_key`.

    Raises ExportError when the activity is unknown or has no answers yet.
    """
    if threshold < 1:
        raise ExportError(f"the suppression threshold must be at least 1, not {threshold}")
    tidy = store.tidy_responses(activity_key, parse, secret, timezone)
    if tidy.empty:
        raise ExportError(f"{activity_key} has no answers yet: nothing to report")
    versions = store.versions(activity_key, parse)
    sheets = summarize(tidy, versions)
    themes = theme_table(tidy, versions, None, public=True, threshold=threshold)
    internal = theme_table(tidy, versions, None)
    representation: Representation | None = None
    try:
        representation = measure_representation(store.representation, activity_key)
    except RepresentationError:
        representation = None
    tables = representation_tables(representation) if representation is not None else {}
    published = publish(sheets, themes, tables, threshold)
    quotes = {
        (str(r.question), str(r.language), int(r.theme)): tuple(
            q for q in (r.quote_1, r.quote_2, r.quote_3) if isinstance(q, str) and q
        )
        for r in internal.itertuples(index=False)
    }
    generated = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(timezone))
    return BoardData(
        activity=versions[-1].activity,
        answers=len(tidy),
        people=int(tidy["participant"].nunique()),
        period=period(tidy["received_at"], timezone),
        generated=generated.strftime("%B %-d, %Y %H:%M"),
        timezone=timezone,
        threshold=threshold,
        questions=question_order(versions),
        summary=published.summary,
        themes=published.themes,
        quotes=quotes,
        representation=published.representation,
        district_rate=representation.rate if representation is not None else None,
        ratio=representation.ratio if representation is not None else None,
    )
