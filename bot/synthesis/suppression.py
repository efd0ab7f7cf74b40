"""Small-cell suppression for anything published: no family can be picked out by a count.

The rule (docs/synthesis.md): in a public table every count below the
threshold (ENGAGE_SUPPRESSION_THRESHOLD, default 10), zero included, is shown
as "<10", and so is every figure computed from it (a share, a mean, a rate).

Hiding the small cells is not enough where published numbers add up: the
respondents of one school are the district's respondents minus the other
schools', and a school's mean follows from the district's mean and n. So a
`Disclosure` knows every count a set of tables publishes *and* every sum
that ties them together (the options of a question add up to its
respondents; the schools add up to the district; a scale's score sums add up
like its n), and `protect` hides more cells until no hidden one can be
worked out from the published ones: first, until no sum has exactly one
hidden member (complementary suppression, the next smallest cell going
too); then, until no hidden cell is fixed by any combination of the sums
(checked by linear algebra, so a chain of subtractions across tables finds
nothing either).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_THRESHOLD", "Disclosure", "marker", "suppress"]

DEFAULT_THRESHOLD = 10

Key = Hashable


def marker(threshold: int) -> str:
    """What a hidden cell shows."""
    return f"<{threshold}"


def suppress(
    frame: pd.DataFrame,
    threshold: int,
    counts: Sequence[str],
    derived: Mapping[str, Sequence[str]] | None = None,
    complements: Sequence[Sequence[str]] = (),
    complement_count: str | None = None,
) -> pd.DataFrame:
    """A copy of one table safe to publish on its own (a `Disclosure` protects several).

    `counts` are the count columns checked against `threshold`; `derived`
    maps a count column to the columns computed from it, hidden with it.
    Each of `complements` names columns that define groups whose
    `complement_count` cells add up to a published total: a group with exactly
    one hidden cell loses its next smallest cell too (repeated until no group
    has a lone hidden cell). Hidden cells read `marker(threshold)`.
    """
    derived = derived or {}
    hidden = {name: frame[name].fillna(0).to_numpy() < threshold for name in counts}
    for name in counts:
        for column in derived.get(name, ()):
            if column in hidden:
                hidden[column] = hidden[column] | hidden[name]
    if complement_count and complements and len(frame):
        mask = hidden[complement_count]
        values = frame[complement_count].fillna(0).to_numpy()
        groupings = [
            list(
                pd.Series(np.arange(len(frame)))
                .groupby(frame[list(columns)].astype(str).agg("\x1f".join, axis=1).to_numpy())
                .indices.values()
            )
            for columns in complements
        ]
        changed = True
        while changed:
            changed = False
            for grouping in groupings:
                for positions in grouping:
                    if mask[positions].sum() == 1 and len(positions) > 1:
                        visible = [p for p in positions if not mask[p]]
                        mask[min(visible, key=lambda p: (values[p], p))] = True
                        changed = True
        hidden[complement_count] = mask
    safe = frame.copy()
    shown = marker(threshold)
    for name in counts:
        mask = hidden[name]
        if not mask.any():
            continue
        for column in (name, *derived.get(name, ())):
            safe[column] = safe[column].astype(object)
            safe.loc[mask, column] = shown
    return safe


@dataclass(frozen=True, slots=True)
class _Relation:
    total: Key
    parts: tuple[tuple[float, Key], ...]

    @property
    def members(self) -> tuple[Key, ...]:
        return (self.total, *(key for _, key in self.parts))


class Disclosure:
    """The counts a set of tables publishes and the sums that tie them together.

    d = Disclosure()
    d.count(("school", "adams"), 4)
    d.count(("school", "lincoln"), 30)
    d.count("district", 34, small=False)
    d.add_up("district", [("school", "adams"), ("school", "lincoln")])
    hidden = d.protect(10)   # both schools: 34 - 30 would give 4 away
    """

    def __init__(self) -> None:
        self.values: dict[Key, float] = {}
        self._checked: set[Key] = set()
        self._relations: list[_Relation] = []
        self._links: list[tuple[Key, ...]] = []

    def count(self, key: Key, value: float, *, small: bool = True) -> Key:
        """A published number; with `small`, it is hidden when under the threshold.

        A number that is not itself a count of people (a sum of scores, a
        total shown only through shares) is given with `small=False`: it is
        hidden only to protect others.
        """
        self.values[key] = float(value)
        if small:
            self._checked.add(key)
        return key

    def add_up(
        self, total: Key, parts: Iterable[Key], weights: Sequence[float] | None = None
    ) -> None:
        """`total` is the sum of `parts` (each times its weight, 1 by default).

        Ignored unless every key is known and the numbers really do add up:
        only an exact sum lets anyone subtract.
        """
        parts = list(parts)
        weights = list(weights) if weights is not None else [1.0] * len(parts)
        if not parts or any(key not in self.values for key in [total, *parts]):
            return
        added = sum(w * self.values[key] for w, key in zip(weights, parts, strict=True))
        if abs(added - self.values[total]) > 1e-6 * max(1.0, abs(added)):
            return
        self._relations.append(_Relation(total, tuple(zip(weights, parts, strict=True))))

    def same(self, first: Key, second: Key) -> None:
        """Two tables publish one number (the same respondents, the same n)."""
        self.add_up(first, [second])

    def link(self, *keys: Key) -> None:
        """Hidden together: a group's n and the sum of its scores (its mean needs both)."""
        if all(key in self.values for key in keys):
            self._links.append(keys)

    def protect(self, threshold: int) -> frozenset[Key]:
        """Every key to hide so that no hidden number can be worked out from the rest."""
        hidden = {key for key in self._checked if self.values[key] < threshold}
        self._close(hidden)
        while True:
            if self._complement(hidden):
                continue
            before = len(hidden)
            for key, group in self._determined(hidden):
                self._hide_beside(key, group, hidden)
            if len(hidden) == before:
                # Nothing determined, or only what no more hiding can protect (a
                # sum of hidden cells that must be 0); the test of the pack looks for it.
                return frozenset(hidden)

    # -- the two passes ----------------------------------------------------------------

    def _close(self, hidden: set[Key]) -> None:
        changed = True
        while changed:
            changed = False
            for keys in self._links:
                if any(k in hidden for k in keys) and not all(k in hidden for k in keys):
                    hidden.update(keys)
                    changed = True

    def _smallest_visible(self, relation: _Relation, hidden: set[Key]) -> Key | None:
        visible = [key for _, key in relation.parts if key not in hidden]
        if not visible and relation.total not in hidden:
            visible = [relation.total]
        if not visible:
            return None
        return min(visible, key=lambda k: (self.values[k], repr(k)))

    def _complement(self, hidden: set[Key]) -> bool:
        """Hide the next smallest member of every sum with exactly one hidden member."""
        changed = False
        for relation in self._relations:
            if sum(key in hidden for key in relation.members) == 1:
                chosen = self._smallest_visible(relation, hidden)
                if chosen is not None:
                    hidden.add(chosen)
                    self._close(hidden)
                    changed = True
        return changed

    def _hide_beside(self, key: Key, group: list[_Relation], hidden: set[Key]) -> None:
        """`key` can be worked out: hide the smallest visible member of a sum it is in
        (or, when those are all hidden, of another sum that ties it down)."""
        options = [
            chosen
            for relation in group
            if key in relation.members
            and (chosen := self._smallest_visible(relation, hidden)) is not None
        ] or [
            chosen
            for relation in group
            if (chosen := self._smallest_visible(relation, hidden)) is not None
        ]
        if options:
            hidden.add(min(options, key=lambda k: (self.values[k], repr(k))))
            self._close(hidden)

    def _determined(self, hidden: set[Key]) -> list[tuple[Key, list[_Relation]]]:
        """Hidden keys whose value follows from the published ones and the sums, each
        with the sums that tie it to others."""
        relations = [r for r in self._relations if any(k in hidden for k in r.members)]
        found: list[tuple[Key, list[_Relation]]] = []
        for group in _components(relations, hidden):
            unknowns = sorted({k for r in group for k in r.members if k in hidden}, key=repr)
            column = {key: i for i, key in enumerate(unknowns)}
            matrix = np.zeros((len(group), len(unknowns)))
            for row, relation in enumerate(group):
                if relation.total in column:
                    matrix[row, column[relation.total]] += 1.0
                for weight, key in relation.parts:
                    if key in column:
                        matrix[row, column[key]] -= weight
            found += [(unknowns[i], group) for i in _fixed_columns(matrix)]
        return found


def _components(relations: list[_Relation], hidden: set[Key]) -> list[list[_Relation]]:
    """Relations split into groups that share no hidden key (each solved on its own)."""
    parent: dict[Key, Key] = {}

    def root(key: Key) -> Key:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for relation in relations:
        keys = [k for k in relation.members if k in hidden]
        for other in keys[1:]:
            parent[root(other)] = root(keys[0])
    groups: dict[Key, list[_Relation]] = {}
    for relation in relations:
        first = next(k for k in relation.members if k in hidden)
        groups.setdefault(root(first), []).append(relation)
    return list(groups.values())


def _fixed_columns(matrix: np.ndarray) -> list[int]:
    """Columns whose unknown the equations `matrix · x = b` fix to one value."""
    _, singular, rows = np.linalg.svd(matrix)
    tolerance = max(matrix.shape) * np.finfo(float).eps * (singular[0] if singular.size else 0)
    rank = int((singular > max(tolerance, 1e-9)).sum())
    free = rows[rank:]
    if free.shape[0] == 0:
        return list(range(matrix.shape[1]))
    return [j for j in range(matrix.shape[1]) if np.abs(free[:, j]).max() < 1e-8]
