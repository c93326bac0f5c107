"""Why two items are neighbours, in words a shopper understands: the same series, shared
categories, shared words of the title or description, and how many people liked both.

Shared words are picked by their TF-IDF weight in both items (recommender.similarity.word_weights),
and a word most of the catalog's items hold is never one of them."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from recommender.search import fold
from recommender.similarity.series import same_series
from recommender.similarity.word_weights import WordWeights

# Words too common to explain anything (kept here so serving never loads scikit-learn).
STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
nor not now of off on once only or other our ours ourselves out over own same she should so some such than
that the their theirs them themselves then there these they this those through to too under until up upon
very was we were what when where which while who whom why will with would you your yours yourself
yourselves les der die das und la le el los de du des
""".split())

WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
MAX_WORDS = 4
WORDS_CACHED = 200_000


TITLE_WEIGHT = 2  # a word of the title counts as two of the description


def content_words(title: str, description: str) -> frozenset[str]:
    return frozenset(word_counts(f"{title} {description}"))


def word_counts(text: str) -> Counter:
    return Counter(w for w in WORD.findall(fold(text)) if w not in STOP_WORDS)


@dataclass(frozen=True)
class Why:
    categories: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    liked_both: int | None = None
    series: bool = False
    rules: tuple[str, ...] = ()  # what merchandising rules did to the card ("pinned by rule house-brand")

    def as_dict(self) -> dict:
        return {"categories": list(self.categories), "words": list(self.words), "liked_both": self.liked_both,
                "same_series": self.series, "rules": list(self.rules)}

    @property
    def summary(self) -> str:
        """One short line, e.g. 'Same series · Both Animation, Comedy · “toy”, “story” · 52 people liked both'."""
        parts = [note[:1].upper() + note[1:] for note in self.rules]
        parts += ["Same series"] if self.series else []
        if self.categories:
            parts.append("Both " + ", ".join(self.categories))
        if self.words:
            parts.append(", ".join(f"“{w}”" for w in self.words))
        if self.liked_both:
            parts.append(f"{self.liked_both} {'person' if self.liked_both == 1 else 'people'} liked both")
        if not parts:
            return "Similar overall profile"
        return " · ".join(parts)


class Explainer:
    """Explanations for pairs of rows of one index version, read from its memory-mapped files."""

    def __init__(self, table, likes_indptr: np.ndarray, likes_indices: np.ndarray,
                 weights: WordWeights | None = None):
        self.table = table
        self.weights = weights
        self.likes_indptr = likes_indptr
        self.likes_indices = likes_indices
        self.has_likes = len(likes_indices) > 0
        self._titles_cache: dict[int, frozenset[str]] = {}
        self._descriptions_cache: dict[int, frozenset[str]] = {}

    def words(self, row: int) -> Counter:
        """The row's words, each with its count (a title word counts TITLE_WEIGHT times)."""
        title = self._title_words(row)
        return Counter({w: TITLE_WEIGHT * n for w, n in title.items()}) + self._description_words(row)

    def _title_words(self, row: int) -> Counter:
        return self._cached(self._titles_cache, row, lambda: word_counts(self.table.title(row)))

    def _description_words(self, row: int) -> Counter:
        return self._cached(self._descriptions_cache, row, lambda: word_counts(self.table.description(row)))

    def _weight(self, word: str, count: int) -> float:
        return (1.0 + math.log(count)) * self.weights.idf(word)

    def shared_words(self, words_a: Counter, words_b: Counter, title_b: Counter) -> tuple[str, ...]:
        """Up to MAX_WORDS words both items hold, heaviest first by the lighter of their two TF-IDF
        weights; words most items hold are left out. A version without weights keeps the older order:
        title words first, then alphabetical."""
        shared = words_a.keys() & words_b.keys()
        if self.weights is None:
            return tuple(sorted(shared, key=lambda w: (w not in title_b, w))[:MAX_WORDS])
        kept = [w for w in shared if not self.weights.is_common(w)]
        weight = {w: min(self._weight(w, words_a[w]), self._weight(w, words_b[w])) for w in kept}
        return tuple(sorted(kept, key=lambda w: (-weight[w], w))[:MAX_WORDS])

    @staticmethod
    def _cached(cache: dict, row: int, compute) -> frozenset[str]:
        """Words of a row, computed once per process; the cache stops growing at WORDS_CACHED rows."""
        found = cache.get(row)
        if found is None:
            found = compute()
            if len(cache) < WORDS_CACHED:
                cache[row] = found
        return found

    def liked_both(self, a: int, b: int) -> int:
        users_a = self.likes_indices[self.likes_indptr[a]:self.likes_indptr[a + 1]]
        users_b = self.likes_indices[self.likes_indptr[b]:self.likes_indptr[b + 1]]
        if not len(users_a) or not len(users_b):
            return 0
        return int(np.intersect1d(users_a, users_b, assume_unique=True).size)

    def for_item(self, a: int):
        """why(b) for neighbours b of item a; what is known of a is read once."""
        categories_a = set(self.table.categories(a))
        words_a = self.words(a)
        title_a = self.table.title(a)

        def why(b: int) -> Why:
            shared_categories = tuple(c for c in self.table.categories(b) if c in categories_a)
            words = self.shared_words(words_a, self.words(b), self._title_words(b))
            return Why(shared_categories, words, self.liked_both(a, b) if self.has_likes else None,
                       same_series(title_a, self.table.title(b)))
        return why
