"""What an idea exchange found: opinion groups, consensus, divisive and representative ideas,
small cells hidden in public, and Polis's export files read back with pandas."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.synthesis.ideas import (
    NOT_GROUPED,
    ExchangeVotes,
    analyse_exchange,
    polis_time,
    public_tables,
    safe_text,
    wilson_interval,
    write_polis_export,
    write_report,
)

START = datetime(2026, 3, 2, 8, 0)
CONSENSUS = range(5)
DIVISIVE = range(5, 10)  # group A agrees, group B disagrees, group C passes mostly
IDEAS = 30


def planted(
    sizes: tuple[int, ...] = (40, 30, 20), noise: float = 0.05, seed: int = 3
) -> tuple[ExchangeVotes, np.ndarray]:
    """People in planted groups, each reacting to every idea; the groups' labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    stance = rng.choice([1, -1], size=(len(sizes), IDEAS))
    stance[0, 10:] = -stance[1, 10:]  # the rest split A from B: no accidental consensus
    stance[:, CONSENSUS] = 1
    stance[:, DIVISIVE] = np.array([1, -1, 0][: len(sizes)])[:, None]
    rows = []
    for person, group in enumerate(labels, start=1):
        for idea in range(IDEAS):
            vote = stance[group, idea]
            if rng.random() < noise:
                vote = rng.choice([1, -1, 0])
            rows.append((person, idea, int(vote), START + timedelta(minutes=person + idea)))
    votes = pd.DataFrame(rows, columns=["participant", "idea", "vote", "at"])
    ideas = pd.DataFrame(
        {
            "number": np.arange(IDEAS),
            "status": "approved",
            "reviewed": True,
            "text": [f"Idea {n}" for n in range(IDEAS)],
            "language": "en",
            "author": 0,
            "created_at": START,
            "is_seed": True,
        }
    )
    people = pd.DataFrame(
        {
            "school": np.where(np.arange(len(labels)) % 2, "lincoln-es", "roosevelt-ms"),
            "language": np.where(np.arange(len(labels)) % 3, "en", "es"),
        },
        index=np.arange(1, len(labels) + 1),
    )
    return ExchangeVotes("belonging", "Belonging", "What helps?", ideas, votes, people), labels


def test_the_planted_groups_are_found() -> None:
    data, labels = planted()
    report = analyse_exchange(data, threshold=10)
    opinion = report.opinion
    assert opinion.count == 3
    assert list(report.groups["people"][:3]) == [40, 30, 20]
    found = opinion.labels[np.argsort(opinion.members)]
    assert pd.crosstab(found, labels).to_numpy().max(axis=0).sum() == len(labels)


def test_the_analysis_is_the_same_every_time() -> None:
    data, _ = planted()
    first, second = analyse_exchange(data, 10), analyse_exchange(data, 10)
    assert np.array_equal(first.opinion.labels, second.opinion.labels)
    pd.testing.assert_frame_equal(first.ideas, second.ideas)


def test_consensus_ideas_are_agreed_by_a_majority_in_every_group() -> None:
    report = analyse_exchange(planted()[0], threshold=10)
    assert set(report.consensus["idea"]) >= set(CONSENSUS)
    assert (report.consensus["lowest_group_agreement"] > 0.5).all()
    for idea in report.consensus["idea"]:
        shares = report.by_group[report.by_group["idea"] == idea]["agreement"]
        assert (shares > 0.5).all()
    assert not set(report.consensus["idea"]) & set(DIVISIVE)


def test_divisive_ideas_are_agreed_by_one_group_and_rejected_by_another() -> None:
    report = analyse_exchange(planted()[0], threshold=10)
    divisive = report.divisive.set_index("idea")
    assert set(divisive.index) >= set(DIVISIVE)
    for idea in DIVISIVE:
        assert (divisive.at[idea, "agrees_most"], divisive.at[idea, "disagrees_most"]) == (
            "A",
            "B",
        )
        assert divisive.at[idea, "spread"] > 0.8


def test_each_group_has_the_ideas_it_stands_apart_on() -> None:
    report = analyse_exchange(planted()[0], threshold=10)
    representative = report.representative
    assert set(representative["group"]) == {"A", "B", "C"}
    assert (representative.groupby("group").size() <= 5).all()
    for row in representative.itertuples():
        mine = report.by_group[
            (report.by_group["idea"] == row.idea) & (report.by_group["group"] == row.group)
        ]
        share = (
            mine["agreement"].iloc[0]
            if row.stance == "agree"
            else mine["disagree"].iloc[0] / mine["reactions"].iloc[0]
        )
        assert row.group_share == pytest.approx(share)
        assert row.group_share > row.others_share
        assert row.z > 1.28


def test_top_ideas_are_those_every_group_agrees_with() -> None:
    report = analyse_exchange(planted()[0], threshold=10)
    assert set(report.top(5)["idea"]) == set(CONSENSUS)
    assert list(report.ideas["rank"]) == list(range(1, IDEAS + 1))


def test_no_group_is_smaller_than_the_threshold_and_nobody_is_dropped() -> None:
    report = analyse_exchange(planted(sizes=(45, 45, 6))[0], threshold=10)
    people = report.groups.set_index("group")["people"]
    assert report.opinion.count == 2
    assert (people.drop(NOT_GROUPED) >= 10).all()
    assert people.drop(NOT_GROUPED).sum() == 96


def test_groups_under_the_threshold_are_merged_into_the_nearest() -> None:
    report = analyse_exchange(planted()[0], threshold=25)
    assert report.opinion.count == 2
    assert (report.groups.loc[report.groups["group"] != NOT_GROUPED, "people"] >= 25).all()


def test_no_groups_when_every_split_would_leave_one_too_small() -> None:
    report = analyse_exchange(planted()[0], threshold=60)
    assert report.group_names() == []
    assert report.divisive.empty
    assert report.representative.empty
    assert any("no opinion groups" in note for note in report.notes)


def test_people_with_few_reactions_count_but_are_not_grouped() -> None:
    data, _ = planted()
    extra = pd.DataFrame(
        [(999, 0, 1, START), (999, 1, -1, START), (999, 2, 1, START)],
        columns=["participant", "idea", "vote", "at"],
    )
    people = pd.concat(
        [data.participants, pd.DataFrame({"school": [""], "language": [""]}, index=[999])]
    )
    data = ExchangeVotes(
        data.activity,
        data.topic,
        data.description,
        data.ideas,
        pd.concat([data.votes, extra]),
        people,
    )
    report = analyse_exchange(data, threshold=10)
    assert report.opinion.in_conversation == 90
    assert report.groups.set_index("group").at[NOT_GROUPED, "people"] == 1
    assert "(unknown)" in set(report.by_school["school"])
    assert report.ideas.set_index("idea").at[0, "reactions"] == 91


def test_only_approved_ideas_are_analysed() -> None:
    data, _ = planted()
    ideas = data.ideas.copy()
    ideas.loc[ideas["number"] == 3, "status"] = "rejected"
    ideas.loc[ideas["number"] == 4, "status"] = "pending"
    report = analyse_exchange(
        ExchangeVotes(data.activity, data.topic, "", ideas, data.votes, data.participants), 10
    )
    assert not {3, 4} & set(report.ideas["idea"])
    assert len(report.ideas) == IDEAS - 2


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [(8, 10, 0.4902, 0.9433), (0, 10, 0.0, 0.2775), (50, 100, 0.4038, 0.5962), (0, 0, 0.0, 1.0)],
    ids=["8-of-10", "none", "half", "no-trials"],
)
def test_the_wilson_interval(successes: int, trials: int, low: float, high: float) -> None:
    found_low, found_high = wilson_interval(np.array([successes]), np.array([trials]))
    assert (found_low[0], found_high[0]) == (
        pytest.approx(low, abs=1e-4),
        pytest.approx(high, abs=1e-4),
    )


def test_public_tables_hide_small_counts_and_what_derives_from_them() -> None:
    report = analyse_exchange(planted()[0], threshold=10)
    tables = public_tables(report)
    hidden = "<10"
    for name in ("ideas", "by_group", "by_school", "by_language"):
        frame = tables[name]
        for row in frame.to_dict("records"):
            counts = [row["agree"], row["disagree"], row["pass"]]
            shown = [c for c in counts if c != hidden]
            assert all(c >= 10 for c in shown), (name, row)
            lone = sum(c == hidden for c in counts) == 1 and row["reactions"] != hidden
            assert not lone, (name, row)
            if row["agree"] == hidden or row["reactions"] == hidden:
                assert row["agreement"] == hidden and row["agreement_low"] == hidden
    assert "group_aware_consensus" not in tables["ideas"]
    assert "z" not in tables["representative"]
    # Every idea's "not grouped" row is there, so no group's cell is a difference.
    assert NOT_GROUPED in set(tables["by_group"]["group"])


def test_a_count_hidden_in_one_school_hides_another_so_the_total_does_not_give_it_away() -> None:
    report = analyse_exchange(planted()[0], threshold=10)
    by_school = public_tables(report)["by_school"]
    for _, frame in by_school.melt(
        id_vars=["idea", "school"], value_vars=["agree", "disagree", "pass"]
    ).groupby(["idea", "variable"]):
        assert (frame["value"] == "<10").sum() != 1


def test_text_that_looks_like_a_formula_is_kept_as_text() -> None:
    assert safe_text('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert safe_text("-more buses") == "'-more buses"
    assert safe_text("More buses") == "More buses"


# -- Polis's export files -------------------------------------------------------------

COLUMNS = {
    "comments.csv": [
        "timestamp",
        "datetime",
        "comment-id",
        "author-id",
        "agrees",
        "disagrees",
        "moderated",
        "comment-body",
    ],
    "votes.csv": ["timestamp", "datetime", "comment-id", "voter-id", "vote"],
    "participants-votes.csv": [
        "participant",
        "group-id",
        "n-comments",
        "n-votes",
        "n-agree",
        "n-disagree",
    ],
    "comment-groups.csv": [
        "comment-id",
        "comment",
        "total-votes",
        "total-agrees",
        "total-disagrees",
        "total-passes",
    ],
}
SUMMARY_KEYS = [
    "topic",
    "url",
    "views",
    "voters",
    "voters-in-conv",
    "commenters",
    "comments",
    "groups",
    "conversation-description",
]


def _exported(tmp_path: Path) -> tuple[ExchangeVotes, Path]:
    data, _ = planted()
    ideas = pd.concat(
        [
            data.ideas,
            pd.DataFrame(
                {
                    "number": [IDEAS, IDEAS + 1, IDEAS + 2],
                    "status": ["approved", "rejected", "pending"],
                    "reviewed": [False, True, False],
                    "text": ["=1+1 more recess", "call 555-0134", "Later buses"],
                    "language": ["es", "en", "en"],
                    "author": [1, 2, 3],
                    "created_at": [START] * 3,
                    "is_seed": [False] * 3,
                }
            ),
        ],
        ignore_index=True,
    )
    data = ExchangeVotes(
        data.activity,
        data.topic,
        "Line one\nline two",
        ideas,
        data.votes,
        data.participants,
        "https://example.org/x",
        120,
    )
    report = analyse_exchange(data, threshold=10)
    write_polis_export(data, report, tmp_path)
    return data, tmp_path


def test_polis_files_have_polis_columns(tmp_path: Path) -> None:
    data, folder = _exported(tmp_path)
    for name, columns in COLUMNS.items():
        frame = pd.read_csv(folder / name)
        assert list(frame.columns[: len(columns)]) == columns, name
    participants = pd.read_csv(folder / "participants-votes.csv")
    assert list(participants.columns[6:]) == [str(n) for n in data.ideas["number"]]
    groups = pd.read_csv(folder / "comment-groups.csv")
    assert list(groups.columns[6:]) == [
        f"group-{g}-{part}" for g in "abc" for part in ("votes", "agrees", "disagrees", "passes")
    ]
    summary = pd.read_csv(folder / "summary.csv", header=None, index_col=0)[1]
    assert list(summary.index) == SUMMARY_KEYS


def test_polis_files_hold_every_vote_and_idea(tmp_path: Path) -> None:
    data, folder = _exported(tmp_path)
    votes = pd.read_csv(folder / "votes.csv")
    assert len(votes) == len(data.votes)
    assert set(votes["vote"]) == {-1, 0, 1}
    first = data.votes.sort_values("at").iloc[0]
    assert (votes.at[0, "timestamp"], votes.at[0, "datetime"]) == polis_time(first["at"])
    comments = pd.read_csv(folder / "comments.csv", keep_default_na=False).set_index("comment-id")
    assert comments.at[0, "agrees"] == int((data.votes.query("idea == 0")["vote"] == 1).sum())
    assert comments.at[0, "moderated"] == 1
    assert comments.at[IDEAS, "moderated"] == 0  # live, not yet reviewed by a person
    assert comments.at[IDEAS + 1, "moderated"] == -1
    assert comments.at[IDEAS + 1, "comment-body"] == ""  # what a moderator took out stays out
    assert comments.at[IDEAS, "comment-body"] == "'=1+1 more recess"
    assert comments.at[0, "author-id"] == 0


def test_participants_votes_match_the_votes(tmp_path: Path) -> None:
    data, folder = _exported(tmp_path)
    table = pd.read_csv(folder / "participants-votes.csv").set_index("participant")
    assert len(table) == data.votes["participant"].nunique()
    for row in data.votes.sample(200, random_state=1).itertuples():
        assert table.at[row.participant, str(row.idea)] == row.vote
    assert table[str(IDEAS + 2)].isna().all()
    person = table.loc[1]
    mine = data.votes[data.votes["participant"] == 1]
    assert person["n-votes"] == len(mine)
    assert person["n-agree"] == int((mine["vote"] == 1).sum())
    assert person["n-comments"] == 1
    assert set(table["group-id"].dropna().astype(int)) == {0, 1, 2}


def test_summary_counts_the_conversation(tmp_path: Path) -> None:
    data, folder = _exported(tmp_path)
    summary = pd.read_csv(folder / "summary.csv", header=None, index_col=0)[1]
    assert summary["topic"] == "Belonging"
    assert int(summary["voters"]) == 90
    assert int(summary["voters-in-conv"]) == 90
    assert int(summary["comments"]) == IDEAS + 3
    assert int(summary["commenters"]) == 3
    assert int(summary["groups"]) == 3
    assert int(summary["views"]) == 120
    assert summary["conversation-description"] == "Line one\\nline two"


def test_the_report_writes_its_tables_and_polis_files(tmp_path: Path) -> None:
    data, _ = planted()
    report = analyse_exchange(data, threshold=10)
    files = write_report(data, report, tmp_path / "full", public=False)
    assert "ideas.xlsx" in files and "polis/votes.csv" in files
    sheets = pd.read_excel(tmp_path / "full" / "ideas.xlsx", sheet_name=None)
    assert list(sheets) == ["About", *report.tables()]
    public = write_report(data, report, tmp_path / "public", public=True)
    assert not any(f.startswith("polis/") for f in public)
    by_school = pd.read_csv(tmp_path / "public" / "ideas-by_school.csv")
    assert "<10" in set(by_school["pass"].astype(str))


def test_a_breakdown_too_long_to_scroll_is_a_csv_only_and_the_about_sheet_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.synthesis.ideas as ideas_module

    data, _ = planted()
    report = analyse_exchange(data, threshold=10)
    longest = max(report.tables().items(), key=lambda item: len(item[1]))
    monkeypatch.setattr(ideas_module, "WORKBOOK_ROWS", len(longest[1]) - 1)
    files = write_report(data, report, tmp_path, public=False)
    sheets = pd.read_excel(tmp_path / "ideas.xlsx", sheet_name=None)
    assert longest[0] not in sheets and f"ideas-{longest[0]}.csv" in files
    about = " ".join(str(v) for v in sheets["About"].to_numpy().ravel())
    assert f"{longest[0]}: {len(longest[1]):,} rows, in ideas-{longest[0]}.csv only" in about
