"""Whose voices are missing: response rates against enrollment, per school × language × role.

The rule (docs/synthesis.md): the district-wide rate R is respondents over
enrollment across every enrolled group (a school's own round: every group of
that school). A respondent is a household, counted once in each school it
was heard for. A group (school, language, role) with
n enrolled and r respondents is under-represented when r < ratio × R × n,
that is when its response rate is below `ratio` (default 0.8, the
"four-fifths rule") of the district's. A group nobody in which has answered
is always under-represented once anyone has answered. Respondents whose
school, language or role is unknown, or not in the enrollment figures, are
counted apart as `unmatched`.

The counts come from a `RepresentationStore` (storage.representation);
`under_represented_groups` is what the broadcast audience `under-represented`
targets, and `plan_follow_up` records a follow-up with one exact `engage
broadcast` audience filter per group.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from bot.core.audience import Group
from bot.errors import RepresentationError
from bot.ports import FollowUp, HeardCounts, RepresentationStore

__all__ = [
    "DEFAULT_RATIO",
    "GroupFigures",
    "Representation",
    "follow_up_filters",
    "judge",
    "measure_representation",
    "plan_follow_up",
    "under_represented_groups",
]

DEFAULT_RATIO = 0.8


@dataclass(frozen=True, slots=True)
class GroupFigures:
    group: Group
    enrolled: int
    respondents: int
    expected: float
    under_represented: bool

    @property
    def rate(self) -> float:
        return self.respondents / self.enrolled if self.enrolled else 0.0

    @property
    def gap(self) -> int:
        """How many more respondents would bring the group to the district rate."""
        return max(0, math.ceil(round(self.expected - self.respondents, 9)))


@dataclass(frozen=True, slots=True)
class Representation:
    """Figures for every enrolled group, with the district-wide rate and the rule's ratio."""

    activity: str | None
    ratio: float
    groups: tuple[GroupFigures, ...]
    unmatched: int
    # A school's own round is measured against that school's enrollment only.
    school: str | None = None

    @property
    def enrolled(self) -> int:
        return sum(g.enrolled for g in self.groups)

    @property
    def respondents(self) -> int:
        return sum(g.respondents for g in self.groups)

    @property
    def rate(self) -> float:
        return self.respondents / self.enrolled if self.enrolled else 0.0

    @property
    def under_represented(self) -> tuple[GroupFigures, ...]:
        return tuple(g for g in self.groups if g.under_represented)

    def frame(self, by: tuple[str, ...] = ("school", "language", "role")) -> pd.DataFrame:
        """A table per `by` (a subset of school, language, role), biggest gaps first.

        A row is under-represented when any group in it is; `gap` is how many
        more respondents it would take to bring each of its groups to the
        district-wide rate (a group above it does not make up for one below).
        """
        records = [
            {
                "school": g.group.school,
                "language": g.group.language,
                "role": g.group.role,
                "enrolled": g.enrolled,
                "respondents": g.respondents,
                "expected": g.expected,
                "gap": g.gap,
                "under_represented": g.under_represented,
            }
            for g in self.groups
        ]
        columns = list(by)
        frame = pd.DataFrame.from_records(
            records,
            columns=[
                "school",
                "language",
                "role",
                "enrolled",
                "respondents",
                "expected",
                "gap",
                "under_represented",
            ],
        )
        shown = ["enrolled", "respondents", "response_rate", "index", "gap"]
        if frame.empty:
            return pd.DataFrame(columns=columns + shown + ["under_represented"])
        grouped = (
            frame.groupby(columns, sort=True)
            .agg(
                enrolled=("enrolled", "sum"),
                respondents=("respondents", "sum"),
                expected=("expected", "sum"),
                gap=("gap", "sum"),
                under_represented=("under_represented", "any"),
            )
            .reset_index()
        )
        grouped["response_rate"] = (grouped["respondents"] / grouped["enrolled"]).where(
            grouped["enrolled"] > 0
        )
        grouped["index"] = (grouped["respondents"] / grouped["expected"]).where(
            grouped["expected"] > 0
        )
        grouped["gap"] = grouped["gap"].astype("int64")
        grouped = grouped.sort_values(
            ["under_represented", "gap"] + columns, ascending=[False, False] + [True] * len(columns)
        ).reset_index(drop=True)
        return grouped[columns + shown + ["under_represented"]]


def judge(
    activity: str | None, counts: HeardCounts, ratio: float = DEFAULT_RATIO
) -> Representation:
    """Apply the rule to the store's counts: each enrolled group's figures and its flag."""
    enrolled = dict(counts.enrolled)
    heard = counts.respondents
    unmatched = counts.unknown + sum(n for g, n in heard.items() if g not in enrolled)
    total_enrolled = sum(enrolled.values())
    total_heard = sum(heard.get(g, 0) for g in enrolled)
    rate = total_heard / total_enrolled if total_enrolled else 0.0
    groups = []
    for group in sorted(enrolled):
        n = enrolled[group]
        r = heard.get(group, 0)
        expected = rate * n
        groups.append(
            GroupFigures(
                group=group,
                enrolled=n,
                respondents=r,
                expected=expected,
                under_represented=n > 0 and r < ratio * expected,
            )
        )
    return Representation(activity, ratio, tuple(groups), unmatched, counts.school)


def measure_representation(
    store: RepresentationStore, activity_key: str | None = None, *, ratio: float = DEFAULT_RATIO
) -> Representation:
    """Response rates against enrollment for `activity_key` (or any activity, when None).

    Raises RepresentationError when no enrollment is imported or the activity
    is unknown.
    """
    return judge(activity_key, store.heard(activity_key), ratio)


def under_represented_groups(
    store: RepresentationStore, activity_key: str | None = None, *, ratio: float = DEFAULT_RATIO
) -> list[Group]:
    """The (school, language, role) groups under-represented in `activity_key`, sorted.

    Empty when nobody has answered yet (no rate to compare with).
    """
    report = measure_representation(store, activity_key, ratio=ratio)
    return [g.group for g in report.under_represented]


def follow_up_filters(activity_key: str, groups: Sequence[Group]) -> tuple[str, ...]:
    """One `engage broadcast` filter per group: its people who have not answered yet."""
    return tuple(
        f"school={g.school},language={g.language},role={g.role},not-answered={activity_key}"
        for g in groups
    )


def plan_follow_up(
    store: RepresentationStore,
    activity_key: str,
    actor: str,
    now: datetime,
    *,
    ratio: float = DEFAULT_RATIO,
) -> FollowUp:
    """Plan a follow-up inviting the under-represented groups of `activity_key` again.

    The plan is recorded (audit log, action `follow_up.planned`) with the
    groups, how many people it would reach and one `engage broadcast`
    audience filter per group; nothing is sent until an organizer broadcasts
    it. Raises RepresentationError when no group is under-represented.
    """
    groups = under_represented_groups(store, activity_key, ratio=ratio)
    if not groups:
        raise RepresentationError(f"no group is under-represented in {activity_key}")
    filters = follow_up_filters(activity_key, groups)
    size = store.follow_up_reach(groups, activity_key)
    return store.record_follow_up(activity_key, groups, size, filters, actor, now)
