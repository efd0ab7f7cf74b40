"""What a public pack publishes: the summary, the themes and representation, suppressed.

Every number of a table that adds up with others goes into one `Disclosure`
with the sums that tie them (bot.synthesis.suppression), so that hiding a
small cell in one sheet also hides what would give it away in another:

- `questions`: reached = answered + skipped + unparsed; answered is the
  question's respondents in `overall`.
- `overall`, `by_school`, `by_role`, `by_language`: the options of a
  single-choice, yes/no or scale question add up to its respondents in the
  group; the groups of each dimension add up to `overall`, for every option
  count, for respondents and (where they do) for households. Households are
  counts like respondents, equal to them when each household answered once,
  and hidden wherever the respondents are.
- `scales`: n is the respondents of the group; the sum of scores (n × mean)
  adds up across groups like n, and is the sum of each score times its count.
- `rankings`: respondents are `overall`'s; times ranked are `overall`'s
  counts; first choices add up to the respondents. Borda points are hidden
  with the times ranked (given those, they tell no more than the mean place).
- `themes`: the theme sizes of a question and language add up to its total
  (which the shares reveal); the totals of a question add up to its answers.
- `representation`: enrollment and respondents of school × language × role add
  up to school × language, to each school, to each language and to the
  district (whose rate the index reveals).

A hidden count shows `marker(threshold)`, and so does every share, mean,
rate, index or gap computed from it.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import pandas as pd

from bot.synthesis.suppression import Disclosure, marker

__all__ = ["Published", "publish"]

DIMENSIONS = ("school", "role", "language")
EXCLUSIVE = frozenset({"single_choice", "yes_no", "scale"})
ALL = "all"
# The four representation sheets and the dimensions each is per.
REPRESENTATION = {
    "school_language_role": ("school", "language", "role"),
    "school_language": ("school", "language"),
    "school": ("school",),
    "language": ("language",),
}


@dataclass(frozen=True, slots=True)
class Published:
    summary: dict[str, pd.DataFrame]
    themes: pd.DataFrame
    representation: dict[str, pd.DataFrame]


def publish(
    summary: Mapping[str, pd.DataFrame],
    themes: pd.DataFrame,
    representation: Mapping[str, pd.DataFrame] | None,
    threshold: int,
) -> Published:
    """The tables of a public pack, with every count that could single anyone out hidden."""
    tables = _Summary(summary, themes)
    hidden = tables.disclosure.protect(threshold)
    return Published(
        summary=tables.publish(hidden, marker(threshold)),
        themes=tables.publish_themes(hidden, marker(threshold)),
        representation=_representation(representation, threshold) if representation else {},
    )


def _hide(frame: pd.DataFrame, column: str, mask: list[bool], shown: str) -> None:
    if any(mask):
        frame[column] = frame[column].astype(object)
        frame.loc[mask, column] = shown


class _Summary:
    """The summary sheets and themes as one Disclosure."""

    def __init__(self, sheets: Mapping[str, pd.DataFrame], themes: pd.DataFrame) -> None:
        self.sheets = sheets
        self.themes = themes
        self.disclosure = Disclosure()
        self._questions()
        self._counts()
        self._scales()
        self._rankings()
        self._themes()

    # -- keys --------------------------------------------------------------------------

    @staticmethod
    def respondents(dimension: str, group: Hashable, question: str) -> tuple[Hashable, ...]:
        return ("respondents", dimension, group, question)

    @staticmethod
    def households(dimension: str, group: Hashable, question: str) -> tuple[Hashable, ...]:
        return ("households", dimension, group, question)

    @staticmethod
    def option(dimension: str, group: Hashable, question: str, option: str) -> tuple[Hashable, ...]:
        return ("count", dimension, group, question, option)

    # -- what the sheets publish -------------------------------------------------------

    def _questions(self) -> None:
        d = self.disclosure
        for row in self.sheets["questions"].itertuples(index=False):
            q = str(row.question)
            for column in ("reached", "answered", "skipped", "unparsed"):
                d.count(("questions", q, column), getattr(row, column))
        for row in self.sheets["questions"].itertuples(index=False):
            q = str(row.question)
            parts = [("questions", q, c) for c in ("answered", "skipped", "unparsed")]
            d.add_up(("questions", q, "reached"), parts)

    def _counts(self) -> None:
        d = self.disclosure
        for name in ("overall", *(f"by_{dim}" for dim in DIMENSIONS)):
            dimension = name.removeprefix("by_") if name != "overall" else ALL
            frame = self.sheets[name]
            for row in frame.to_dict("records"):
                group = row[dimension] if dimension != ALL else ALL
                q, o = str(row["question"]), str(row["option"])
                d.count(self.respondents(dimension, group, q), row["respondents"])
                homes = self.households(dimension, group, q)
                if homes not in d.values:
                    d.count(homes, row["households"])
                    # Equal to the respondents (one answer per household): hidden with them.
                    d.same(homes, self.respondents(dimension, group, q))
                d.count(self.option(dimension, group, q, o), row["count"])
            for keys, part in frame.groupby(
                [dimension, "question"] if dimension != ALL else ["question"], sort=False
            ):
                key = keys if isinstance(keys, tuple) else (keys,)
                group, q = (key[0], str(key[1])) if dimension != ALL else (ALL, str(key[0]))
                if part["type"].iloc[0] in EXCLUSIVE:
                    d.add_up(
                        self.respondents(dimension, group, q),
                        [self.option(dimension, group, q, str(o)) for o in part["option"]],
                    )
            if dimension == ALL:
                for q in frame["question"].unique():
                    d.same(("questions", str(q), "answered"), self.respondents(ALL, ALL, str(q)))
                continue
            for q, part in frame.groupby("question", sort=False):
                groups = list(dict.fromkeys(part[dimension]))
                d.add_up(
                    self.respondents(ALL, ALL, str(q)),
                    [self.respondents(dimension, g, str(q)) for g in groups],
                )
                d.add_up(
                    self.households(ALL, ALL, str(q)),
                    [self.households(dimension, g, str(q)) for g in groups],
                )
                for o in dict.fromkeys(part["option"]):
                    d.add_up(
                        self.option(ALL, ALL, str(q), str(o)),
                        [self.option(dimension, g, str(q), str(o)) for g in groups],
                    )

    def _scales(self) -> None:
        d = self.disclosure
        frame = self.sheets["scales"]
        overall = self.sheets["overall"]
        numeric = {
            str(q): [o for o in dict.fromkeys(options.astype(str)) if _is_number(o)]
            for q, options in overall.groupby("question", sort=False)["option"]
        }
        for row in frame.to_dict("records"):
            key = (row["dimension"], row["group"], str(row["question"]))
            d.count(("n", *key), row["n"])
            d.count(("scores", *key), row["n"] * row["mean"], small=False)
            d.same(("n", *key), self.respondents(*key))
            d.link(("n", *key), ("scores", *key))
            options = numeric.get(key[2], [])
            d.add_up(
                ("scores", *key),
                [self.option(*key, o) for o in options],
                [float(o) for o in options],
            )
        for (dimension, q), part in frame.groupby(["dimension", "question"], sort=False):
            if dimension == ALL:
                continue
            d.add_up(
                ("scores", ALL, ALL, str(q)),
                [("scores", dimension, g, str(q)) for g in part["group"]],
            )

    def _rankings(self) -> None:
        d = self.disclosure
        frame = self.sheets["rankings"]
        for row in frame.to_dict("records"):
            q, o = str(row["question"]), str(row["option"])
            d.count(("ranked", q, o), row["ranked"])
            d.count(("first", q, o), row["first_choice"])
            d.count(("ranking respondents", q), row["respondents"])
            d.same(("ranked", q, o), self.option(ALL, ALL, q, o))
            d.same(("ranking respondents", q), self.respondents(ALL, ALL, q))
        for q, part in frame.groupby("question", sort=False):
            d.add_up(
                ("ranking respondents", str(q)), [("first", str(q), str(o)) for o in part["option"]]
            )

    def _themes(self) -> None:
        d = self.disclosure
        frame = self.themes
        totals: dict[str, list[Hashable]] = {}
        for (q, language), part in frame.groupby(["question", "language"], sort=False):
            sizes = [("theme", str(q), str(language), int(i)) for i in part.index]
            for key, size in zip(sizes, part["size"], strict=True):
                d.count(key, size)
            total = d.count(
                ("themes", str(q), str(language)), float(part["size"].sum()), small=False
            )
            d.add_up(total, sizes)
            totals.setdefault(str(q), []).append(total)
        for q, keys in totals.items():
            d.add_up(("questions", q, "answered"), keys)

    # -- what shows ------------------------------------------------------------------------

    def publish(self, hidden: frozenset[Hashable], shown: str) -> dict[str, pd.DataFrame]:
        safe = {name: frame.copy() for name, frame in self.sheets.items()}
        questions = safe["questions"]
        for column in ("reached", "answered", "skipped", "unparsed"):
            mask = [("questions", str(q), column) in hidden for q in questions["question"]]
            _hide(questions, column, mask, shown)
        for name in ("overall", *(f"by_{dim}" for dim in DIMENSIONS)):
            dimension = name.removeprefix("by_") if name != "overall" else ALL
            frame = safe[name]
            groups = frame[dimension] if dimension != ALL else [ALL] * len(frame)
            rows = list(
                zip(
                    groups, frame["question"].astype(str), frame["option"].astype(str), strict=False
                )
            )
            people = [self.respondents(dimension, g, q) in hidden for g, q, _ in rows]
            counts = [self.option(dimension, g, q, o) in hidden for g, q, o in rows]
            homes = [
                self.households(dimension, g, q) in hidden or hide
                for (g, q, _), hide in zip(rows, people, strict=True)
            ]
            _hide(frame, "respondents", people, shown)
            # Never fewer hidden than the respondents: households are at most as many.
            _hide(frame, "households", homes, shown)
            _hide(frame, "count", counts, shown)
            _hide(frame, "share", [a or b for a, b in zip(people, counts, strict=True)], shown)
        scales = safe["scales"]
        keys = list(
            zip(scales["dimension"], scales["group"], scales["question"].astype(str), strict=False)
        )
        n = [("n", *k) in hidden for k in keys]
        _hide(scales, "n", n, shown)
        _hide(
            scales,
            "mean",
            [a or ("scores", *k) in hidden for a, k in zip(n, keys, strict=True)],
            shown,
        )
        rankings = safe["rankings"]
        pairs = list(
            zip(rankings["question"].astype(str), rankings["option"].astype(str), strict=False)
        )
        ranked = [("ranked", q, o) in hidden for q, o in pairs]
        _hide(rankings, "ranked", ranked, shown)
        # Given how many ranked an option, its points say no more than its mean place.
        _hide(rankings, "borda_points", ranked, shown)
        first = [("first", q, o) in hidden for q, o in pairs]
        _hide(rankings, "first_choice", first, shown)
        respondents = [("ranking respondents", q) in hidden for q, _ in pairs]
        _hide(rankings, "respondents", respondents, shown)
        _hide(
            rankings,
            "first_choice_share",
            [a or b for a, b in zip(first, respondents, strict=True)],
            shown,
        )
        return safe

    def publish_themes(self, hidden: frozenset[Hashable], shown: str) -> pd.DataFrame:
        frame = self.themes.copy()
        keys = list(
            zip(
                frame["question"].astype(str),
                frame["language"].astype(str),
                frame.index,
                strict=False,
            )
        )
        sizes = [("theme", q, la, int(i)) in hidden for q, la, i in keys]
        _hide(frame, "size", sizes, shown)
        totals = [("themes", q, la) in hidden for q, la, _ in keys]
        _hide(frame, "share", [a or b for a, b in zip(sizes, totals, strict=True)], shown)
        return frame


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _representation(sheets: Mapping[str, pd.DataFrame], threshold: int) -> dict[str, pd.DataFrame]:
    d = Disclosure()

    def key(measure: str, row: Mapping[str, object], dims: tuple[str, ...]) -> tuple[object, ...]:
        return (measure, *(row[name] if name in dims else None for name in DIMENSIONS))

    for name, dims in REPRESENTATION.items():
        for row in sheets[name].to_dict("records"):
            for measure in ("enrolled", "respondents"):
                d.count(key(measure, row, dims), row[measure])
    for measure in ("enrolled", "respondents"):
        # The district's total: the index (respondents over the district rate) reveals it.
        total = d.count((measure, None, None, None), sheets["school"][measure].sum(), small=False)
        d.add_up(total, [key(measure, r, ("school",)) for r in sheets["school"].to_dict("records")])
        d.add_up(
            total, [key(measure, r, ("language",)) for r in sheets["language"].to_dict("records")]
        )
        cells = sheets["school_language"]
        for school, part in cells.groupby("school", sort=False):
            d.add_up(
                (measure, school, None, None),
                [key(measure, r, ("school", "language")) for r in part.to_dict("records")],
            )
        for language, part in cells.groupby("language", sort=False):
            d.add_up(
                (measure, None, None, language),
                [key(measure, r, ("school", "language")) for r in part.to_dict("records")],
            )
        finest = sheets["school_language_role"]
        for (school, language), part in finest.groupby(["school", "language"], sort=False):
            d.add_up(
                (measure, school, None, language),
                [key(measure, r, ("school", "language", "role")) for r in part.to_dict("records")],
            )
    hidden = d.protect(threshold)
    shown = marker(threshold)
    # A row's gap adds up its groups' gaps, so it shows only when every group's counts do.
    finest = REPRESENTATION["school_language_role"]
    unsafe = [
        r
        for r in sheets["school_language_role"].to_dict("records")
        if key("enrolled", r, finest) in hidden or key("respondents", r, finest) in hidden
    ]
    safe = {}
    for name, dims in REPRESENTATION.items():
        frame = sheets[name].copy()
        records = frame.to_dict("records")
        enrolled = [key("enrolled", r, dims) in hidden for r in records]
        people = [key("respondents", r, dims) in hidden for r in records]
        either = [a or b for a, b in zip(enrolled, people, strict=True)]
        gaps = [
            hide or any(all(u[n] == r[n] for n in dims) for u in unsafe)
            for hide, r in zip(either, records, strict=True)
        ]
        _hide(frame, "enrolled", enrolled, shown)
        _hide(frame, "respondents", people, shown)
        for column in ("response_rate", "index"):
            _hide(frame, column, either, shown)
        _hide(frame, "gap", gaps, shown)
        safe[name] = frame
    return safe
