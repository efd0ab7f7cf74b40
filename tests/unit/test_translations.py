"""Translation sheets: export an activity's texts to XLSX, fill them in, import them back."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from bot.authoring.activities import load_activity_file
from bot.authoring.translations import export_sheet, import_sheet
from bot.cli import app
from bot.errors import SheetError
from tests.conftest import EXAMPLES

LANGUAGES = ["en", "es", "vi", "fr"]
SURVEY = "family-priorities.yaml"


@pytest.fixture
def survey(tmp_path: Path) -> Path:
    return Path(shutil.copy(EXAMPLES / SURVEY, tmp_path / SURVEY))


def _export(activity: Path, languages: list[str] = LANGUAGES) -> Path:
    sheet = activity.with_suffix(".xlsx")
    export_sheet(activity, languages, sheet)
    return sheet


def _rows(sheet: Path) -> list[list[object]]:
    book = load_workbook(sheet)
    return [list(row) for row in book["Translations"].iter_rows(values_only=True)]


def _edit(sheet: Path, change: Callable[[list[list[object]]], None]) -> None:
    """Rewrite the Translations sheet as `change` leaves its rows (header included)."""
    book = load_workbook(sheet)
    rows = [list(row) for row in book["Translations"].iter_rows(values_only=True)]
    change(rows)
    del book["Translations"]
    table = book.create_sheet("Translations", 0)
    for row in rows:
        table.append(row)
    book.save(sheet)


def _fill(rows: list[list[object]], language: str, make: Callable[[str], str]) -> None:
    column = next(i for i, title in enumerate(rows[0]) if str(title).startswith(language))
    for row in rows[1:]:
        row[column] = make(str(row[2]))


# -- export ------------------------------------------------------------------------------


def test_a_sheet_lists_every_text_by_key_with_a_column_per_language(survey: Path) -> None:
    rows = _rows(_export(survey))
    assert rows[0] == [
        "id",
        "where",
        "en (English)",
        "es (Español)",
        "vi (Tiếng Việt)",
        "fr (Français)",
        "notes",
    ]
    ids = [row[0] for row in rows[1:]]
    assert ids[:6] == [
        "title",
        "intro",
        "questions[connected].prompt",
        "questions[connected].scale.min_label",
        "questions[connected].scale.max_label",
        "questions[priorities].prompt",
    ]
    assert "questions[priorities].options[safety].label" in ids
    assert ids[-1] == "closing"
    safety = rows[1 + ids.index("questions[priorities].options[safety].label")]
    assert safety[1:6] == [
        "answer option; also a button, so keep it short",
        "Safety and belonging",
        "Seguridad y pertenencia",
        "An toàn và gắn bó",
        None,
    ]


def test_a_sheet_counts_and_highlights_missing_translations(survey: Path) -> None:
    sheet = survey.with_suffix(".xlsx")
    result = export_sheet(survey, LANGUAGES, sheet)
    assert result.texts == 17
    assert result.missing == {"es": 0, "vi": 0, "fr": 17}
    table = load_workbook(sheet)["Translations"]
    assert table.cell(2, 6).fill.start_color.rgb.endswith("FFF2CC")
    assert table.cell(2, 4).fill.start_color.rgb.endswith("000000")
    assert table.freeze_panes == "D2"
    assert table.auto_filter.ref == f"A1:G{result.texts + 1}"


def test_a_feedback_round_exports_its_sections_and_an_update_its_message(tmp_path: Path) -> None:
    feedback = _rows(_export(Path(shutil.copy(EXAMPLES / "draft-plan-feedback.yaml", tmp_path))))
    update = _rows(_export(Path(shutil.copy(EXAMPLES / "progress-update.yaml", tmp_path))))
    assert [row[0] for row in feedback[1:]] == [
        "title",
        "intro",
        "sections[reading].title",
        "sections[reading].summary",
        "sections[counselors].title",
        "sections[counselors].summary",
        "sections[buses].title",
        "sections[buses].summary",
        "closing",
        "reminder",
    ]
    assert feedback[3][1] == "title of a section of the draft plan"
    assert [row[0] for row in update[1:]] == [
        "title",
        "message",
        "pulse.prompt",
        "pulse.scale.min_label",
        "pulse.scale.max_label",
        "closing",
    ]


def test_a_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    activity = tmp_path / "a.yaml"
    activity.write_text(
        "key: formula\nkind: survey\ntitle: '=SUM(A1)'\nquestions:\n"
        "  - {key: q, type: free_text, prompt: '=1+1 is two?'}\n",
        encoding="utf-8",
    )
    rows = _rows(_export(activity))
    assert [row[2] for row in rows[1:]] == ["=SUM(A1)", "=1+1 is two?"]


def test_exporting_an_invalid_activity_says_what_is_wrong(tmp_path: Path) -> None:
    activity = tmp_path / "bad.yaml"
    activity.write_text("key: bad\nkind: survey\n", encoding="utf-8")
    with pytest.raises(SheetError) as raised:
        _export(activity)
    assert raised.value.problems[0] == f"{activity} is not a valid activity; fix it first:"
    assert f"{activity}:1: title: is required" in raised.value.problems


# -- import --------------------------------------------------------------------------------


def test_an_unchanged_sheet_leaves_the_file_as_it_was(survey: Path) -> None:
    before = survey.read_bytes()
    result = import_sheet(_export(survey), survey, LANGUAGES)
    assert not result.written
    assert result.changes == {"es": 0, "vi": 0, "fr": 0}
    assert result.unchanged == 34 and result.skipped == []
    assert survey.read_bytes() == before


def test_filled_in_translations_land_in_the_file_with_its_comments(survey: Path) -> None:
    sheet = _export(survey)
    _edit(sheet, lambda rows: _fill(rows, "fr", lambda english: f"[fr] {english}"))
    result = import_sheet(sheet, survey, LANGUAGES)
    assert result.written and result.changes == {"es": 0, "vi": 0, "fr": 17}
    activity = load_activity_file(survey)
    assert activity.title.get("fr", "en") == "[fr] Family priorities for our schools"
    assert activity.questions[1].options[0].label.get("fr", "en") == "[fr] Safety and belonging"
    assert activity.questions[1].options[0].label.get("es", "en") == "Seguridad y pertenencia"
    text = survey.read_text("utf-8")
    assert "# Skip logic: only for families who answered NO just before." in text
    assert "start_keywords: [PLAN, PLAN2030, ENCUESTA, KHẢO SÁT]" in text
    # A label written on one line gets a line per language once it has more.
    assert "        label:\n          en: Safety and belonging\n" in text


def test_a_text_in_the_default_language_only_becomes_a_translated_one(tmp_path: Path) -> None:
    activity = tmp_path / "a.yaml"
    activity.write_text(
        "key: one\nkind: survey\ntitle: Our schools # shown in lists\n"
        "questions:\n  - key: q\n    type: free_text\n    prompt: What matters most?\n",
        encoding="utf-8",
    )
    sheet = _export(activity, ["en", "es"])
    _edit(sheet, lambda rows: _fill(rows, "es", lambda english: f"ES {english}"))
    assert import_sheet(sheet, activity, ["en", "es"]).changes == {"es": 2}
    assert activity.read_text("utf-8").endswith(
        "    prompt:\n      en: What matters most?\n      es: ES What matters most?\n"
    )
    assert load_activity_file(activity).title.get("es", "en") == "ES Our schools"


def test_a_feedback_round_takes_translations_of_its_sections(tmp_path: Path) -> None:
    activity = Path(shutil.copy(EXAMPLES / "draft-plan-feedback.yaml", tmp_path))
    sheet = _export(activity)
    _edit(sheet, lambda rows: _fill(rows, "fr", lambda english: f"[fr] {english}"))
    assert import_sheet(sheet, activity, LANGUAGES).changes["fr"] == 10
    parsed = load_activity_file(activity)
    assert (
        parsed.questions[0]
        .prompt.get("fr", "en")
        .startswith('Partie 1 sur 3 : "[fr] Every child reading by grade 3": [fr] Tutors in every')
    )


def test_a_file_written_on_windows_keeps_its_line_ends(tmp_path: Path) -> None:
    activity = tmp_path / "windows.yaml"
    source = (EXAMPLES / "lets-talk-belonging.yaml").read_text("utf-8").replace("\n", "\r\n")
    activity.write_bytes(source.encode("utf-8"))
    sheet = _export(activity)
    _edit(sheet, lambda rows: _fill(rows, "fr", lambda english: f"[fr] {english}"))
    assert import_sheet(sheet, activity, LANGUAGES).written
    written = activity.read_bytes()
    assert written.count(b"\r\n") == written.count(b"\n") > 20
    assert load_activity_file(activity).title.get("fr", "en") == "[fr] Let's Talk: belonging"


def test_rows_follow_their_keys_when_questions_move(survey: Path) -> None:
    sheet = _export(survey)
    _edit(sheet, lambda rows: _fill(rows, "fr", lambda english: f"[fr] {english}"))
    _edit(sheet, lambda rows: rows[1:].reverse() or rows.__setitem__(slice(1, None), rows[:0:-1]))
    source = survey.read_text("utf-8")
    first, rest = source.split("  - key: priorities", 1)
    priorities, after = rest.split("  - key: news-in-language", 1)
    survey.write_text(
        first.replace(
            "  - key: connected", "  - key: priorities" + priorities + "  - key: connected"
        )
        + "  - key: news-in-language"
        + after,
        encoding="utf-8",
    )
    assert load_activity_file(survey).questions[0].key == "priorities"
    assert import_sheet(sheet, survey, LANGUAGES).changes["fr"] == 17
    activity = load_activity_file(survey)
    assert activity.questions[0].prompt.get("fr", "en") == "[fr] What should our schools focus on?"
    assert activity.questions[1].prompt.get("fr", "en").startswith("[fr] How welcome")


def test_an_empty_cell_keeps_the_translation_there_is(survey: Path) -> None:
    sheet = _export(survey)

    def clear_spanish(rows: list[list[object]]) -> None:
        for row in rows[1:]:
            row[3] = None
        rows[1][5] = "Priorités des familles"

    _edit(sheet, clear_spanish)
    assert import_sheet(sheet, survey, LANGUAGES).changes == {"es": 0, "vi": 0, "fr": 1}
    activity = load_activity_file(survey)
    assert activity.title.get("es", "en") == "Prioridades de las familias para nuestras escuelas"
    assert activity.title.get("fr", "en") == "Priorités des familles"


def test_rows_that_no_longer_match_are_skipped_and_named(survey: Path) -> None:
    sheet = _export(survey)

    def damage(rows: list[list[object]]) -> None:
        _fill(rows, "fr", lambda english: f"[fr] {english}")
        rows[1][2] = "Family priorities (old title)"  # row 2: the English changed
        rows[3][0] = "questions[gone].prompt"  # row 4: a question removed since
        rows.append(list(rows[2]))  # row 19: intro again
        rows.append(["", "", "", "", "", "orphan text"])  # row 20: no id

    _edit(sheet, damage)
    result = import_sheet(sheet, survey, LANGUAGES)
    name = sheet.name
    assert result.skipped == [
        f"{name}: row 2: the 'en' text differs from the activity's (it changed since the "
        "export); export a new sheet for this row; skipped",
        f"{name}: row 4: 'questions[gone].prompt' is not a text of this activity "
        "(removed or renamed since the export?); skipped",
        f"{name}: row 19: 'intro' is also row 3; skipped",
        f"{name}: row 20: no id; skipped",
    ]
    assert result.changes["fr"] == 15
    activity = load_activity_file(survey)
    assert "fr" not in activity.title.values
    assert activity.intro is not None and activity.intro.get("fr", "en").startswith("[fr] 5 quick")


def test_spreadsheet_line_ends_spaces_and_decomposed_accents_are_cleaned(survey: Path) -> None:
    sheet = _export(survey)

    def typed(rows: list[list[object]]) -> None:
        rows[1][5] = "  Priorite\u0301s   des familles\r\n"
        rows[1][2] = "Family priorities for our schools\r\n"
        rows[2][5] = 2030

    _edit(sheet, typed)
    assert import_sheet(sheet, survey, LANGUAGES).changes["fr"] == 2
    activity = load_activity_file(survey)
    assert activity.title.get("fr", "en") == "Priorités des familles"
    assert activity.intro is not None and activity.intro.get("fr", "en") == "2030"


def test_a_dry_run_reports_and_writes_nothing(survey: Path) -> None:
    before = survey.read_bytes()
    sheet = _export(survey)
    _edit(sheet, lambda rows: _fill(rows, "fr", str.upper))
    result = import_sheet(sheet, survey, LANGUAGES, dry_run=True)
    assert result.changes["fr"] == 17 and not result.written
    assert survey.read_bytes() == before


def test_translations_that_would_break_the_activity_change_nothing(survey: Path) -> None:
    before = survey.read_bytes()
    sheet = _export(survey)
    _edit(sheet, lambda rows: _fill(rows, "fr", lambda english: "Pareil"))
    with pytest.raises(SheetError) as raised:
        import_sheet(sheet, survey, LANGUAGES)
    problems = raised.value.problems
    assert problems[0] == f"{sheet.name}: the translations would make {survey} invalid:"
    assert any(
        "questions[priorities].options[1].label.fr: same text as options[0]" in problem
        for problem in problems
    )
    assert survey.read_bytes() == before


def _header_case(change: Callable[[list[object]], None]) -> Callable[[list[list[object]]], None]:
    return lambda rows: change(rows[0])


SHEET_ERRORS = [
    (
        "no id column",
        _header_case(lambda header: header.__setitem__(0, "key")),
        [
            "{sheet}: column A 'key': not a language code the bot speaks "
            "(en, ar, es, fr, ht, ko, pt, ru, so, tl, vi, zh), nor id, where or notes",
            "{sheet}: no 'id' column; the first row must name the columns as exported",
        ],
    ),
    (
        "no source column",
        _header_case(lambda header: header.__setitem__(2, None)),
        [
            "{sheet}: column C has texts but no title; name it as exported",
            "{sheet}: no 'en' column; rows are matched by the activity's default language, 'en'",
        ],
    ),
    (
        "a language the district does not use",
        _header_case(lambda header: header.__setitem__(5, "ko")),
        [
            "{sheet}: column F 'ko': 한국어 is not one of the district's languages "
            "(en, es, vi, fr); add 'ko' to languages in district.yaml, or delete the column"
        ],
    ),
    (
        "a language twice",
        _header_case(lambda header: header.__setitem__(5, "es")),
        ["{sheet}: column F 'es': column D is 'es' too"],
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in SHEET_ERRORS], ids=[c[0] for c in SHEET_ERRORS]
)
def test_a_sheet_with_wrong_columns_is_refused_whole(
    survey: Path, change: Callable[[list[list[object]]], None], expected: list[str]
) -> None:
    before = survey.read_bytes()
    sheet = _export(survey)
    _edit(sheet, lambda rows: (_fill(rows, "fr", str.upper), change(rows)))
    with pytest.raises(SheetError) as raised:
        import_sheet(sheet, survey, LANGUAGES)
    assert raised.value.problems == [line.format(sheet=sheet.name) for line in expected]
    assert survey.read_bytes() == before


def test_a_sheet_made_for_another_activity_is_refused(survey: Path, tmp_path: Path) -> None:
    other = Path(shutil.copy(EXAMPLES / "lets-talk-belonging.yaml", tmp_path))
    with pytest.raises(SheetError) as raised:
        import_sheet(_export(other), survey, LANGUAGES)
    assert raised.value.problems == [
        f"{other.with_suffix('.xlsx')}: this sheet is for the activity "
        "'lets-talk-belonging', not 'family-priorities-2026'"
    ]


@pytest.mark.parametrize("content", [b"id,en\ntitle,Hello\n", b""], ids=["csv", "empty"])
def test_a_file_that_is_not_a_workbook_is_refused(
    survey: Path, tmp_path: Path, content: bytes
) -> None:
    sheet = tmp_path / "sheet.xlsx"
    sheet.write_bytes(content)
    with pytest.raises(SheetError) as raised:
        import_sheet(sheet, survey, LANGUAGES)
    assert raised.value.problems == [
        f"{sheet}: not an Excel workbook (.xlsx); save the sheet as .xlsx"
    ]


def test_a_sheet_a_translator_rebuilt_without_the_about_page_still_imports(
    survey: Path, tmp_path: Path
) -> None:
    rows = _rows(_export(survey))
    book = Workbook()
    table = book.active
    assert table is not None
    for row in rows:
        table.append(row[:3] + [None, None, f"[fr] {row[2]}" if row[0] != "id" else "fr"])
    sheet = tmp_path / "rebuilt.xlsx"
    book.save(sheet)
    assert import_sheet(sheet, survey, LANGUAGES).changes == {"fr": 17}


# -- the commands --------------------------------------------------------------------------


def test_the_commands_export_and_import_a_sheet(survey: Path, tmp_path: Path) -> None:
    env = {"ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml")}
    runner = CliRunner()
    sheet = tmp_path / "out" / "for-translators.xlsx"
    exported = runner.invoke(
        app, ["activity", "translations", "export", str(survey), "-o", str(sheet)], env=env
    )
    assert exported.exit_code == 0, exported.output
    assert "17 texts; missing translations: es 0, vi 0" in exported.output
    _edit(sheet, lambda rows: rows[1].__setitem__(4, "Ưu tiên của các gia đình"))
    imported = runner.invoke(
        app, ["activity", "translations", "import", str(survey), str(sheet)], env=env
    )
    assert imported.exit_code == 0, imported.output
    assert "updated; new or changed translations: vi 1" in imported.output
    assert load_activity_file(survey).title.get("vi", "en") == "Ưu tiên của các gia đình"


def test_the_export_command_refuses_a_language_the_district_does_not_use(survey: Path) -> None:
    env = {"ENGAGE_DISTRICT_FILE": str(EXAMPLES / "district.yaml")}
    result = CliRunner().invoke(
        app, ["activity", "translations", "export", str(survey), "-l", "so"], env=env
    )
    assert result.exit_code != 0
    assert (
        str(result.exception) == "--language so: not one of the district's languages (en, es, vi)"
    )
