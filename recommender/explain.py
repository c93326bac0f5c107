"""Why two items are neighbours, in words a shopper understands: shared categories, shared words
of the title or description, and how many people liked both."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from recommender.search import fold

WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
MAX_WORDS = 4


def content_words(title: str, description: str) -> frozenset[str]:
    return frozenset(w for w in WORD.findall(fold(f"{title} {description}")) if w not in ENGLISH_STOP_WORDS)


@dataclass(frozen=True)
class Why:
    categories: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    liked_both: int | None = None

    def as_dict(self) -> dict:
        return {"categories": list(self.categories), "words": list(self.words), "liked_both": self.liked_both}

    @property
    def summary(self) -> str:
        """One short line, e.g. 'Both Animation, Comedy · “toy”, “story” · 52 people liked both'."""
        parts = []
        if self.categories:
            parts.append("Both " + ", ".join(self.categories))
        if self.words:
            parts.append(", ".join(f"“{w}”" for w in self.words))
        if self.liked_both:
            parts.append(f"{self.liked_both} {'person' if self.liked_both == 1 else 'people'} liked both")
        return " · ".join(parts) if parts else "Similar overall profile"


class Explainer:
    """Explanations for pairs of rows of one index version."""

    def __init__(self, categories: list[tuple[str, ...]], titles: list[str], descriptions: list[str],
                 likes: sparse.csr_matrix):
        self.categories = categories
        self.titles = titles
        self.descriptions = descriptions
        self.likes = likes.tocsr()
        self.has_likes = self.likes.shape[1] > 0
        self._words: dict[int, frozenset[str]] = {}

    def words(self, row: int) -> frozenset[str]:
        found = self._words.get(row)
        if found is None:
            found = content_words(self.titles[row], self.descriptions[row])
            if len(self._words) < 200_000:
                self._words[row] = found
        return found

    def liked_both(self, a: int, b: int) -> int:
        likes = self.likes
        users_a = likes.indices[likes.indptr[a]:likes.indptr[a + 1]]
        users_b = likes.indices[likes.indptr[b]:likes.indptr[b + 1]]
        if not len(users_a) or not len(users_b):
            return 0
        return int(np.intersect1d(users_a, users_b, assume_unique=True).size)

    def why(self, a: int, b: int) -> Why:
        shared_categories = tuple(c for c in self.categories[b] if c in set(self.categories[a]))
        title_words = content_words(self.titles[b], "")
        shared = self.words(a) & self.words(b)
        ordered = sorted(shared, key=lambda w: (w not in title_words, w))[:MAX_WORDS]
        return Why(shared_categories, tuple(ordered), self.liked_both(a, b) if self.has_likes else None)
