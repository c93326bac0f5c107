"""Live title search: word-prefix matches first, then one-typo matches, all in memory.

Postings are kept in one array sorted by token, so every token that starts with a prefix is a
single contiguous slice (found by binary search), and a query costs a few slices, not a scan.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
FUZZY_MIN_LENGTH = 5
EXACT, PREFIX, FUZZY = 3, 2, 1
WORD = re.compile(r"\w+", re.UNICODE)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def fold(text: str) -> str:
    """Lower-case without accents, so 'Amélie' is found by 'amelie'."""
    if text.isascii():
        return text.lower()
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


ARRAYS = ("vocab", "offsets", "rows", "variants", "variant_offsets", "variant_tokens", "first_token", "tiebreak")


def _sorted_groups(keys: list[str], values: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group values by key as three arrays (sorted unique keys, offsets, values), so a key's values
    are one contiguous slice found by binary search, and the arrays can be saved and memory-mapped."""
    if not keys:
        return np.array([], dtype="<U1"), np.zeros(1, dtype=np.int64), np.empty(0, dtype=np.int32)
    key_array = np.array(keys)
    order = np.argsort(key_array, kind="stable")
    key_array = key_array[order]
    unique, starts = np.unique(key_array, return_index=True)
    offsets = np.append(starts, len(key_array)).astype(np.int64)
    return unique, offsets, np.asarray(values, dtype=np.int32)[order]


class TitleSearch:
    """Ranked, typo-tolerant search over titles; `popularity` breaks ties.

    Everything lives in numpy arrays: built once by the worker, saved beside the index, and
    memory-mapped by every web process, so a million titles cost each process almost nothing.
    """

    def __init__(self, titles, popularity: np.ndarray | None = None, arrays: dict | None = None):
        self.titles = titles
        self.__dict__.update(arrays if arrays is not None else self._build(titles, popularity))
        self.size = len(self.first_token)

    @staticmethod
    def _build(titles, popularity) -> dict:
        words = [WORD.findall(fold(t)) for t in titles]
        token_keys, token_rows = [], []
        for row, tokens in enumerate(words):
            for token in set(tokens):
                token_keys.append(token)
                token_rows.append(row)
        vocab, offsets, rows = _sorted_groups(token_keys, token_rows)
        variant_keys, variant_tokens = [], []
        for tid, token in enumerate(vocab.tolist()):
            if len(token) >= FUZZY_MIN_LENGTH - 1:
                for variant in _deletions(token):
                    variant_keys.append(variant)
                    variant_tokens.append(tid)
        variants, variant_offsets, variant_tokens = _sorted_groups(variant_keys, variant_tokens)
        n = len(titles)
        pop = np.zeros(n) if popularity is None else np.log1p(np.asarray(popularity, dtype=float))
        top = pop.max() if n and pop.max() > 0 else 1.0
        length_penalty = np.array([min(len(t), 200) for t in titles], dtype=float) / 1000.0
        first = [w[0] if w else "" for w in words]
        first_ids = np.searchsorted(vocab, np.array(first)) if n and len(vocab) else np.zeros(n, dtype=np.int64)
        first_ids = np.where(np.array([bool(w) for w in words], dtype=bool), first_ids, -1) if n else first_ids
        return {"vocab": vocab, "offsets": offsets, "rows": rows, "variants": variants,
                "variant_offsets": variant_offsets, "variant_tokens": variant_tokens,
                "first_token": np.asarray(first_ids, dtype=np.int64),
                "tiebreak": (0.4 * pop / top - length_penalty).astype(np.float32)}

    def save(self, directory: Path) -> dict[str, int]:
        directory.mkdir(parents=True, exist_ok=True)
        for name in ARRAYS:
            np.save(directory / f"{name}.npy", getattr(self, name))
        return {f"{directory.name}/{name}.npy": (directory / f"{name}.npy").stat().st_size for name in ARRAYS}

    @classmethod
    def load(cls, directory: Path, titles) -> TitleSearch:
        arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r").view(np.ndarray) for name in ARRAYS}
        return cls(titles, arrays=arrays)

    def _token_id(self, term: str) -> int:
        i = int(np.searchsorted(self.vocab, term))
        return i if i < len(self.vocab) and self.vocab[i] == term else -1

    def _rows_of(self, tids) -> np.ndarray:
        if not len(tids):
            return np.empty(0, dtype=np.int32)
        return np.concatenate([self.rows[self.offsets[t]:self.offsets[t + 1]] for t in tids])

    def _prefix_range(self, term: str) -> tuple[int, int]:
        """Token ids [low, high) of every token that starts with term."""
        return (int(np.searchsorted(self.vocab, term)),
                int(np.searchsorted(self.vocab, term + "\U0010ffff")))

    def _prefix_rows(self, term: str) -> np.ndarray:
        low, high = self._prefix_range(term)
        return self.rows[self.offsets[low]:self.offsets[high]]

    def _variant_tokens(self, variant: str) -> np.ndarray:
        i = int(np.searchsorted(self.variants, variant))
        if i < len(self.variants) and self.variants[i] == variant:
            return self.variant_tokens[self.variant_offsets[i]:self.variant_offsets[i + 1]]
        return np.empty(0, dtype=np.int32)

    def _fuzzy_tokens(self, term: str) -> set[int]:
        """Tokens one edit (insert, delete, substitute, transpose) away from the term, for title
        words of FUZZY_MIN_LENGTH letters or more: a 4-letter term can be such a word with a letter
        missing."""
        if len(term) < FUZZY_MIN_LENGTH - 1:
            return set()
        found: set[int] = set()
        for variant in _deletions(term) | {term}:
            found.update(int(t) for t in self._variant_tokens(variant))
            tid = self._token_id(variant)
            if tid >= 0:
                found.add(tid)
        found.discard(self._token_id(term))
        shortest = FUZZY_MIN_LENGTH if len(term) < FUZZY_MIN_LENGTH else 0
        return {t for t in found if len(self.vocab[t]) >= shortest and within_one_edit(term, str(self.vocab[t]))}

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        terms = terms_of(query)
        if not terms or not self.size:
            return []
        total = np.zeros(self.size, dtype=np.float32)
        alive = np.ones(self.size, dtype=bool)
        fuzzy_by_term = []
        for term in terms:
            score = np.zeros(self.size, dtype=np.int8)
            fuzzy = self._fuzzy_tokens(term)
            fuzzy_by_term.append({str(self.vocab[t]) for t in fuzzy})
            score[self._rows_of(sorted(fuzzy))] = FUZZY
            score[self._prefix_rows(term)] = PREFIX
            exact = self._token_id(term)
            if exact >= 0:
                score[self._rows_of([exact])] = EXACT
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
        return [SearchHit(int(r), round(key_of[int(r)], 3), highlight(self.titles[int(r)], terms, fuzzy_by_term))
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
