"""What an idea exchange found: opinion groups, the ideas each group stands for, the ones all share.

The method follows Polis (docs/exchange.md has it in words):

1. The vote matrix: one row per participant, one column per approved idea;
   agree 1, disagree −1, pass 0, no reaction missing.
2. Participants with at least 7 reactions (or as many as there are ideas)
   are "in the conversation" and are grouped; everyone's reactions count in
   the per-idea figures.
3. PCA, two components, on the matrix with each missing cell set to its
   idea's mean (so the centred matrix is sparse: reaction − mean where there
   is one, 0 elsewhere); each participant's projection is scaled by
   √(ideas / their reactions), so people who reacted to few ideas do not
   bunch up in the middle.
4. k-means on the projections for k = 2…5; k is the one with the best
   silhouette (measured on a fixed sample of 4,000 people). A group smaller
   than the suppression threshold is merged into the nearest group before the
   silhouette is measured, so no group anyone sees is small enough to pick a
   family out; when one group is all that is left there are no groups.
5. Per idea: agree, disagree and pass counts; agreement = agree ÷ reactions
   (a pass counts as not agreeing) with a 95 % Wilson interval; the same per
   opinion group, per school and per language.
6. Consensus ideas: a majority agrees in every group (each group with at
   least threshold reactions to it). Divisive ideas: one group mostly agrees
   and another mostly disagrees. Representative ideas of a group: those on
   which it differs from everyone else significantly (90 %, one-sided), as
   Polis's "repness": agreement (or disagreement) in the group against the
   rest, ranked by ra·rat·pa·pat.
7. Top ideas: by group-aware consensus, the product over groups of each
   group's Laplace-smoothed agreement (Polis's own measure), so an idea only
   one large group likes does not come first.

`write_polis_export` writes Polis's open-data files (comments.csv,
votes.csv, participants-votes.csv, comment-groups.csv, summary.csv) with
Polis's own column names, for Polis tooling and researchers.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse

from bot.core.workbook import About, facts, frame_sheet
from bot.core.workbook import write_workbook as write_book

__all__ = [
    "ExchangeVotes",
    "IdeasReport",
    "OpinionGroups",
    "POLIS_FILES",
    "analyse_exchange",
    "group_name",
    "polis_time",
    "public_tables",
    "safe_text",
    "wilson_interval",
    "write_polis_export",
]

# Polis: only people with this many votes (or all the comments there are) are grouped.
MIN_VOTES_TO_GROUP = 7
GROUP_COUNTS = range(2, 6)
SILHOUETTE_SAMPLE = 4000
KMEANS_RUNS = 4
KMEANS_ITERATIONS = 100
SILHOUETTE_CHUNK = 500
# Smaller matrices are decomposed whole (ARPACK wants more columns than components).
DENSE_SVD_LIMIT = 64
WILSON_Z = 1.959964  # 95 %
SIGNIFICANT_Z = 1.281552  # 90 %, one-sided, as Polis
REPRESENTATIVE_PICKS = 5
POLIS_FILES = (
    "comments.csv",
    "votes.csv",
    "participants-votes.csv",
    "comment-groups.csv",
    "summary.csv",
)
# Polis's export writes every time like this (JavaScript's Date.toString in UTC).
POLIS_TIME = "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)"
# A cell that starts with one of these is a formula to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_WRITE = 2000
# More rows than this and a table goes to CSV only, not into ideas.xlsx.
WORKBOOK_ROWS = 5000


@dataclass(frozen=True)
class ExchangeVotes:
    """Everything the analysis reads, as tables (storage.ideas loads them).

    `ideas`: one row per idea, columns `number` (the exchange's own idea
    number, from 0), `status` (pending, approved, rejected), `reviewed`
    (a person decided), `text` (in the exchange's default language when
    translated, else as written), `language` (the one it was written in),
    `author` (participant number; 0 is the organizers, who wrote the seed
    ideas), `created_at`, `is_seed`.

    `votes`: one row per participant and idea, columns `participant`,
    `idea` (number), `vote` (1, −1, 0) and `at`.

    `participants`: indexed by participant number (from 1), columns `school`
    and `language` ("" when not known).
    """

    activity: str
    topic: str
    description: str
    ideas: pd.DataFrame
    votes: pd.DataFrame
    participants: pd.DataFrame
    url: str = ""
    views: int = 0


@dataclass(frozen=True)
class OpinionGroups:
    """Who is in which opinion group.

    `members` are participant numbers, `labels` their group (0 is the largest,
    −1 for people with too few reactions to place), `projection` their place
    on the map (two PCA components, scaled). `merged` counts groups folded
    into a neighbour for being under the threshold.
    """

    members: NDArray[np.int64]
    labels: NDArray[np.int64]
    projection: NDArray[np.float64]
    count: int
    silhouette: float | None
    merged: int
    in_conversation: int


@dataclass(frozen=True)
class IdeasReport:
    """The analysis of one exchange: each a table, ready to write."""

    ideas: pd.DataFrame
    groups: pd.DataFrame
    by_group: pd.DataFrame
    by_school: pd.DataFrame
    by_language: pd.DataFrame
    consensus: pd.DataFrame
    divisive: pd.DataFrame
    representative: pd.DataFrame
    opinion: OpinionGroups
    threshold: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def top(self, count: int) -> pd.DataFrame:
        """The `count` top ideas (see the module docstring, point 7), among those with
        reactions: an idea nobody has judged yet is not a top idea."""
        judged = self.ideas[self.ideas["reactions"] > 0]
        return judged.sort_values(["rank"]).head(count)

    def group_splits(self) -> dict[int, float | None]:
        """Per idea number, the highest group's agreement minus the lowest's (None without
        groups): what the next-idea rule (bot.core.ideas) reads as "splits groups"."""
        columns = [f"agreement_{name}" for name in self.group_names()]
        if len(columns) < 2:
            return {int(n): None for n in self.ideas["idea"]}
        agreement = self.ideas[columns]
        spread = agreement.max(axis=1) - agreement.min(axis=1)
        return {
            int(n): (None if pd.isna(v) else float(v))
            for n, v in zip(self.ideas["idea"], spread, strict=True)
        }

    def group_names(self) -> list[str]:
        """The opinion groups' names, largest first; empty when there are none."""
        return [g for g in self.groups["group"] if g != NOT_GROUPED]

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table, by sheet name."""
        return {
            "ideas": self.ideas,
            "consensus": self.consensus,
            "divisive": self.divisive,
            "representative": self.representative,
            "groups": self.groups,
            "by_group": self.by_group,
            "by_school": self.by_school,
            "by_language": self.by_language,
        }


def group_name(index: int) -> str:
    """Group 0 is "A", 1 is "B", … as Polis names them."""
    return chr(ord("A") + index) if index < 26 else f"G{index + 1}"


def wilson_interval(
    successes: NDArray[Any] | float, trials: NDArray[Any] | float, z: float = WILSON_Z
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The Wilson score interval of successes / trials (0 to 1 where there are no trials)."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / n, 0.0)
        denominator = 1.0 + z * z / n
        centre = (p + z * z / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
        low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
        high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    return low, high


def safe_text(value: object) -> object:
    """A text that a spreadsheet will show, not run: one starting like a formula gets a `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def polis_time(moment: datetime) -> tuple[int, str]:
    """A naive-UTC time as Polis exports it: seconds since 1970 and its long text."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return int(aware.timestamp()), aware.strftime(POLIS_TIME)


def polis_times(moments: pd.Series) -> tuple[NDArray[np.int64], NDArray[np.object_]]:
    """`polis_time` of many naive-UTC times at once (a million in a second)."""
    values = pd.to_datetime(moments).to_numpy("datetime64[s]")
    seconds = values.astype(np.int64)
    days = values.astype("datetime64[D]")
    unique_days, day_index = np.unique(days, return_inverse=True)
    day_texts = np.array(
        [pd.Timestamp(d).strftime("%a %b %d %Y ") for d in unique_days], dtype=object
    )
    of_day = (values - days).astype(np.int64)
    clock = np.array(
        [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)], dtype=object
    )
    texts = day_texts[day_index] + clock[of_day] + POLIS_TIME[POLIS_TIME.index(" GMT") :]
    return seconds, np.asarray(texts, dtype=object)


# -- the analysis --------------------------------------------------------------------


@dataclass(frozen=True)
class _Matrix:
    """The vote matrix of approved ideas, as sparse arrays."""

    participants: NDArray[np.int64]  # row -> participant number
    ideas: NDArray[np.int64]  # column -> idea number
    rows: NDArray[np.int64]
    columns: NDArray[np.int64]
    values: NDArray[np.float64]


def _matrix(data: ExchangeVotes) -> _Matrix:
    approved = np.sort(
        data.ideas.loc[data.ideas["status"] == "approved", "number"].to_numpy(np.int64)
    )
    votes = data.votes
    idea_numbers = votes["idea"].to_numpy(np.int64)
    keep = np.isin(idea_numbers, approved)
    people = votes["participant"].to_numpy(np.int64)[keep]
    participants = np.unique(people)
    return _Matrix(
        participants=participants,
        ideas=approved,
        rows=np.searchsorted(participants, people),
        columns=np.searchsorted(approved, idea_numbers[keep]),
        values=votes["vote"].to_numpy(np.float64)[keep],
    )


def _principal_axes(matrix: sparse.csr_matrix, seed: int) -> NDArray[np.float64]:
    """The two leading right singular vectors of `matrix` (rows), signs fixed so that each
    one's largest loading is positive: the same map every time."""
    rows, columns = matrix.shape
    wanted = min(2, rows, columns)
    if min(rows, columns) <= DENSE_SVD_LIMIT:
        _, _, axes = np.linalg.svd(matrix.toarray(), full_matrices=False)
        axes = axes[:wanted]
    else:
        from scipy.sparse.linalg import svds

        start = np.random.default_rng(seed).uniform(-1, 1, size=min(rows, columns))
        _, values, axes = svds(matrix, k=wanted, v0=start)
        axes = axes[np.argsort(-values)]
    signs = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    if len(axes) < 2:
        axes = np.vstack([axes, np.zeros((2 - len(axes), columns))])
    return np.asarray(axes, dtype=np.float64)


def _project(matrix: _Matrix, grouped: NDArray[np.bool_], seed: int) -> NDArray[np.float64]:
    """Two PCA components of the mean-imputed matrix, scaled by sparsity (module docstring)."""
    n_rows, n_columns = len(matrix.participants), len(matrix.ideas)
    sums = np.bincount(matrix.columns, weights=matrix.values, minlength=n_columns)
    counts = np.bincount(matrix.columns, minlength=n_columns)
    means = np.divide(sums, counts, out=np.zeros(n_columns), where=counts > 0)
    centred = sparse.csr_matrix(
        (matrix.values - means[matrix.columns], (matrix.rows, matrix.columns)),
        shape=(n_rows, n_columns),
    )
    axes = _principal_axes(centred[grouped] if grouped.any() else centred, seed)
    projection = np.asarray(centred @ axes.T)
    reactions = np.bincount(matrix.rows, minlength=n_rows)
    scale = np.sqrt(n_columns / np.maximum(reactions, 1))
    return np.asarray(projection * scale[:, None], dtype=np.float64)


def _merge_small(
    points: NDArray[np.float64], labels: NDArray[np.int64], threshold: int
) -> tuple[NDArray[np.int64], int]:
    """Fold each group under `threshold` into the group with the nearest centre; renumber by size."""
    labels = labels.copy()
    merged = 0
    while True:
        present, sizes = np.unique(labels, return_counts=True)
        if len(present) < 2 or sizes.min() >= threshold:
            break
        smallest = present[np.argmin(sizes)]
        centres = {g: points[labels == g].mean(axis=0) for g in present}
        nearest = min(
            (g for g in present if g != smallest),
            key=lambda g: float(np.linalg.norm(centres[g] - centres[smallest])),
        )
        labels[labels == smallest] = nearest
        merged += 1
    present, sizes = np.unique(labels, return_counts=True)
    order = present[np.argsort(-sizes, kind="stable")]
    renumber = np.zeros(int(present.max()) + 1, dtype=np.int64)
    renumber[order] = np.arange(len(order))
    return renumber[labels], merged


def _squared_distances(
    points: NDArray[np.float64], centres: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Every point's squared distance to every centre, one coordinate at a time (fast in 2-D)."""
    total = np.zeros((len(points), len(centres)))
    for axis in range(points.shape[1]):
        total += (points[:, axis, None] - centres[None, :, axis]) ** 2
    return total


def _centres(
    points: NDArray[np.float64], labels: NDArray[np.int64], previous: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Each cluster's mean; a cluster left empty keeps its previous centre."""
    k = len(previous)
    sizes = np.bincount(labels, minlength=k)
    sums = np.stack(
        [np.bincount(labels, weights=points[:, a], minlength=k) for a in range(points.shape[1])],
        axis=1,
    )
    return np.where(sizes[:, None] > 0, sums / np.maximum(sizes, 1)[:, None], previous)


def _kmeans(points: NDArray[np.float64], k: int, seed: int) -> NDArray[np.int64]:
    """k-means (k-means++ starts, Lloyd's iterations), the best of a few runs by inertia."""
    rng = np.random.default_rng(seed)
    best: tuple[float, NDArray[np.int64]] | None = None
    for _ in range(KMEANS_RUNS):
        centres = points[[rng.integers(len(points))]]
        while len(centres) < k:
            nearest = _squared_distances(points, centres).min(axis=1)
            total = nearest.sum()
            if total <= 0:
                break
            centres = np.vstack([centres, points[rng.choice(len(points), p=nearest / total)]])
        if len(centres) < k:
            return np.zeros(len(points), dtype=np.int64)
        for _ in range(KMEANS_ITERATIONS):
            labels = _squared_distances(points, centres).argmin(axis=1)
            moved = _centres(points, labels, centres)
            if np.allclose(moved, centres, rtol=0, atol=1e-10):
                break
            centres = moved
        distances = _squared_distances(points, centres)
        labels = distances.argmin(axis=1)
        inertia = float(distances[np.arange(len(points)), labels].sum())
        if best is None or inertia < best[0]:
            best = (inertia, labels.astype(np.int64))
    assert best is not None
    return best[1]


def _silhouette(points: NDArray[np.float64], labels: NDArray[np.int64], seed: int) -> float:
    """The mean silhouette of a fixed random sample of the points (all of them when few)."""
    rng = np.random.default_rng(seed)
    if len(points) > SILHOUETTE_SAMPLE:
        chosen = np.sort(rng.choice(len(points), size=SILHOUETTE_SAMPLE, replace=False))
        points, labels = points[chosen], labels[chosen]
    groups = int(labels.max()) + 1
    sizes = np.bincount(labels, minlength=groups).astype(np.float64)
    members = np.eye(groups)[labels]
    scores = np.zeros(len(points))
    for start in range(0, len(points), SILHOUETTE_CHUNK):
        block = points[start : start + SILHOUETTE_CHUNK]
        distances = np.sqrt(_squared_distances(block, points))
        sums = distances @ members
        own = labels[start : start + SILHOUETTE_CHUNK]
        rows = np.arange(len(block))
        inside = np.where(sizes[own] > 1, sums[rows, own] / np.maximum(sizes[own] - 1, 1), 0.0)
        means = sums / np.maximum(sizes, 1)
        means[rows, own] = np.inf
        means[:, sizes == 0] = np.inf
        outside = means.min(axis=1)
        spread = np.maximum(inside, outside)
        score = np.divide(outside - inside, spread, out=np.zeros(len(block)), where=spread > 0)
        scores[start : start + len(block)] = np.where(sizes[own] > 1, score, 0.0)
    return float(scores.mean())


def _group(
    projection: NDArray[np.float64], grouped: NDArray[np.bool_], threshold: int, seed: int
) -> tuple[NDArray[np.int64], int, float | None, int]:
    """Labels for the grouped rows (−1 elsewhere), the group count, silhouette, merges."""
    labels = np.full(len(projection), -1, dtype=np.int64)
    points = projection[grouped]
    distinct = len(np.unique(points.round(9), axis=0)) if len(points) else 0
    best: tuple[float, NDArray[np.int64], int] | None = None
    for k in GROUP_COUNTS:
        if k > distinct or len(points) < 2 * threshold:
            break
        found = _kmeans(points, k, seed)
        merged_labels, merged = _merge_small(points, found, threshold)
        if len(np.unique(merged_labels)) < 2:
            continue
        score = _silhouette(points, merged_labels, seed)
        if best is None or score > best[0] + 1e-9:
            best = (score, merged_labels, merged)
    if best is None:
        labels[grouped] = 0
        return labels, 1 if grouped.any() else 0, None, 0
    labels[grouped] = best[1]
    return labels, int(best[1].max()) + 1, best[0], best[2]


@dataclass(frozen=True)
class _Counts:
    """agree, disagree and pass counts per (key, idea), each of shape (keys, ideas)."""

    agree: NDArray[np.int64]
    disagree: NDArray[np.int64]
    passed: NDArray[np.int64]

    @property
    def reactions(self) -> NDArray[np.int64]:
        return self.agree + self.disagree + self.passed


def _count(matrix: _Matrix, keys: NDArray[np.int64], n_keys: int) -> _Counts:
    """Counts per key (a group, a school…) and idea; votes whose key is −1 are left out."""
    n_ideas = len(matrix.ideas)
    valid = keys >= 0
    cells = keys[valid] * n_ideas + matrix.columns[valid]
    values = matrix.values[valid]
    size = max(n_keys, 0) * n_ideas

    def tally(chosen: NDArray[np.bool_]) -> NDArray[np.int64]:
        counted = np.bincount(cells[chosen], minlength=size)
        return counted.reshape(max(n_keys, 0), n_ideas).astype(np.int64)

    return _Counts(tally(values > 0), tally(values < 0), tally(values == 0))


def _share(part: NDArray[Any], whole: NDArray[Any]) -> NDArray[np.float64]:
    part = np.asarray(part, dtype=np.float64)
    whole = np.asarray(whole, dtype=np.float64)
    shares = np.divide(part, whole, out=np.full(part.shape, np.nan), where=whole > 0)
    return np.asarray(shares, dtype=np.float64)


def _breakdown(
    counts: _Counts,
    ideas: NDArray[np.int64],
    texts: Mapping[int, str],
    names: Sequence[str],
    by: str,
) -> pd.DataFrame:
    """One row per idea and value of `by` (a group, a school, a language)."""
    n_keys, n_ideas = counts.agree.shape
    reactions = counts.reactions.ravel()
    agree = counts.agree.ravel()
    low, high = wilson_interval(agree, reactions)
    frame = pd.DataFrame(
        {
            "idea": np.tile(ideas, n_keys),
            "text": np.tile(np.array([texts[int(i)] for i in ideas], dtype=object), n_keys),
            by: np.repeat(np.array(list(names), dtype=object), n_ideas),
            "reactions": reactions,
            "agree": agree,
            "disagree": counts.disagree.ravel(),
            "pass": counts.passed.ravel(),
            "agreement": _share(agree, reactions),
            "agreement_low": low,
            "agreement_high": high,
        }
    )
    return frame.sort_values(["idea", by], kind="stable").reset_index(drop=True)


def _codes(values: pd.Series, rows: NDArray[np.int64]) -> tuple[NDArray[np.int64], list[str]]:
    """Each vote's code for its participant's value (a school, a language); the values in order."""
    filled = values.fillna("").astype(str).replace("", UNKNOWN)
    names = sorted(set(filled))
    lookup = {name: code for code, name in enumerate(names)}
    return filled.map(lookup).to_numpy(np.int64)[rows], names


UNKNOWN = "(unknown)"
NOT_GROUPED = "(not grouped)"


def analyse_exchange(data: ExchangeVotes, threshold: int, seed: int = 0) -> IdeasReport:
    """The analysis of an exchange (module docstring); `threshold` is the suppression threshold.

    Deterministic for a given `seed`.
    """
    matrix = _matrix(data)
    texts = {int(k): str(v) for k, v in zip(data.ideas["number"], data.ideas["text"], strict=True)}
    n_people, n_ideas = len(matrix.participants), len(matrix.ideas)
    reactions_each = np.bincount(matrix.rows, minlength=n_people)
    grouped = reactions_each >= min(MIN_VOTES_TO_GROUP, max(n_ideas, 1))
    if n_people and n_ideas:
        projection = _project(matrix, grouped, seed)
        labels, count, silhouette, merged = _group(projection, grouped, threshold, seed)
    else:
        projection = np.zeros((n_people, 2))
        labels, count, silhouette, merged = np.full(n_people, -1, np.int64), 0, None, 0
    notes: list[str] = []
    if count < 2:
        notes.append(
            "no opinion groups: too few people reacted to enough ideas, or every split "
            f"would leave a group smaller than {threshold}"
        )
        labels = np.where(grouped, 0, -1).astype(np.int64)
        count = 1 if grouped.any() else 0
    opinion = OpinionGroups(
        matrix.participants, labels, projection, count, silhouette, merged, int(grouped.sum())
    )
    names = [group_name(g) for g in range(count)] if count > 1 else []
    vote_labels = labels[matrix.rows]
    overall = _count(matrix, np.zeros(len(matrix.rows), np.int64), 1)
    groups = _count(matrix, vote_labels if names else np.full_like(vote_labels, -1), len(names))
    people = data.participants.reindex(matrix.participants)
    school_codes, schools = _codes(people["school"], matrix.rows)
    language_codes, languages = _codes(people["language"], matrix.rows)
    ideas = _ideas_table(data, matrix, overall, groups, names)
    unseen = int((data.ideas["status"] == "approved").sum()) - n_ideas
    if unseen > 0:
        notes.append(f"{unseen} approved ideas have no reactions yet")
    return IdeasReport(
        ideas=ideas,
        groups=_groups_table(opinion, names),
        by_group=_breakdown(groups, matrix.ideas, texts, names, "group"),
        by_school=_breakdown(
            _count(matrix, school_codes, len(schools)), matrix.ideas, texts, schools, "school"
        ),
        by_language=_breakdown(
            _count(matrix, language_codes, len(languages)),
            matrix.ideas,
            texts,
            languages,
            "language",
        ),
        consensus=_consensus(ideas, matrix.ideas, groups, names, threshold),
        divisive=_divisive(ideas, matrix.ideas, groups, names, threshold),
        representative=_representative(matrix.ideas, texts, overall, groups, names),
        opinion=opinion,
        threshold=threshold,
        notes=tuple(notes),
    )


def _ideas_table(
    data: ExchangeVotes, matrix: _Matrix, overall: _Counts, groups: _Counts, names: Sequence[str]
) -> pd.DataFrame:
    info = data.ideas.set_index("number").reindex(matrix.ideas)
    agree, reactions = overall.agree[0], overall.reactions[0]
    low, high = wilson_interval(agree, reactions)
    if names:
        smoothed = (groups.agree + 1) / (groups.reactions + 2)
        aware = smoothed.prod(axis=0)
    else:
        aware = (agree + 1) / (reactions + 2)
    ideas = pd.DataFrame(
        {
            "idea": matrix.ideas,
            "text": info["text"].to_numpy(dtype=object),
            "language": info["language"].to_numpy(dtype=object),
            "seed": info["is_seed"].astype(bool).to_numpy(),
            "reactions": reactions,
            "agree": agree,
            "disagree": overall.disagree[0],
            "pass": overall.passed[0],
            "agreement": _share(agree, reactions),
            "agreement_low": low,
            "agreement_high": high,
            "group_aware_consensus": aware,
        }
    )
    for g, name in enumerate(names):
        ideas[f"agreement_{name}"] = _share(groups.agree[g], groups.reactions[g])
    ideas = ideas.sort_values(
        ["group_aware_consensus", "reactions", "idea"], ascending=[False, False, True]
    )
    ideas.insert(0, "rank", np.arange(1, len(ideas) + 1))
    return ideas.reset_index(drop=True)


def _groups_table(opinion: OpinionGroups, names: Sequence[str]) -> pd.DataFrame:
    rows: list[dict[str, object]] = []
    for g, name in enumerate(names):
        members = opinion.labels == g
        centre = opinion.projection[members].mean(axis=0)
        rows.append(
            {
                "group": name,
                "people": int(members.sum()),
                "x": float(centre[0]),
                "y": float(centre[1]),
            }
        )
    ungrouped = int((opinion.labels < 0).sum()) if names else len(opinion.labels)
    rows.append({"group": NOT_GROUPED, "people": ungrouped, "x": np.nan, "y": np.nan})
    return pd.DataFrame(rows, columns=["group", "people", "x", "y"])


def _consensus(
    ideas: pd.DataFrame,
    numbers: NDArray[np.int64],
    groups: _Counts,
    names: Sequence[str],
    threshold: int,
) -> pd.DataFrame:
    """Ideas a majority agrees with in every group, each group with `threshold` reactions."""
    columns = ["idea", "text", "reactions", "agreement", "lowest_group_agreement"]
    by_idea = ideas.set_index("idea")
    if names:
        shares = _share(groups.agree, groups.reactions)
        enough = (groups.reactions >= threshold).all(axis=0)
        lowest = np.nan_to_num(shares, nan=0.0).min(axis=0)
    else:
        reactions = by_idea["reactions"].reindex(numbers).to_numpy()
        enough = reactions >= threshold
        lowest = np.nan_to_num(by_idea["agreement"].reindex(numbers).to_numpy(), nan=0.0)
    chosen = enough & (lowest > 0.5)
    found = by_idea.loc[numbers[chosen], ["text", "reactions", "agreement"]].copy()
    found["lowest_group_agreement"] = lowest[chosen]
    found = found.reset_index().sort_values(
        ["lowest_group_agreement", "idea"], ascending=[False, True]
    )
    return found[columns].reset_index(drop=True)


def _divisive(
    ideas: pd.DataFrame,
    numbers: NDArray[np.int64],
    groups: _Counts,
    names: Sequence[str],
    threshold: int,
) -> pd.DataFrame:
    """Ideas one group mostly agrees with and another mostly disagrees with."""
    columns = ["idea", "text", "reactions", "agrees_most", "disagrees_most", "spread"]
    if len(names) < 2:
        return pd.DataFrame(columns=columns)
    enough = groups.reactions >= threshold
    agree_share = np.where(enough, _share(groups.agree, groups.reactions), np.nan)
    disagree_share = np.where(enough, _share(groups.disagree, groups.reactions), np.nan)
    agreeing = np.nan_to_num(agree_share, nan=-1.0)
    disagreeing = np.nan_to_num(disagree_share, nan=-1.0)
    chosen = (agreeing.max(axis=0) > 0.5) & (disagreeing.max(axis=0) > 0.5)
    by_idea = ideas.set_index("idea")
    rows = []
    for column in np.flatnonzero(chosen):
        most = int(agreeing[:, column].argmax())
        least = int(disagreeing[:, column].argmax())
        idea = int(numbers[column])
        rows.append(
            {
                "idea": idea,
                "text": by_idea.at[idea, "text"],
                "reactions": int(by_idea.at[idea, "reactions"]),
                "agrees_most": names[most],
                "disagrees_most": names[least],
                "spread": float(agree_share[most, column] - agree_share[least, column]),
            }
        )
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["spread", "idea"], ascending=[False, True]).reset_index(drop=True)


def _one_proportion_z(successes: NDArray[Any], trials: NDArray[Any]) -> NDArray[np.float64]:
    """Polis's test of a proportion against one half, with a pseudo-count."""
    s = np.asarray(successes, np.float64) + 1
    n = np.asarray(trials, np.float64) + 1
    return np.asarray(2 * np.sqrt(n) * (s / n - 0.5), dtype=np.float64)


def _two_proportion_z(
    s_in: NDArray[Any], s_out: NDArray[Any], n_in: NDArray[Any], n_out: NDArray[Any]
) -> NDArray[np.float64]:
    """Polis's two-proportion test (in the group against the rest), with pseudo-counts."""
    s1, s2 = np.asarray(s_in, np.float64) + 1, np.asarray(s_out, np.float64) + 1
    n1, n2 = np.asarray(n_in, np.float64) + 1, np.asarray(n_out, np.float64) + 1
    pooled = (s1 + s2) / (n1 + n2)
    spread = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (s1 / n1 - s2 / n2) / spread
    return np.asarray(np.where(spread > 0, z, 0.0), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _Stand:
    """A group standing apart on one idea: its metric ra·rat·pa·pat and the figures shown."""

    metric: float
    column: int
    stance: str
    share: float
    others: float
    ratio: float
    z: float


def _representative(
    numbers: NDArray[np.int64],
    texts: Mapping[int, str],
    overall: _Counts,
    groups: _Counts,
    names: Sequence[str],
) -> pd.DataFrame:
    """Each group's ideas where it stands apart from everyone else (Polis's repness)."""
    columns = [
        "group",
        "idea",
        "text",
        "stance",
        "group_share",
        "others_share",
        "group_reactions",
        "representativeness",
        "z",
    ]
    rows: list[dict[str, object]] = []
    for g, name in enumerate(names):
        n_in = groups.reactions[g]
        n_out = overall.reactions[0] - n_in
        found: list[_Stand] = []
        for stance, s_in_all, s_total in (
            ("agree", groups.agree, overall.agree[0]),
            ("disagree", groups.disagree, overall.disagree[0]),
        ):
            s_in = s_in_all[g]
            s_out = s_total - s_in
            p_in = (s_in + 1) / (n_in + 2)
            ratio = p_in / ((s_out + 1) / (n_out + 2))
            test = _one_proportion_z(s_in, n_in)
            contrast = _two_proportion_z(s_in, s_out, n_in, n_out)
            significant = (test > SIGNIFICANT_Z) & (contrast > SIGNIFICANT_Z) & (n_in > 0)
            metric = ratio * contrast * p_in * test
            found.extend(
                _Stand(
                    metric=float(metric[c]),
                    column=int(c),
                    stance=stance,
                    share=float(s_in[c] / n_in[c]),
                    others=float(s_out[c] / n_out[c]) if n_out[c] else float("nan"),
                    ratio=float(ratio[c]),
                    z=float(contrast[c]),
                )
                for c in np.flatnonzero(significant)
            )
        best: dict[int, _Stand] = {}
        for stand in sorted(found, key=lambda s: (-s.metric, s.column)):
            best.setdefault(stand.column, stand)
        for stand in list(best.values())[:REPRESENTATIVE_PICKS]:
            idea = int(numbers[stand.column])
            rows.append(
                {
                    "group": name,
                    "idea": idea,
                    "text": texts[idea],
                    "stance": stand.stance,
                    "group_share": stand.share,
                    "others_share": stand.others,
                    "group_reactions": int(n_in[stand.column]),
                    "representativeness": stand.ratio,
                    "z": stand.z,
                }
            )
    return pd.DataFrame(rows, columns=columns)


# -- public tables -------------------------------------------------------------------

VOTES = ("agree", "disagree", "pass")
SHARES = ("agreement", "agreement_low", "agreement_high")


def _is_hidden(value: object) -> bool:
    return isinstance(value, str) and value.startswith("<")


def _publish_counts(frame: pd.DataFrame, threshold: int, by: str | None) -> pd.DataFrame:
    """`frame` (idea[, by], reactions, agree, disagree, pass, shares) with small cells hidden.

    The three counts of a row add up to its reactions, and (with `by`) each
    count adds up across the values of `by` to the idea's published total: a
    lone hidden cell in either sum takes the next smallest with it.
    """
    from bot.synthesis.suppression import suppress

    keys = ["idea", *([by] if by else [])]
    long = frame[[*keys, *VOTES]].melt(id_vars=keys, var_name="vote", value_name="count")
    hidden_votes = suppress(
        long,
        threshold,
        ["count"],
        complements=[keys, *([["idea", "vote"]] if by else [])],
        complement_count="count",
    )
    wide = hidden_votes.pivot_table(
        index=keys, columns="vote", values="count", aggfunc="first", sort=False
    )
    totals = suppress(
        frame[[*keys, "reactions"]],
        threshold,
        ["reactions"],
        complements=[["idea"]] if by else [],
        complement_count="reactions" if by else None,
    )
    safe = frame.copy().astype({name: object for name in ("reactions", *VOTES, *SHARES)})
    merged = safe[keys].merge(wide.reset_index(), on=keys, how="left")
    for name in VOTES:
        safe[name] = merged[name].to_numpy()
    safe["reactions"] = totals["reactions"].to_numpy()
    shown = f"<{threshold}"
    unsafe = safe["agree"].map(_is_hidden) | safe["reactions"].map(_is_hidden)
    for name in SHARES:
        safe.loc[unsafe, name] = shown
    return safe


def _with_not_grouped(report: IdeasReport) -> pd.DataFrame:
    """by_group with a row per idea for the people in no group, so sums hold."""
    by_group = report.by_group
    if by_group.empty:
        return by_group
    summed = by_group.groupby("idea")[["reactions", *VOTES]].sum()
    overall = report.ideas.set_index("idea")[["text", "reactions", *VOTES]]
    rest = overall[["reactions", *VOTES]] - summed.reindex(overall.index).fillna(0).astype(int)
    rest = rest.reset_index()
    rest.insert(1, "text", overall["text"].to_numpy())
    rest.insert(2, "group", NOT_GROUPED)
    rest["agreement"] = _share(rest["agree"].to_numpy(), rest["reactions"].to_numpy())
    low, high = wilson_interval(rest["agree"].to_numpy(), rest["reactions"].to_numpy())
    rest["agreement_low"], rest["agreement_high"] = low, high
    frame = pd.concat([by_group, rest[by_group.columns]], ignore_index=True)
    return frame.sort_values(["idea", "group"], kind="stable").reset_index(drop=True)


def public_tables(report: IdeasReport) -> dict[str, pd.DataFrame]:
    """The tables safe to publish: counts under the threshold hidden, with all they derive."""
    from bot.synthesis.suppression import suppress

    threshold = report.threshold
    shown = f"<{threshold}"
    ideas = report.ideas.drop(
        columns=[c for c in report.ideas.columns if c.startswith("agreement_") and c not in SHARES]
        + ["group_aware_consensus"]
    )
    ideas = _publish_counts(ideas, threshold, None)
    by_group = _publish_counts(_with_not_grouped(report), threshold, "group")
    cell = by_group.set_index(["idea", "group"])

    def group_share_hidden(idea: int, group: str) -> bool:
        row = cell.loc[(idea, group)]
        return _is_hidden(row["agree"]) or _is_hidden(row["reactions"])

    consensus = report.consensus.copy().astype({"lowest_group_agreement": object})
    consensus["agreement"] = consensus["idea"].map(ideas.set_index("idea")["agreement"])
    consensus["reactions"] = consensus["idea"].map(ideas.set_index("idea")["reactions"])
    group_names = report.group_names()
    for index, row in consensus.iterrows():
        if any(group_share_hidden(int(row["idea"]), g) for g in group_names):
            consensus.at[index, "lowest_group_agreement"] = shown
    divisive = report.divisive.copy().astype({"spread": object})
    divisive["reactions"] = divisive["idea"].map(ideas.set_index("idea")["reactions"])
    for index, row in divisive.iterrows():
        idea = int(row["idea"])
        if group_share_hidden(idea, row["agrees_most"]) or group_share_hidden(
            idea, row["disagrees_most"]
        ):
            divisive.at[index, "spread"] = shown
    representative = report.representative.drop(
        columns=["group_reactions", "representativeness", "z"]
    ).astype({"group_share": object, "others_share": object})
    for index, row in representative.iterrows():
        idea, group = int(row["idea"]), str(row["group"])
        count = "agree" if row["stance"] == "agree" else "disagree"
        mine = cell.loc[(idea, group)]
        if _is_hidden(mine[count]) or _is_hidden(mine["reactions"]):
            representative.at[index, "group_share"] = shown
            representative.at[index, "others_share"] = shown
        others = cell.loc[idea]
        others = others[others.index != group]
        if any(_is_hidden(v) for v in (*others[count], *others["reactions"])):
            representative.at[index, "others_share"] = shown
    groups = suppress(report.groups.drop(columns=["x", "y"]), threshold, ["people"])
    groups = _hide_lone(groups, report.groups["people"].to_numpy(), threshold)
    return {
        "ideas": ideas,
        "consensus": consensus,
        "divisive": divisive,
        "representative": representative,
        "groups": groups,
        "by_group": by_group,
        "by_school": _publish_counts(report.by_school, threshold, "school"),
        "by_language": _publish_counts(report.by_language, threshold, "language"),
    }


def _hide_lone(groups: pd.DataFrame, people: NDArray[np.int64], threshold: int) -> pd.DataFrame:
    """Group sizes add up to everyone: one hidden size takes the next smallest with it."""
    hidden = [_is_hidden(v) for v in groups["people"]]
    if sum(hidden) == 1 and len(groups) > 1:
        visible = [i for i, h in enumerate(hidden) if not h]
        smallest = min(visible, key=lambda i: (people[i], i))
        groups = groups.copy()
        groups.at[groups.index[smallest], "people"] = f"<{threshold}"
    return groups


# -- Polis's export files ------------------------------------------------------------


def _moderated(status: str, reviewed: bool) -> int:
    """Polis's moderation value: 1 approved by a person, 0 not reviewed, −1 rejected."""
    if status == "rejected":
        return -1
    return 1 if status == "approved" and reviewed else 0


def _write_rows(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_polis_export(data: ExchangeVotes, report: IdeasReport, directory: Path) -> list[Path]:
    """Write Polis's open-data export files of the exchange into `directory`.

    Column names are Polis's. Participant 0 is the organizers (the seed
    ideas' author); others are numbered from 1, never by a database id. The
    text of a rejected idea is left out: what a moderator took out (a phone
    number, a name) is not passed on.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ideas = data.ideas.sort_values("number")
    votes = data.votes.sort_values(["at", "idea", "participant"], kind="stable")
    numbers = ideas["number"].to_numpy(np.int64)
    vote_ideas = votes["idea"].to_numpy(np.int64)
    vote_values = votes["vote"].to_numpy(np.int64)
    position = np.searchsorted(numbers, vote_ideas)
    agrees = np.bincount(position[vote_values > 0], minlength=len(numbers))
    disagrees = np.bincount(position[vote_values < 0], minlength=len(numbers))
    written = []

    comment_rows = []
    for index, idea in enumerate(ideas.itertuples(index=False)):
        seconds, text = polis_time(idea.created_at)
        rejected = idea.status == "rejected"
        comment_rows.append(
            [
                seconds,
                text,
                int(idea.number),
                int(idea.author),
                int(agrees[index]),
                int(disagrees[index]),
                _moderated(str(idea.status), bool(idea.reviewed)),
                "" if rejected else safe_text(str(idea.text)),
            ]
        )
    written.append(
        _write_rows(
            directory / "comments.csv",
            [
                "timestamp",
                "datetime",
                "comment-id",
                "author-id",
                "agrees",
                "disagrees",
                "moderated",
                "comment-body",
            ],
            comment_rows,
        )
    )

    stamps, texts = polis_times(votes["at"])
    vote_frame = pd.DataFrame(
        {
            "timestamp": stamps,
            "datetime": texts,
            "comment-id": vote_ideas,
            "voter-id": votes["participant"].to_numpy(np.int64),
            "vote": vote_values,
        }
    )
    vote_frame.to_csv(directory / "votes.csv", index=False, encoding="utf-8")
    written.append(directory / "votes.csv")

    written.append(_write_participants_votes(data, votes, report, directory, numbers, position))
    written.append(_write_comment_groups(data, votes, report, directory, numbers, position))

    authors = ideas.loc[~ideas["is_seed"].astype(bool), "author"]
    summary: list[list[object]] = [
        ["topic", safe_text(data.topic)],
        ["url", data.url],
        ["views", data.views],
        ["voters", int(votes["participant"].nunique())],
        ["voters-in-conv", report.opinion.in_conversation],
        ["commenters", int(authors.nunique())],
        ["comments", len(ideas)],
        ["groups", len(report.group_names())],
        ["conversation-description", safe_text(data.description.replace("\n", "\\n"))],
    ]
    with (directory / "summary.csv").open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows(summary)
    written.append(directory / "summary.csv")
    return written


# Each reaction as Polis's participants-votes.csv writes it, comma first; empty for none.
_CELLS = (b",", b",1", b",-1", b",0")


def _write_participants_votes(
    data: ExchangeVotes,
    votes: pd.DataFrame,
    report: IdeasReport,
    directory: Path,
    numbers: NDArray[np.int64],
    position: NDArray[np.int64],
) -> Path:
    people = np.union1d(
        votes["participant"].to_numpy(np.int64),
        data.ideas.loc[~data.ideas["is_seed"].astype(bool), "author"].to_numpy(np.int64),
    )
    row = np.searchsorted(people, votes["participant"].to_numpy(np.int64))
    values = votes["vote"].to_numpy(np.int64)
    n_votes = np.bincount(row, minlength=len(people))
    n_agree = np.bincount(row[values > 0], minlength=len(people))
    n_disagree = np.bincount(row[values < 0], minlength=len(people))
    authored = data.ideas.loc[~data.ideas["is_seed"].astype(bool), "author"].to_numpy(np.int64)
    n_comments = np.bincount(np.searchsorted(people, authored), minlength=len(people))
    group_of = dict(
        zip(report.opinion.members.tolist(), report.opinion.labels.tolist(), strict=True)
    )
    grouped = len(report.group_names()) >= 2
    codes = np.zeros((len(people), len(numbers)), dtype=np.uint8)
    codes[row, position] = np.where(values > 0, 1, np.where(values < 0, 2, 3)).astype(np.uint8)
    widths = np.array([len(c) for c in _CELLS])
    padded = np.zeros((len(_CELLS), 3), dtype=np.uint8)
    for code, cell in enumerate(_CELLS):
        padded[code, : len(cell)] = np.frombuffer(cell, dtype=np.uint8)
    header = ["participant", "group-id", "n-comments", "n-votes", "n-agree", "n-disagree"]
    path = directory / "participants-votes.csv"
    with path.open("wb") as file:
        file.write((",".join([*header, *(str(n) for n in numbers)]) + "\r\n").encode())
        for start in range(0, len(people), ROWS_PER_WRITE):
            stop = min(start + ROWS_PER_WRITE, len(people))
            block = codes[start:stop]
            keep = np.arange(3)[None, None, :] < widths[block][:, :, None]
            cells = padded[block][keep]
            lengths = widths[block].sum(axis=1)
            ends = np.cumsum(lengths)
            raw = cells.tobytes()
            for offset, index in enumerate(range(start, stop)):
                label = group_of.get(int(people[index]), -1)
                group = str(label) if grouped and label >= 0 else ""
                lead = (
                    f"{people[index]},{group},{n_comments[index]},{n_votes[index]},"
                    f"{n_agree[index]},{n_disagree[index]}"
                )
                begin = int(ends[offset] - lengths[offset])
                file.write(lead.encode() + raw[begin : int(ends[offset])] + b"\r\n")
    return path


def _write_comment_groups(
    data: ExchangeVotes,
    votes: pd.DataFrame,
    report: IdeasReport,
    directory: Path,
    numbers: NDArray[np.int64],
    position: NDArray[np.int64],
) -> Path:
    names = report.group_names()
    values = votes["vote"].to_numpy(np.int64)
    group_of = dict(
        zip(report.opinion.members.tolist(), report.opinion.labels.tolist(), strict=True)
    )
    labels = np.array(
        [group_of.get(int(p), -1) for p in votes["participant"].to_numpy(np.int64)],
        dtype=np.int64,
    )
    header = [
        "comment-id",
        "comment",
        "total-votes",
        "total-agrees",
        "total-disagrees",
        "total-passes",
    ]
    for name in names:
        letter = name.lower()
        header += [f"group-{letter}-{part}" for part in ("votes", "agrees", "disagrees", "passes")]

    def tally(mask: NDArray[np.bool_]) -> list[NDArray[np.int64]]:
        at = position[mask]
        chosen = values[mask]
        agree = np.bincount(at[chosen > 0], minlength=len(numbers))
        disagree = np.bincount(at[chosen < 0], minlength=len(numbers))
        passed = np.bincount(at[chosen == 0], minlength=len(numbers))
        return [agree + disagree + passed, agree, disagree, passed]

    columns = tally(np.ones(len(values), dtype=bool))
    for g in range(len(names)):
        columns += tally(labels == g)
    texts = data.ideas.set_index("number")
    rows = []
    for index, number in enumerate(numbers):
        rejected = texts.at[number, "status"] == "rejected"
        body = "" if rejected else safe_text(str(texts.at[number, "text"]))
        rows.append([int(number), body, *(int(c[index]) for c in columns)])
    return _write_rows(directory / "comment-groups.csv", header, rows)


# -- the report's files --------------------------------------------------------------

# Excel holds this many rows in a sheet.
XLSX_MAX_ROWS = 1_048_575


def _safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every text cell safe to open in a spreadsheet (see `safe_text`)."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object:
            safe[column] = safe[column].map(safe_text)
    return safe


IDEA_SHEETS = {
    "ideas": "every idea with its reactions (agree, disagree, pass), agreement and rank",
    "consensus": "ideas a majority agrees with in every opinion group",
    "divisive": "ideas one group mostly agrees with and another mostly disagrees with",
    "representative": "the ideas each opinion group stands for, against everyone else",
    "groups": "the opinion groups and how many people are in each",
    "by_group": "reactions to each idea per opinion group",
    "by_school": "reactions to each idea per school",
    "by_language": "reactions to each idea per language",
}


def write_workbook(
    path: Path,
    sheets: Mapping[str, pd.DataFrame],
    *,
    activity: str = "",
    threshold: int | None = None,
    public: bool = False,
    notes: Sequence[str] = (),
) -> None:
    """An XLSX with an About sheet, then a sheet per frame (bot.core.workbook)."""
    rule = (
        f"PUBLIC: every count under {threshold} shows as <{threshold}, with what it derives"
        if public and threshold is not None
        else "none: internal tables; publish the public report instead"
    )
    about = About(
        title=f"Idea exchange {activity}".strip(),
        facts=facts(
            {
                "Activity": activity,
                "Generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "Suppression": rule,
            }
        ),
        notes=tuple(notes),
    )
    with path.open("wb") as stream:
        write_book(
            stream,
            [frame_sheet(name, IDEA_SHEETS.get(name, ""), frame) for name, frame in sheets.items()],
            about,
        )


def write_report(
    data: ExchangeVotes, report: IdeasReport, directory: Path, *, public: bool
) -> list[str]:
    """Write the report into `directory`; the files written, relative to it.

    `ideas.xlsx` has a sheet per table and each table is a CSV too
    (`ideas-<table>.csv`). A public report has the tables of
    `public_tables` only; otherwise Polis's export files go in `polis/`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    tables = public_tables(report) if public else report.tables()
    files: list[str] = []
    # A breakdown with more rows than anyone scrolls (an idea per school, per group, per
    # language at district scale) is a CSV only; the workbook's About sheet says so.
    sheets = {name: f for name, f in tables.items() if len(f) <= WORKBOOK_ROWS}
    left_out = [name for name in tables if name not in sheets]
    write_workbook(
        directory / "ideas.xlsx",
        sheets,
        activity=data.activity,
        threshold=report.threshold,
        public=public,
        notes=tuple(
            f"{name}: {len(tables[name]):,} rows, in ideas-{name}.csv only" for name in left_out
        ),
    )
    files.append("ideas.xlsx")
    for name, frame in tables.items():
        file = f"ideas-{name}.csv"
        _safe_frame(frame).to_csv(directory / file, index=False, encoding="utf-8")
        files.append(file)
    if not public:
        for path in write_polis_export(data, report, directory / "polis"):
            files.append(f"polis/{path.name}")
    return files
