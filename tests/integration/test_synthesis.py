"""The synthesis pack on SQLite and PostgreSQL: files, summary, themes, suppression, bad input."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, insert, select

from bot.authoring.activities import parse_activity
from bot.synthesis.pack import write_pack
from storage import models
from storage.export import ExportError
from storage.synthesis import SqlSynthesisStore
from tests.integration.round_data import Round, enroll, seed_round

SECRET = "district-secret"
ZONE = "America/Chicago"
NOW = datetime(2026, 9, 30, 12, 0)
WHY_EN = [
    "The bus is always late",
    "bus comes late every morning",
    "school bus late again",
    "buses are late in winter",
    "More math tutoring please",
    "math tutoring after school",
    "tutoring in math on weekends",
    "math tutoring for my daughter",
]
WHY_ES = ["Más autobuses por la mañana", "El autobús llega tarde", "autobús tarde otra vez"]


@pytest.fixture
def round_(engine: Engine) -> Round:
    """14 English-speaking parents at Lincoln and 3 Spanish-speaking ones at Adams."""
    survey = seed_round(engine)
    for index in range(14):
        person = survey.person(phone=f"+1555010{index:04d}")
        survey.full_survey(person, why=WHY_EN[index] if index < len(WHY_EN) else None)
    for index in range(3):
        person = survey.person(language="es", school="adams-ms", phone=f"+1555020{index:04d}")
        survey.full_survey(person, "es", why=WHY_ES[index])
    survey.answer(survey.people[0], "top", "reading", "2")  # a later answer replaces the first
    enroll(
        engine,
        {
            ("lincoln-es", "en", "parent"): 40,
            ("adams-ms", "es", "parent"): 60,
        },
    )
    return survey


def pack(engine: Engine, folder: Path, **options: object) -> object:
    return write_pack(
        SqlSynthesisStore(engine),
        "priorities",
        parse_activity,
        SECRET,
        ZONE,
        folder,
        NOW,
        **options,  # type: ignore[arg-type]
    )


def test_the_pack_holds_every_table_summary_theme_and_chart(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    folder = tmp_path / "pack"
    report = pack(engine, folder)

    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert names == sorted(
        [
            "README.md",
            "pack.json",
            "tidy.csv",
            "tidy.parquet",
            "tidy.xlsx",
            "wide.csv",
            "wide.parquet",
            "wide.xlsx",
            "summary.xlsx",
            "lets_talk.csv",
            "lets_talk.xlsx",
            "themes.csv",
            "themes.xlsx",
            "representation.csv",
            "representation.xlsx",
            "charts/answers-per-day.png",
            "charts/completion.png",
            "charts/question-many.png",
            "charts/question-news.png",
            "charts/question-rank.png",
            "charts/question-safe.png",
            "charts/question-top.png",
            "charts/representation.png",
        ]
    )
    assert (folder / "charts/question-top.png").read_bytes().startswith(b"\x89PNG")
    manifest = json.loads((folder / "pack.json").read_text())
    assert (manifest["answers"], manifest["participants"], manifest["public"]) == (103, 17, False)
    assert report.answers == 103  # type: ignore[attr-defined]
    assert "Internal" in (folder / "README.md").read_text()
    assert not list(tmp_path.glob(".pack.partial-*"))


def test_summary_counts_people_by_school_role_and_language(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    pack(engine, tmp_path / "pack")
    sheets = pd.read_excel(tmp_path / "pack" / "summary.xlsx", sheet_name=None)

    assert list(sheets)[0] == "About"
    assert set(sheets) == {
        "About",
        "questions",
        "overall",
        "by_school",
        "by_role",
        "by_language",
        "scales",
        "rankings",
    }
    overall = sheets["overall"].set_index(["question", "option"])
    # Person 0 changed their mind: their latest answer counts, once.
    assert overall.loc[("top", "safety"), ["count", "respondents"]].tolist() == [16, 17]
    assert overall.loc[("top", "reading"), "count"] == 1
    assert overall.loc[("top", "buses"), "count"] == 0
    assert overall.loc[("many", "tutoring"), "share"] == 1.0
    assert overall.loc[("top", "safety"), "label"] == "Safety"
    by_language = sheets["by_language"].set_index(["language", "question", "option"])
    assert by_language.loc[("es", "top", "safety"), ["count", "respondents"]].tolist() == [3, 3]
    scales = sheets["scales"].set_index(["dimension", "group", "question"])
    assert scales.loc[("all", "all", "safe"), ["n", "mean"]].tolist() == [17, 4.0]
    assert scales.loc[("school", "adams-ms", "safe"), "n"] == 3
    questions = sheets["questions"].set_index("question")
    assert questions.loc["why", ["answered", "skipped"]].tolist() == [11, 6]
    rankings = sheets["rankings"]
    # Everyone put reading first and safety second: 3 and 2 points each of the 3 options.
    assert rankings[rankings["question"] == "rank"][
        ["rank", "option", "borda_points", "ranked", "first_choice", "respondents"]
    ].values.tolist() == [
        [1, "reading", 51, 17, 17, 17],
        [2, "safety", 34, 17, 0, 17],
        [3, "buses", 0, 0, 0, 17],
    ]


def test_themes_cover_every_free_text_question_per_language_with_quotes(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    pack(engine, tmp_path / "pack")
    themes = pd.read_csv(tmp_path / "pack" / "themes.csv")

    english = themes[(themes["question"] == "why") & (themes["language"] == "en")]
    spanish = themes[(themes["question"] == "why") & (themes["language"] == "es")]
    assert english["size"].sum() == 8
    assert spanish["size"].sum() == 3
    assert len(english) == 2
    bus = english[english["top_terms"].str.contains("bus")].iloc[0]
    assert bus["size"] == 4
    assert bus["quote_1"] in WHY_EN[:4]
    assert english["quote_3"].notna().all()


def test_lets_talk_threads_carry_staff_replies(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    person = round_.people[1]
    contact = round_.contacts[person]
    with engine.begin() as connection:
        thread = connection.execute(
            insert(models.LetsTalk.__table__).returning(models.LetsTalk.__table__.c.id),
            {
                "participant_id": person,
                "contact_id": contact,
                "text": "Why does the bus skip our stop?",
                "language": "en",
                "status": "resolved",
                "slack_channel": "C0INBOX",
                "slack_ts": "1725285600.000100",
                "created_at": datetime(2026, 9, 2, 14, 0),
                "first_response_at": datetime(2026, 9, 2, 15, 0),
            },
        ).scalar_one()
        connection.execute(
            insert(models.LetsTalk.__table__),
            {
                "participant_id": person,
                "contact_id": contact,
                "text": "And the afternoon one too",
                "language": "en",
                "status": "resolved",
                "slack_channel": "C0INBOX",
                "slack_ts": "1725285600.000100",
                "created_at": datetime(2026, 9, 2, 14, 5),
            },
        )
        connection.execute(
            insert(models.AuditEntry.__table__),
            {
                "actor": "slack:U0STAFF",
                "action": "lets_talk.reply",
                "detail": {"item": thread, "outbox_id": 999, "text": "Checking with transport."},
                "created_at": datetime(2026, 9, 2, 14, 30),
            },
        )
        connection.execute(
            insert(models.Outbox.__table__),
            {
                "contact_id": contact,
                "channel": "sms",
                "address": "+15550100001",
                "body": "Riverside Plan team: we called the bus company.",
                "choices": [],
                "kind": "staff_reply",
                "status": "sent",
                "attempts": 1,
                "not_before": datetime(2026, 9, 2, 15, 0),
                "created_at": datetime(2026, 9, 2, 15, 0),
            },
        )
    pack(engine, tmp_path / "pack")
    threads = pd.read_csv(tmp_path / "pack" / "lets_talk.csv")

    assert threads["text"].tolist() == [
        "Why does the bus skip our stop?",
        "And the afternoon one too",
    ]
    assert threads["thread"].tolist() == [thread, thread]
    replies = threads["staff_replies"].fillna("").tolist()
    assert replies[0].splitlines() == [
        "[2026-09-02T09:30:00-05:00] slack:U0STAFF: Checking with transport.",
        "[2026-09-02T10:00:00-05:00] Riverside Plan team: we called the bus company.",
    ]
    assert replies[1] == ""
    assert threads["received_at"].iloc[0] == "2026-09-02T09:00:00-05:00"
    themes = pd.read_csv(tmp_path / "pack" / "themes.csv")
    assert "lets_talk" in set(themes["question"])


def test_a_public_pack_holds_aggregates_only_with_small_counts_hidden(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    folder = tmp_path / "public"
    pack(engine, folder, public=True, threshold=10)

    names = {p.name for p in folder.iterdir()}
    assert not names & {"tidy.csv", "wide.csv", "lets_talk.csv", "tidy.parquet"}
    assert "PUBLIC" in (folder / "README.md").read_text()
    sheets = pd.read_excel(folder / "summary.xlsx", sheet_name=None)
    overall = sheets["overall"].set_index(["question", "option"])
    assert overall.loc[("top", "safety"), "count"] == 16
    # 1 and 0 are hidden, and so is the share computed from them.
    assert overall.loc[("top", "reading"), ["count", "share"]].tolist() == ["<10", "<10"]
    by_language = sheets["by_language"]
    spanish = by_language[by_language["language"] == "es"]
    assert set(spanish["count"].astype(str)) == {"<10"}
    assert set(spanish["respondents"].astype(str)) == {"<10"}
    themes = pd.read_csv(folder / "themes.csv")
    assert themes[["quote_1", "quote_2", "quote_3"]].isna().all().all()
    assert set(themes["size"].astype(str)) == {"<10"}
    representation = pd.read_csv(folder / "representation.csv")
    # Lincoln's 14 would give Adams's 3 away: the index reveals the district's 17.
    assert set(representation["respondents"].astype(str)) == {"<10"}


def test_a_single_hidden_cell_is_never_left_alone(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    pack(engine, tmp_path / "public", public=True, threshold=2)
    overall = pd.read_excel(tmp_path / "public" / "summary.xlsx", sheet_name="overall")

    top = overall[overall["question"] == "top"].set_index("option")["count"].astype(str)
    # reading (1) is under 2; buses (0) too: two hidden cells, neither can be worked out.
    assert top.to_dict() == {"safety": "16", "reading": "<2", "buses": "<2"}
    news = overall[overall["question"] == "news"].set_index("option")["count"].astype(str)
    # yes (0) is hidden alone, so no (17) must go too, or 17 - 17 gives it away.
    assert news.to_dict() == {"yes": "<2", "no": "<2"}


def test_every_pack_is_audited(engine: Engine, round_: Round, tmp_path: Path) -> None:
    pack(engine, tmp_path / "pack", public=True, actor="cli:ana")

    with engine.connect() as connection:
        entry = connection.execute(
            select(models.AuditEntry.__table__).where(models.AuditEntry.action == "export.pack")
        ).one()
    assert entry.actor == "cli:ana"
    assert entry.detail["public"] is True
    assert entry.detail["path"] == str(tmp_path / "pack")


def test_exporting_again_replaces_the_previous_pack_whole(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    folder = tmp_path / "pack"
    pack(engine, folder)
    (folder / "stale.txt").write_text("from before")
    pack(engine, folder, public=True)

    assert not (folder / "stale.txt").exists()
    assert not (folder / "tidy.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("problem", ["unknown", "empty", "not-a-pack", "unwritable"])
def test_bad_input_is_a_clear_error_and_leaves_nothing_behind(
    engine: Engine, tmp_path: Path, problem: str
) -> None:
    survey = seed_round(engine)
    key, folder = "priorities", tmp_path / "pack"
    if problem == "unknown":
        key, expected = "nope", "no activity named 'nope'"
    elif problem == "empty":
        expected = "no answers yet"
    elif problem == "not-a-pack":
        survey.full_survey(survey.person())
        folder.mkdir()
        (folder / "mine.docx").write_text("keep me")
        expected = "has other files"
    else:
        survey.full_survey(survey.person())
        (tmp_path / "file").write_text("x")
        folder = tmp_path / "file" / "pack"
        expected = "cannot write"
    before = sorted(p.name for p in tmp_path.iterdir())

    with pytest.raises(ExportError, match=expected):
        write_pack(SqlSynthesisStore(engine), key, parse_activity, SECRET, ZONE, folder, NOW)

    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if problem == "not-a-pack":
        assert [p.name for p in folder.iterdir()] == ["mine.docx"]


def chart_title(path: Path) -> str:
    from PIL import Image

    with Image.open(path) as image:
        return str(image.text["Title"])  # type: ignore[attr-defined]


def test_charts_are_titled_with_the_question_its_n_and_the_dates(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    folder = tmp_path / "pack"
    pack(engine, folder)

    assert chart_title(folder / "charts/question-top.png") == (
        "What matters most? (Single choice · n = 17 people answered · Sep 1 – Sep 2, 2026)"
    )
    assert "Rank these (Ranking, Borda points (best first) · n = 17" in chart_title(
        folder / "charts/question-rank.png"
    )
    assert "Sep 1 – Sep 2, 2026" in chart_title(folder / "charts/answers-per-day.png")


def test_the_pack_readme_describes_every_chart_and_needs_no_other_document(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    folder = tmp_path / "pack"
    pack(engine, folder)
    readme = (folder / "README.md").read_text()

    assert "docs/" not in readme
    assert "Borda points" in readme and "four fifths" in readme
    charts = sorted(str(p.relative_to(folder)) for p in (folder / "charts").iterdir())
    for chart in charts:
        line = next(line for line in readme.splitlines() if f"`{chart}`" in line)
        assert "a chart" not in line and len(line) > len(chart) + 40
    top = next(line for line in readme.splitlines() if "question-top.png" in line)
    assert "“What matters most?”" in top and "17 people" in top and "Sep 1 – Sep 2, 2026" in top
    assert "- `tidy.csv`, `tidy.parquet`, `tidy.xlsx`: every answer" in readme


def test_a_public_chart_says_n_is_small_rather_than_giving_it(
    engine: Engine, round_: Round, tmp_path: Path
) -> None:
    folder = tmp_path / "public"
    pack(engine, folder, public=True, threshold=10)
    readme = (folder / "README.md").read_text()

    assert "PUBLIC" in readme and "<10" in readme
    assert "n = 17" in chart_title(folder / "charts/question-top.png")
