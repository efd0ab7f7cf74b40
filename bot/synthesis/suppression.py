"""Small-cell suppression for anything published: no family can be picked out by a count.

The rule (docs/synthesis.md): in a public table every count below the
threshold (ENGAGE_SUPPRESSION_THRESHOLD, default 10), zero included, is shown
as "<10", and so is every figure computed from it (a share, a mean, a rate).
Where the cells of a group add up to a published total (the answers to a
single-choice question in one school), one hidden cell could be worked out by
subtraction, so the next smallest cell of that group is hidden too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_THRESHOLD", "marker", "suppress"]

DEFAULT_THRESHOLD = 10


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
    """A copy of `frame` safe to publish.

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
