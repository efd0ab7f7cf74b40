"""Themes in free text: what families keep saying, in each language, with their words.

The method (docs/synthesis.md): TF-IDF over words and word pairs (characters
for languages written without spaces), texts that say the same thing merged
and weighted, k-means on the normalized vectors (reduced by LSA when the
vocabulary is large), and k chosen by the best cosine silhouette among
2..`max_themes` with at least three texts a theme. Each theme keeps its most
characteristic terms, its size, and the quotes nearest its centre. Every
random step has a fixed seed, so the same texts give the same themes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import normalize

from bot.core.vocabulary import language_pack

__all__ = ["Theme", "find_themes", "stop_words"]

SEED = 0
# Fewer texts than this are one theme: there is nothing to split.
MIN_TEXTS_TO_SPLIT = 6
MIN_TEXTS_PER_THEME = 3
# Beyond this many distinct texts, LSA first (k-means on 100 dense dimensions).
LSA_ABOVE = 300
LSA_DIMENSIONS = 50
# k is chosen on at most this many distinct texts (a fixed-seed sample), then
# the chosen k is fitted on all of them.
CHOOSE_ON = 1000
RESTARTS = 4
# Languages written without spaces between words: character n-grams instead.
UNSPACED = frozenset({"zh", "ja", "th", "lo", "km", "my"})


# Words that carry no theme: each language file's themes.stop_words, and scikit-learn's
# English list.
@cache
def stop_words(language: str) -> frozenset[str]:
    """The words left out of `language`'s themes."""
    pack = language_pack(language)
    listed = frozenset(pack.words["stop_words"]) if pack is not None else frozenset()
    return listed | frozenset(ENGLISH_STOP_WORDS) if language == "en" else listed


_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Theme:
    """One theme: its characteristic terms, how many texts, and up to three quotes.

    `members` are indexes into the texts given to `find_themes`. A theme with
    no terms holds answers with no distinctive word at all ("no", "ok").
    """

    terms: tuple[str, ...]
    size: int
    quotes: tuple[str, ...]
    members: tuple[int, ...]


def _normalized(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _vectorizer(language: str, texts: int) -> TfidfVectorizer:
    """`texts` counts distinct texts: document frequencies are over them."""
    base = language.split("-")[0].lower()
    common: dict[str, Any] = {
        "lowercase": True,
        "sublinear_tf": True,
        # A term in a single text of many says nothing about a theme.
        "min_df": 2 if texts >= 50 else 1,
        "max_df": 0.9 if texts >= 20 else 1.0,
        "dtype": np.float64,
    }
    if base in UNSPACED:
        return TfidfVectorizer(analyzer="char", ngram_range=(2, 3), **common)
    stop = stop_words(base)
    return TfidfVectorizer(
        analyzer="word",
        ngram_range=(1, 2),
        token_pattern=r"(?u)\b\w\w+\b",
        stop_words=sorted(stop) if stop else None,
        **common,
    )


def _top_terms(
    weights: np.ndarray, vocabulary: np.ndarray, count: int, unspaced: bool
) -> tuple[str, ...]:
    order = np.lexsort((vocabulary, -weights))
    picked: list[str] = []
    for index in order:
        if weights[index] <= 0 or len(picked) == count:
            break
        term = str(vocabulary[index]).strip()
        if unspaced:
            # Character n-grams overlap: keep only terms that add something.
            if any(term in chosen or chosen in term for chosen in picked):
                continue
        else:
            words = term.split()
            if any(set(words) <= set(chosen.split()) for chosen in picked):
                continue
            # "school bus" says what "bus" said, and more.
            picked = [chosen for chosen in picked if not set(chosen.split()) <= set(words)]
        picked.append(term)
    return tuple(picked)


def _kmeans(points: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    model = KMeans(n_clusters=k, n_init=RESTARTS, random_state=SEED)
    return np.asarray(model.fit_predict(points, sample_weight=weights), dtype=np.int64)


def _choose_k(points: np.ndarray, weights: np.ndarray, most: int) -> int:
    """The k in 2..`most` with the best cosine silhouette over the texts; ties go to fewer."""
    rng = np.random.default_rng(SEED)
    if len(points) > CHOOSE_ON:
        sample = np.sort(rng.choice(len(points), CHOOSE_ON, replace=False))
        points, weights = points[sample], weights[sample]
        most = min(most, len(points))
    # Silhouette counts texts, not distinct vectors: repeat each by its weight.
    texts = np.repeat(np.arange(len(points)), weights.astype(np.int64))
    if len(texts) > CHOOSE_ON:
        texts = np.sort(rng.choice(texts, CHOOSE_ON, replace=False))
    best_k, best_score = 1, -2.0
    for k in range(2, most + 1):
        fitted = _kmeans(points, weights, k)
        sizes = np.bincount(fitted, weights=weights, minlength=k)
        if sizes.min() < MIN_TEXTS_PER_THEME:
            continue
        labels = fitted[texts]
        if not 2 <= len(set(labels.tolist())) < len(texts):
            continue
        score = float(silhouette_score(points[texts], labels, metric="cosine"))
        if score > best_score + 1e-9:
            best_k, best_score = k, score
    return best_k


def find_themes(
    texts: Sequence[str],
    language: str = "en",
    *,
    max_themes: int = 8,
    top_terms: int = 6,
    quotes: int = 3,
) -> list[Theme]:
    """The themes of `texts` (all in `language`), biggest first.

    Blank texts are ignored; sizes count every other text once, so they add up
    to the number of non-blank texts. Quotes are distinct texts nearest the
    theme's centre, as written. Deterministic for a given input.
    """
    kept = [(i, _normalized(t)) for i, t in enumerate(texts) if t and t.strip()]
    if not kept:
        return []
    # The same words (whatever the case and spacing) are one point, weighted.
    by_text: dict[str, list[int]] = {}
    for index, text in kept:
        by_text.setdefault(text.casefold(), []).append(index)
    keys = list(by_text)
    unspaced = language.split("-")[0].lower() in UNSPACED
    vectorizer = _vectorizer(language, len(keys))
    try:
        matrix = vectorizer.fit_transform(keys)
    except ValueError:  # every word is a stop word (or too rare): no vocabulary
        units = [_Unit(by_text[key], texts) for key in keys]
        return [_theme((), units, None, quotes)]
    matrix.sort_indices()
    vocabulary = vectorizer.get_feature_names_out()
    rows_by_vector: dict[tuple[bytes, bytes], list[int]] = {}
    wordless: list[_Unit] = []
    for row, key in enumerate(keys):
        vector = matrix[row]
        if vector.nnz == 0:
            wordless.append(_Unit(by_text[key], texts))
        else:
            signature = (vector.indices.tobytes(), vector.data.tobytes())
            rows_by_vector.setdefault(signature, []).append(row)
    groups = list(rows_by_vector.values())
    units = [_Unit([i for row in rows for i in by_text[keys[row]]], texts) for rows in groups]
    themes: list[Theme] = []
    if units:
        sub = matrix[[rows[0] for rows in groups]]
        points = _points(sub)
        weights = np.asarray([unit.size for unit in units], dtype=np.float64)
        total = int(weights.sum())
        most = min(max_themes, len(units), total // MIN_TEXTS_PER_THEME)
        k = 1 if total < MIN_TEXTS_TO_SPLIT or most < 2 else _choose_k(points, weights, most)
        labels = np.zeros(len(units), dtype=np.int64) if k == 1 else _kmeans(points, weights, k)
        for label in sorted(set(labels.tolist())):
            rows = np.flatnonzero(labels == label)
            weight = weights[rows][:, None]
            term_weights = np.asarray(sub[rows].multiply(weight).sum(axis=0)).ravel()
            terms = _top_terms(term_weights / weight.sum(), vocabulary, top_terms, unspaced)
            nearness = points[rows] @ (points[rows] * weight).sum(axis=0)
            themes.append(_theme(terms, [units[r] for r in rows], nearness, quotes))
    if wordless:
        themes.append(_theme((), wordless, None, quotes))
    themes.sort(key=lambda t: (not t.terms, -t.size, t.members[0]))
    return themes


class _Unit:
    """Texts with the same vector: their indexes, and the one to quote."""

    __slots__ = ("indexes", "quote", "size")

    def __init__(self, indexes: list[int], texts: Sequence[str]) -> None:
        self.indexes = sorted(indexes)
        self.size = len(indexes)
        self.quote = texts[self.indexes[0]].strip()


def _points(matrix: Any) -> np.ndarray:
    """Rows as unit vectors for k-means and cosine nearness; LSA when wide and many."""
    if matrix.shape[0] > LSA_ABOVE and matrix.shape[1] > LSA_DIMENSIONS:
        lsa = TruncatedSVD(n_components=LSA_DIMENSIONS, random_state=SEED)
        reduced = lsa.fit_transform(matrix)
        return np.asarray(normalize(reduced))
    return np.asarray(normalize(matrix).toarray())


def _theme(
    terms: tuple[str, ...], units: list[_Unit], nearness: np.ndarray | None, quotes: int
) -> Theme:
    if nearness is None:
        order = sorted(range(len(units)), key=lambda u: (-units[u].size, units[u].indexes[0]))
    else:
        order = sorted(
            range(len(units)), key=lambda u: (-round(float(nearness[u]), 9), units[u].indexes[0])
        )
    indexes = sorted(i for unit in units for i in unit.indexes)
    return Theme(
        terms=terms,
        size=len(indexes),
        quotes=tuple(units[u].quote for u in order[:quotes]),
        members=tuple(indexes),
    )
