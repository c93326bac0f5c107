"""Live title search: word-prefix matches first, then one-typo matches, all in memory.

Postings are kept in one array sorted by token, so every token that starts with a prefix is a
single contiguous slice (found by binary search), and a query costs a few slices, not a scan.

Every query's work is bounded whatever it contains: Unicode normalisation can turn one character
into eighteen, so the folded text is cut again; terms longer than any title word match nothing;
and the typo search looks up a fixed number of keys and compares a fixed number of candidates.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAX_QUERY_CHARS = 200  # characters of the query read
MAX_FOLDED_CHARS = 200  # characters kept after folding ('㌖' folds to 6 letters, 'ﷺ' to 18 characters)
MAX_TERMS = 8
FUZZY_MIN_LENGTH = 5
FUZZY_MAX_LENGTH = 32  # longer terms match exactly or by prefix only: typo work grows with length, such words are rare
MAX_KEY_LOOKUPS = 256  # binary searches for typo variants per query (a 32-letter term needs 66)
MAX_FUZZY_CANDIDATES = 2048  # tokens compared edit by edit with the terms, per query
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
    """The query's first words, folded; cut before folding and again after, since folding can expand."""
    query = CONTROL.sub(" ", query[:MAX_QUERY_CHARS])
    return WORD.findall(fold(query)[:MAX_FOLDED_CHARS])[:MAX_TERMS]


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


def _deletions(word: str) -> list[str]:
    """The word with one letter dropped, each variant once, in position order (so capped work is repeatable)."""
    return list(dict.fromkeys(word[:i] + word[i + 1:] for i in range(len(word))))


def _longest_key(keys: np.ndarray) -> int:
    """Characters in the longest key of a sorted string array (its numpy width)."""
    return keys.dtype.itemsize // 4


@dataclass
class QueryWork:
    """The typo-matching work one query did, counted so that it stays bounded and tests can check it."""

    lookups: int = 0
    candidates: int = 0

    def take_lookups(self, count: int) -> bool:
        if self.lookups + count > MAX_KEY_LOOKUPS:
            return False
        self.lookups += count
        return True

    def take_candidates(self, available: int) -> int:
        taken = max(0, min(available, MAX_FUZZY_CANDIDATES - self.candidates))
        self.candidates += taken
        return taken


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


def _grouped(ids: dict[str, int], key_ids: np.ndarray, values: np.ndarray):
    """Group values by key: the sorted distinct keys, offsets, the values sorted by key (in their order
    within a key) and each key id's position among the sorted keys. A key's values are one contiguous
    slice found by binary search, and the arrays can be saved and memory-mapped. Keys arrive as ids
    into `ids`, so only the distinct keys are ever held as strings."""
    if not ids:
        return np.array([], dtype="<U1"), np.zeros(1, dtype=np.int64), np.empty(0, dtype=np.int32), \
            np.empty(0, dtype=np.int64)
    keys = sorted(ids)
    rank = np.empty(len(keys), dtype=np.int64)
    rank[np.fromiter((ids[k] for k in keys), dtype=np.int64, count=len(keys))] = np.arange(len(keys))
    ranked = rank[key_ids]
    order = np.argsort(ranked, kind="stable")
    offsets = np.searchsorted(ranked[order], np.arange(len(keys) + 1)).astype(np.int64)
    return np.array(keys), offsets, values[order].astype(np.int32), rank


def _sorted_groups(keys: list[str], values: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """_grouped for keys given as strings."""
    ids: dict[str, int] = {}
    key_ids = np.fromiter((ids.setdefault(k, len(ids)) for k in keys), dtype=np.int64, count=len(keys))
    return _grouped(ids, key_ids, np.asarray(values, dtype=np.int32))[:3]


def _postings(titles) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sorted vocabulary, offsets and rows (each row once per distinct word of its title), each title's
    first word as a vocabulary position (-1 for none) and its length in characters (at most 200).
    Words become integer ids as they are read, so a million titles never exist as per-title word lists
    or as a fixed-width array of every word occurrence: the build holds int32 arrays and the vocabulary."""
    ids: dict[str, int] = {}
    token_ids, token_rows = array("i"), array("i")
    first, lengths = array("q"), array("d")
    for row, title in enumerate(titles):
        tokens = WORD.findall(fold(title))
        lengths.append(min(len(title), 200))
        first.append(ids.setdefault(tokens[0], len(ids)) if tokens else -1)
        for token in set(tokens):
            token_ids.append(ids.setdefault(token, len(ids)))
            token_rows.append(row)
    vocab, offsets, rows, rank = _grouped(ids, np.array(token_ids, dtype=np.int64), np.array(token_rows, np.int32))
    first_ids = np.array(first, dtype=np.int64)
    first_ids[first_ids >= 0] = rank[first_ids[first_ids >= 0]]
    return vocab, offsets, rows, first_ids, np.array(lengths, dtype=float)


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
        vocab, offsets, rows, first_ids, lengths = _postings(titles)
        variant_keys, variant_tokens = [], []
        for tid, token in enumerate(vocab.tolist()):
            if len(token) >= FUZZY_MIN_LENGTH - 1:
                for variant in _deletions(token):
                    variant_keys.append(variant)
                    variant_tokens.append(tid)
        variants, variant_offsets, variant_tokens = _sorted_groups(variant_keys, variant_tokens)
        n = len(first_ids)
        pop = np.zeros(n) if popularity is None else np.log1p(np.asarray(popularity, dtype=float))
        top = pop.max() if n and pop.max() > 0 else 1.0
        length_penalty = lengths / 1000.0
        return {"vocab": vocab, "offsets": offsets, "rows": rows, "variants": variants,
                "variant_offsets": variant_offsets, "variant_tokens": variant_tokens,
                "first_token": first_ids, "tiebreak": (0.4 * pop / top - length_penalty).astype(np.float32)}

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
        return _find(self.vocab, term)

    def _rows_of(self, tids) -> np.ndarray:
        if not len(tids):
            return np.empty(0, dtype=np.int32)
        return np.concatenate([self.rows[self.offsets[t]:self.offsets[t + 1]] for t in tids])

    def _prefix_range(self, term: str) -> tuple[int, int]:
        """Token ids [low, high) of every token that starts with term."""
        longest = _longest_key(self.vocab)
        if len(term) > longest:
            return 0, 0
        low = int(np.searchsorted(self.vocab, term))
        if len(term) == longest:  # only the term itself can start with it; a longer key would copy the vocabulary
            return low, low + int(low < len(self.vocab) and self.vocab[low] == term)
        return low, int(np.searchsorted(self.vocab, term + "\U0010ffff"))

    def _prefix_rows(self, term: str) -> np.ndarray:
        low, high = self._prefix_range(term)
        return self.rows[self.offsets[low]:self.offsets[high]]

    def _variant_tokens(self, variant: str, work: QueryWork) -> np.ndarray:
        i = _find(self.variants, variant)
        if i < 0:
            return np.empty(0, dtype=np.int32)
        start, stop = int(self.variant_offsets[i]), int(self.variant_offsets[i + 1])
        return self.variant_tokens[start:start + work.take_candidates(stop - start)]

    def _fuzzy_tokens(self, term: str, work: QueryWork) -> set[int]:
        """Tokens one edit (insert, delete, substitute, transpose) away from the term, for title
        words of FUZZY_MIN_LENGTH letters or more: a 4-letter term can be such a word with a letter
        missing. Stops looking when the query's typo budget is spent."""
        if not FUZZY_MIN_LENGTH - 1 <= len(term) <= FUZZY_MAX_LENGTH:
            return set()
        found: set[int] = set()
        for variant in [term, *_deletions(term)]:
            if not work.take_lookups(2):
                break
            found.update(self._variant_tokens(variant, work).tolist())
            tid = self._token_id(variant)
            if tid >= 0 and work.take_candidates(1):
                found.add(tid)
        found.discard(self._token_id(term))
        shortest = FUZZY_MIN_LENGTH if len(term) < FUZZY_MIN_LENGTH else 0
        return {t for t in found if len(self.vocab[t]) >= shortest and within_one_edit(term, str(self.vocab[t]))}

    def _term_scores(self, term: str, work: QueryWork) -> tuple[np.ndarray, set[str]]:
        """How well every title matches one term (EXACT, PREFIX, FUZZY or 0), and the typo words found."""
        score = np.zeros(self.size, dtype=np.int8)
        fuzzy = self._fuzzy_tokens(term, work)
        score[self._rows_of(sorted(fuzzy))] = FUZZY
        score[self._prefix_rows(term)] = PREFIX
        exact = self._token_id(term)
        if exact >= 0:
            score[self._rows_of([exact])] = EXACT
        return score, {str(self.vocab[t]) for t in fuzzy}

    def search(self, query: str, limit: int = 20, work: QueryWork | None = None) -> list[SearchHit]:
        """Titles matching every term, best first; `work` (if given) receives what the typo search cost."""
        terms = terms_of(query)
        # a term longer than every title word (plus the one letter a typo may add) matches no title
        if not terms or not self.size or max(map(len, terms)) > _longest_key(self.vocab) + 1:
            return []
        work = QueryWork() if work is None else work
        total = np.zeros(self.size, dtype=np.float32)
        alive = np.ones(self.size, dtype=bool)
        scored: dict[str, tuple[np.ndarray, set[str]]] = {}
        for term in terms:
            if term not in scored:  # a repeated term counts again but is matched once
                scored[term] = self._term_scores(term, work)
            score = scored[term][0]
            alive &= score > 0
            total += score
            if not alive.any():
                return []
        return self._ranked(np.flatnonzero(alive), total, terms, [scored[t][1] for t in terms], limit)

    def _ranked(self, candidates: np.ndarray, total: np.ndarray, terms: list[str], fuzzy_by_term: list[set[str]],
                limit: int) -> list[SearchHit]:
        low, high = self._prefix_range(terms[0])
        first = self.first_token[candidates]
        keys = total[candidates] + self.tiebreak[candidates] + 0.5 * ((first >= low) & (first < high))
        top = candidates[np.argsort(-keys, kind="stable")[:limit]]
        key_of = dict(zip(candidates.tolist(), keys.tolist()))
        return [SearchHit(int(r), round(key_of[int(r)], 3), highlight(self.titles[int(r)], terms, fuzzy_by_term))
                for r in top]


def _find(keys: np.ndarray, key: str) -> int:
    """Index of key in a sorted string array, or -1. A key longer than every stored one is absent, and
    is not searched: numpy would first copy the whole array at the key's width."""
    if len(key) > _longest_key(keys):
        return -1
    i = int(np.searchsorted(keys, key))
    return i if i < len(keys) and keys[i] == key else -1


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
