"""A public pack gives no small count away: every subtraction across its tables is tried.

The attacker reads the published files only, and knows how the pack is built
(docs/synthesis.md): the options of a single-choice, yes/no or scale question
add up to its respondents; groups add up to the district; n is respondents and
n × mean adds up like n; first choices add up to a ranking's respondents;
themes add up to a question's answers; representation's school × language ×
role adds up to every margin, and the index gives the district rate away.
Every hidden number becomes an unknown, every rule an equation; a hidden
number that the equations fix to one value is a leak.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from bot.authoring.activities import parse_activity
from bot.synthesis.pack import write_pack
from storage.database import connect, migrate
from storage.synthesis import SqlSynthesisStore
from tests.integration.round_data import Round, enroll, seed_round

SECRET = "district-secret"
ZONE = "America/Chicago"
NOW = datetime(2026, 9, 30, 12, 0)
HIDDEN = "<10"
EXCLUSIVE = {"single_choice", "yes_no", "scale"}
DIMENSIONS = ("school", "role", "language")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """SQLite only: what a pack publishes does not depend on the database."""
    engine = connect(f"sqlite:///{tmp_path / 'engage.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def round_(engine: Engine) -> Round:
    """Lincoln: 30 people in three languages and two roles; Adams: 4 Spanish-speaking
    parents who all answer the scale with 1 (n=4, mean=1.00)."""
    survey = seed_round(engine)
    answers = ["safety", "reading", "buses"]
    for index in range(30):
        language = ("en", "es", "vi")[index % 3] if index < 24 else "en"
        role = "staff" if index % 5 == 0 else "parent"
        person = survey.person(
            school="lincoln-es", language=language, role=role, phone=f"+1555010{index:04d}"
        )
        survey.answer(person, "top", answers[index % 3], language=language)
        survey.answer(person, "many", ["tutoring"] if index % 2 else ["tutoring", "meals"])
        survey.answer(person, "safe", 2 + index % 4, language=language)
        survey.answer(person, "news", "yes" if index % 4 else "no", language=language)
        survey.answer(person, "rank", [answers[index % 3], answers[(index + 1) % 3]])
        why = ["The bus is late", "More tutoring", "Safer crossings"][index % 3]
        survey.answer(person, "why", why, why, language="en", detected="en")
    for index in range(4):
        person = survey.person(school="adams-ms", language="es", phone=f"+1555020{index:04d}")
        survey.answer(person, "top", "buses", language="es")
        survey.answer(person, "many", ["meals"], language="es")
        survey.answer(person, "safe", 1, language="es")
        survey.answer(person, "news", "no", language="es")
        survey.answer(person, "rank", ["buses", "safety"], language="es")
        survey.answer(person, "why", "Más autobuses", "Más autobuses", language="es", detected="es")
    enroll(
        engine,
        {
            ("lincoln-es", "en", "parent"): 60,
            ("lincoln-es", "es", "parent"): 20,
            ("lincoln-es", "vi", "parent"): 15,
            ("lincoln-es", "en", "staff"): 12,
            ("lincoln-es", "es", "staff"): 3,
            ("lincoln-es", "vi", "staff"): 2,
            ("adams-ms", "es", "parent"): 40,
            ("adams-ms", "en", "parent"): 50,
        },
    )
    return survey


class Attacker:
    """Published numbers, hidden ones as unknowns, and the rules as linear equations."""

    def __init__(self) -> None:
        self.known: dict[Hashable, float] = {}
        self.hidden: set[Hashable] = set()
        # Numbers the pack never prints (totals, sums of scores): solved for, but no secret.
        self.unknown: set[Hashable] = set()
        self.equations: list[list[tuple[float, Hashable]]] = []

    def reads(self, name: Hashable, shown: object) -> None:
        if isinstance(shown, str) and shown == HIDDEN:
            self.hidden.add(name)
            self.unknown.add(name)
        elif shown is not None and not (isinstance(shown, float) and np.isnan(shown)):
            value = float(shown)  # type: ignore[arg-type]
            assert self.known.setdefault(name, value) == pytest.approx(value), name

    def adds_up(
        self, total: Hashable, parts: list[Hashable], weights: list[float] | None = None
    ) -> None:
        weights = weights or [1.0] * len(parts)
        self.equations.append(
            [(1.0, total), *((-w, p) for w, p in zip(weights, parts, strict=True))]
        )

    def same(self, first: Hashable, second: Hashable) -> None:
        self.adds_up(first, [second])

    def worked_out(self) -> set[Hashable]:
        """Every hidden number the published ones and the rules fix to one value (and every
        hidden mean: its sum of scores and its n both fixed)."""
        fixed = self._fixed()
        means = {
            name
            for name in fixed
            if name[0] == "scores" and ("respondents", *name[1:]) in fixed | set(self.known)
        }
        return (fixed & self.hidden) | means

    def _fixed(self) -> set[Hashable]:
        unknown = sorted(self.unknown - set(self.known), key=repr)
        column = {name: i for i, name in enumerate(unknown)}
        rows = []
        for equation in self.equations:
            if any(name not in column and name not in self.known for _, name in equation):
                continue  # holds a number that is neither shown nor hidden: not usable
            row = np.zeros(len(unknown))
            for weight, name in equation:
                if name in column:
                    row[column[name]] += weight
            if row.any():
                rows.append(row)
        if not rows:
            return set()
        _, singular, vt = np.linalg.svd(np.array(rows))
        rank = int((singular > 1e-9).sum())
        free = vt[rank:]
        return {
            name
            for name, i in column.items()
            if free.shape[0] == 0 or np.abs(free[:, i]).max() < 1e-8
        }


def read_pack(folder: Path) -> Attacker:
    attacker = Attacker()
    sheets = pd.read_excel(folder / "summary.xlsx", sheet_name=None)
    questions = sheets["questions"]
    for row in questions.to_dict("records"):
        q = row["question"]
        for column in ("reached", "answered", "skipped", "unparsed"):
            attacker.reads(("questions", q, column), row[column])
        attacker.adds_up(
            ("questions", q, "reached"),
            [("questions", q, c) for c in ("answered", "skipped", "unparsed")],
        )
    types = dict(zip(questions["question"], questions["type"], strict=True))
    for name in ("overall", *(f"by_{d}" for d in DIMENSIONS)):
        dimension = name.removeprefix("by_") if name != "overall" else "all"
        frame = sheets[name]
        frame["group"] = frame[dimension] if dimension != "all" else "all"
        for row in frame.to_dict("records"):
            g, q, o = row["group"], row["question"], str(row["option"])
            attacker.reads(("respondents", dimension, g, q), row["respondents"])
            attacker.reads(("count", dimension, g, q, o), row["count"])
            if row["share"] != HIDDEN and row["count"] != HIDDEN and float(row["share"]):
                attacker.reads(
                    ("respondents", dimension, g, q), float(row["count"]) / float(row["share"])
                )
        for (g, q), part in frame.groupby(["group", "question"]):
            options = [str(o) for o in part["option"]]
            if types[q] in EXCLUSIVE:
                attacker.adds_up(
                    ("respondents", dimension, g, q),
                    [("count", dimension, g, q, o) for o in options],
                )
            if types[q] == "scale":
                attacker.adds_up(
                    ("scores", dimension, g, q),
                    [("count", dimension, g, q, o) for o in options],
                    [float(o) for o in options],
                )
        if dimension == "all":
            for q in frame["question"].unique():
                attacker.same(("questions", q, "answered"), ("respondents", "all", "all", q))
            continue
        for q, part in frame.groupby("question"):
            groups = list(dict.fromkeys(part["group"]))
            attacker.adds_up(
                ("respondents", "all", "all", q), [("respondents", dimension, g, q) for g in groups]
            )
            for o in dict.fromkeys(part["option"].astype(str)):
                attacker.adds_up(
                    ("count", "all", "all", q, o), [("count", dimension, g, q, o) for g in groups]
                )
    for row in sheets["scales"].to_dict("records"):
        key = (row["dimension"], row["group"], row["question"])
        attacker.reads(("respondents", *key), row["n"])
        if row["n"] != HIDDEN and row["mean"] != HIDDEN:
            attacker.reads(("scores", *key), float(row["n"]) * float(row["mean"]))
        else:
            attacker.unknown.add(("scores", *key))
    scales = sheets["scales"]
    for (dimension, q), part in scales[scales["dimension"] != "all"].groupby(
        ["dimension", "question"]
    ):
        attacker.adds_up(
            ("scores", "all", "all", q), [("scores", dimension, g, q) for g in part["group"]]
        )
    rankings = sheets["rankings"]
    for row in rankings.to_dict("records"):
        q, o = row["question"], str(row["option"])
        attacker.reads(("respondents", "all", "all", q), row["respondents"])
        attacker.reads(("count", "all", "all", q, o), row["ranked"])
        attacker.reads(("first", q, o), row["first_choice"])
    for q, part in rankings.groupby("question"):
        attacker.adds_up(
            ("respondents", "all", "all", q), [("first", q, str(o)) for o in part["option"]]
        )
    themes = pd.read_csv(folder / "themes.csv", keep_default_na=False)
    totals: dict[str, list[Hashable]] = {}
    for (q, language), part in themes.groupby(["question", "language"]):
        sizes = []
        for index, row in part.iterrows():
            attacker.reads(("theme", q, language, index), row["size"])
            sizes.append(("theme", q, language, index))
            if row["size"] != HIDDEN and row["share"] != HIDDEN and float(row["share"]):
                attacker.reads(("themes", q, language), float(row["size"]) / float(row["share"]))
        attacker.adds_up(("themes", q, language), sizes)
        totals.setdefault(q, []).append(("themes", q, language))
    for q, keys in totals.items():
        if q in types:
            attacker.adds_up(("questions", q, "answered"), keys)
    representation = pd.read_excel(folder / "representation.xlsx", sheet_name=None)
    by = {
        "school_language_role": ("school", "language", "role"),
        "school_language": ("school", "language"),
        "school": ("school",),
        "language": ("language",),
    }

    def cell(measure: str, row: dict[str, object], dims: tuple[str, ...]) -> Hashable:
        return (measure, *(row[d] if d in dims else "*" for d in ("school", "language", "role")))

    rate = None
    for name, dims in by.items():
        for row in representation[name].to_dict("records"):
            for measure in ("enrolled", "respondents"):
                attacker.reads(cell(measure, row, dims), row[measure])
            shown = all(row[c] != HIDDEN for c in ("index", "enrolled", "respondents"))
            if shown and float(row["index"]):
                expected = float(row["respondents"]) / float(row["index"])
                rate = expected / float(row["enrolled"])
    for measure in ("enrolled", "respondents"):
        total = (measure, "*", "*", "*")
        attacker.unknown.add(total)
        for name, dims in (("school", ("school",)), ("language", ("language",))):
            rows = representation[name].to_dict("records")
            attacker.adds_up(total, [cell(measure, r, dims) for r in rows])
        middle = representation["school_language"]
        for school, part in middle.groupby("school"):
            attacker.adds_up(
                (measure, school, "*", "*"),
                [cell(measure, r, ("school", "language")) for r in part.to_dict("records")],
            )
        for language, part in middle.groupby("language"):
            attacker.adds_up(
                (measure, "*", language, "*"),
                [cell(measure, r, ("school", "language")) for r in part.to_dict("records")],
            )
        for (school, language), part in representation["school_language_role"].groupby(
            ["school", "language"]
        ):
            attacker.adds_up(
                (measure, school, language, "*"),
                [cell(measure, r, by["school_language_role"]) for r in part.to_dict("records")],
            )
    if rate is not None:
        attacker.adds_up(("respondents", "*", "*", "*"), [("enrolled", "*", "*", "*")], [rate])
    return attacker


def test_no_hidden_count_of_a_public_pack_can_be_worked_out(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    folder = tmp_path / "public"
    write_pack(
        SqlSynthesisStore(engine),
        "priorities",
        parse_activity,
        SECRET,
        ZONE,
        folder,
        NOW,
        public=True,
    )

    attacker = read_pack(folder)

    assert attacker.hidden  # something was hidden
    assert not attacker.hidden & set(attacker.known), "hidden in one table, shown in another"
    assert attacker.worked_out() == set()
    # Adams's 4 parents: their respondents, n and mean are nowhere to be seen.
    scales = pd.read_excel(folder / "summary.xlsx", sheet_name="scales")
    adams = scales[scales["group"] == "adams-ms"]
    assert set(adams["n"].astype(str)) == {HIDDEN} and set(adams["mean"].astype(str)) == {HIDDEN}
    # And what is safe to show is still shown.
    overall = pd.read_excel(folder / "summary.xlsx", sheet_name="overall")
    assert (overall["respondents"] == 34).all()
    # Households (here one per person) hide with the respondents, and when small.
    assert (overall["households"] == 34).all()
    for sheet in ("by_school", "by_role", "by_language"):
        frame = pd.read_excel(folder / "summary.xlsx", sheet_name=sheet).astype({"households": str})
        hidden = frame["respondents"].astype(str) == HIDDEN
        assert (frame.loc[hidden, "households"] == HIDDEN).all()
        shown = frame.loc[~hidden, "households"].astype(int)
        assert (shown >= 10).all()


def test_the_attacker_finds_what_hiding_small_cells_alone_would_give_away(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    """The test can fail: the internal pack, with its small cells blanked, leaks."""
    folder = tmp_path / "internal"
    write_pack(SqlSynthesisStore(engine), "priorities", parse_activity, SECRET, ZONE, folder, NOW)
    naive = tmp_path / "naive"
    naive.mkdir()
    for name in ("summary.xlsx", "representation.xlsx"):
        sheets = pd.read_excel(folder / name, sheet_name=None)
        with pd.ExcelWriter(naive / name) as writer:
            for sheet, frame in sheets.items():
                for column in ("count", "respondents", "n", "enrolled", "reached", "answered"):
                    if column in frame:
                        small = pd.to_numeric(frame[column], errors="coerce") < 10
                        frame[column] = frame[column].astype(object).where(~small, HIDDEN)
                frame.to_excel(writer, sheet_name=sheet, index=False)
    (naive / "themes.csv").write_text((folder / "themes.csv").read_text())

    found = read_pack(naive).worked_out()

    assert ("respondents", "school", "adams-ms", "safe") in found
