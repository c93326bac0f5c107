"""Live title search: word-prefix matches first, then one-typo matches, all in memory.

Postings are kept in one array sorted by token, so every token that starts with a prefix is a
single contiguous slice (found by binary search), and a query costs a few slices, not a scan.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
FUZZY_MIN_LENGTH = 5
EXACT, PREFIX, FUZZY = 3, 2, 1
WORD = re.compile(r"\w+", re.UNICODE)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def fold(text: str) -> str:
    """Lower-case without accents, so 'Amélie' is found by 'amelie'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def terms_of(query: str) -> list[str]:
    query = CONTROL.sub(" ", query[:MAX_QUERY_CHARS])
    return WORD.findall(fold(query))[:MAX_TERMS]


def within_one_edit(a: str, b: str) -> bool:
    """Damerau distance at most 1: one insertion, deletion, substitution or adjacent transposition."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) <= 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    return short[i:] == long[i + 1:]


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


@dataclass(frozen=True)
class Highlight:
    """A piece of a title and whether it matched; templates escape the text, so no HTML is built here."""

    text: str
    matched: bool


@dataclass(frozen=True)
class SearchHit:
    row: int
    score: float
    highlights: tuple[Highlight, ...]


class TitleSearch:
    """Ranked, typo-tolerant search over a list of titles; `popularity` breaks ties."""

    def __init__(self, titles: list[str], popularity: np.ndarray | None = None):
        self.titles = titles
        n = len(titles)
        tokens_per_title = [set(WORD.findall(fold(t))) for t in titles]
        postings: dict[str, list[int]] = {}
        for row, tokens in enumerate(tokens_per_title):
            for token in tokens:
                postings.setdefault(token, []).append(row)
        self.vocab = sorted(postings)
        self.token_id = {token: i for i, token in enumerate(self.vocab)}
        lengths = np.fromiter((len(postings[t]) for t in self.vocab), dtype=np.int64, count=len(self.vocab))
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])
        self.rows = np.fromiter((r for t in self.vocab for r in postings[t]), dtype=np.int32,
                                count=int(self.offsets[-1]))
        self.deletion_index: dict[str, list[int]] = {}
        for tid, token in enumerate(self.vocab):
            if len(token) >= FUZZY_MIN_LENGTH - 1:
                for variant in _deletions(token):
                    self.deletion_index.setdefault(variant, []).append(tid)
        pop = np.zeros(n) if popularity is None else np.log1p(np.asarray(popularity, dtype=float))
        top = pop.max() if n and pop.max() > 0 else 1.0
        lengths_penalty = np.array([min(len(t), 200) for t in titles], dtype=float) / 1000.0
        self.tiebreak = (0.4 * pop / top - lengths_penalty).astype(np.float32)
        self.first_token = np.array([self.token_id[w[0]] if (w := WORD.findall(fold(t))) else -1
                                     for t in titles], dtype=np.int64)

    def _rows_of(self, tids) -> np.ndarray:
        if not tids:
            return np.empty(0, dtype=np.int32)
        return np.concatenate([self.rows[self.offsets[t]:self.offsets[t + 1]] for t in tids])

    def _prefix_range(self, term: str) -> tuple[int, int]:
        """Token ids [low, high) of every token that starts with term."""
        return bisect.bisect_left(self.vocab, term), bisect.bisect_left(self.vocab, term + "\U0010ffff")

    def _prefix_rows(self, term: str) -> np.ndarray:
        low, high = self._prefix_range(term)
        return self.rows[self.offsets[low]:self.offsets[high]]

    def _fuzzy_tokens(self, term: str) -> set[int]:
        """Tokens one edit (insert, delete, substitute, transpose) away from a long enough term."""
        if len(term) < FUZZY_MIN_LENGTH:
            return set()
        found: set[int] = set()
        for variant in _deletions(term) | {term}:
            found.update(self.deletion_index.get(variant, ()))
            if variant in self.token_id:
                found.add(self.token_id[variant])
        found.discard(self.token_id.get(term, -1))
        return {t for t in found if within_one_edit(term, self.vocab[t])}

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        terms = terms_of(query)
        if not terms or not self.titles:
            return []
        total = np.zeros(len(self.titles), dtype=np.float32)
        alive = np.ones(len(self.titles), dtype=bool)
        fuzzy_by_term = []
        for term in terms:
            score = np.zeros(len(self.titles), dtype=np.int8)
            fuzzy = self._fuzzy_tokens(term)
            fuzzy_by_term.append({self.vocab[t] for t in fuzzy})
            score[self._rows_of(sorted(fuzzy))] = FUZZY
            score[self._prefix_rows(term)] = PREFIX
            if term in self.token_id:
                score[self._rows_of([self.token_id[term]])] = EXACT
            alive &= score > 0
            total += score
            if not alive.any():
                return []
        candidates = np.flatnonzero(alive)
        low, high = self._prefix_range(terms[0])
        first = self.first_token[candidates]
        keys = total[candidates] + self.tiebreak[candidates] + 0.5 * ((first >= low) & (first < high))
        top = candidates[np.argsort(-keys, kind="stable")[:limit]]
        key_of = dict(zip(candidates.tolist(), keys.tolist()))
        return [SearchHit(int(r), round(key_of[int(r)], 3), highlight(self.titles[r], terms, fuzzy_by_term))
                for r in top]


def highlight(title: str, terms: list[str], fuzzy_by_term: list[set[str]]) -> tuple[Highlight, ...]:
    """Split a title into matched and unmatched pieces: a prefix match marks only the typed part."""
    pieces: list[Highlight] = []
    cursor = 0
    for match in WORD.finditer(title):
        word = fold(match.group())
        marked = 0
        for term, fuzzy in zip(terms, fuzzy_by_term):
            if word == term or word in fuzzy:
                marked = len(match.group())
                break
            if word.startswith(term):
                exact_length = len(word) == len(match.group())
                marked = max(marked, len(term) if exact_length else len(match.group()))
        if marked:
            start = match.start()
            if start > cursor:
                pieces.append(Highlight(title[cursor:start], False))
            pieces.append(Highlight(title[start:start + marked], True))
            cursor = start + marked
    if cursor < len(title):
        pieces.append(Highlight(title[cursor:], False))
    return tuple(pieces)
