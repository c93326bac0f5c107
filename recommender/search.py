"""Live title search: word-prefix matches first, then matches with typos, all in memory.

Postings are kept in one array sorted by token, so every token that starts with a prefix is a
single contiguous slice (found by binary search), and a query costs a few slices, not a scan.
Words with typos (two edits in words of four letters or more, one in three-letter words, a swap of
neighbouring letters counting as one) come from the symmetric-delete index in recommender.typos.

A title need not match every word: each word it matches adds to its score, so a word that matches
nothing lowers a title's rank instead of emptying the answer. When the best title needed typos fixed
or words left out, the answer says what the query was read as ("Showing results for star wars").

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

from recommender.typos import deletion_index
from recommender.typos.correction import corrected_query
from recommender.typos.deletion_index import DeletionIndex, QueryWork, TypoMatches, gathered

MAX_QUERY_CHARS = 200  # characters of the query read
MAX_FOLDED_CHARS = 200  # characters kept after folding ('㌖' folds to 6 letters, 'ﷺ' to 18 characters)
MAX_TERMS = 8
EXACT, PREFIX, ONE_TYPO, TWO_TYPOS = 3.0, 2.0, 1.0, 0.5  # what a term adds to a title's score
TYPO_SCORES = {1: ONE_TYPO, 2: TWO_TYPOS}
FIRST_WORD_BONUS = 0.5  # the title starts with the first term: "toy" ranks "Toy Story" above "Story of a Toy"
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


def _longest_key(keys: np.ndarray) -> int:
    """Characters in the longest key of a sorted string array (its numpy width)."""
    return keys.dtype.itemsize // 4


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


@dataclass(frozen=True)
class SearchAnswer:
    """Hits best first, and what the query was read as when the best hit needed corrections (else None)."""

    hits: list[SearchHit]
    corrected: str | None = None


POSTING_ARRAYS = ("vocab", "offsets", "rows", "first_token", "tiebreak")
ARRAYS = POSTING_ARRAYS + deletion_index.ARRAYS


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
        self.typos = DeletionIndex(self.vocab, {name: getattr(self, name) for name in deletion_index.ARRAYS})

    @staticmethod
    def _build(titles, popularity) -> dict:
        vocab, offsets, rows, first_ids, lengths = _postings(titles)
        n = len(first_ids)
        pop = np.zeros(n) if popularity is None else np.log1p(np.asarray(popularity, dtype=float))
        top = pop.max() if n and pop.max() > 0 else 1.0
        length_penalty = lengths / 1000.0
        return {"vocab": vocab, "offsets": offsets, "rows": rows, "first_token": first_ids,
                "tiebreak": (0.4 * pop / top - length_penalty).astype(np.float32),
                **deletion_index.build_arrays(vocab.tolist())}

    def save(self, directory: Path) -> dict[str, int]:
        directory.mkdir(parents=True, exist_ok=True)
        for name in ARRAYS:
            np.save(directory / f"{name}.npy", getattr(self, name))
        return {f"{directory.name}/{name}.npy": (directory / f"{name}.npy").stat().st_size for name in ARRAYS}

    @classmethod
    def load(cls, directory: Path, titles) -> TitleSearch:
        """Memory-map the saved arrays. A version built before the typo tables existed gets them built
        here from its vocabulary, once per process, so older kept versions still load and roll back."""
        arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r").view(np.ndarray) for name in POSTING_ARRAYS}
        typo_files = [directory / f"{name}.npy" for name in deletion_index.ARRAYS]
        if all(path.is_file() for path in typo_files):
            arrays.update({path.stem: np.load(path, mmap_mode="r").view(np.ndarray) for path in typo_files})
        else:
            arrays.update(deletion_index.build_arrays(arrays["vocab"].tolist()))
        return cls(titles, arrays=arrays)

    def _token_id(self, term: str) -> int:
        return _find(self.vocab, term)

    def _rows_of(self, tids: np.ndarray) -> np.ndarray:
        return gathered(self.rows, self.offsets, np.asarray(tids, dtype=np.int64))

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

    def _typo_words(self, terms: list[str], work: QueryWork) -> dict[str, TypoMatches]:
        """Per distinct term, the title words it matches with typos (not those it is a prefix of). Every
        term's one-edit round runs before any term's two-edit round, so a spent budget drops the weakest first."""
        found = {term: self.typos.one_edit_round(term, work) for term in terms}
        return {term: found[term].merged(self.typos.two_edit_round(term, work), skip=self._prefix_range(term))
                for term in terms}

    def _term_scores(self, term: str, typos: TypoMatches) -> np.ndarray:
        """What one term adds to every title: EXACT, PREFIX, ONE_TYPO, TWO_TYPOS or 0, the best it earns."""
        score = np.zeros(self.size, dtype=np.float32)
        for edits in sorted(TYPO_SCORES, reverse=True):
            score[self._rows_of(typos.with_edits(edits))] = TYPO_SCORES[edits]
        score[self._prefix_rows(term)] = PREFIX
        exact = self._token_id(term)
        if exact >= 0:
            score[self._rows_of(np.array([exact]))] = EXACT
        return score

    def search(self, query: str, limit: int = 20, work: QueryWork | None = None) -> list[SearchHit]:
        """Titles matching the query's terms, best first; `work` (if given) receives what the typo search cost."""
        return self.answer(query, limit, work).hits

    def answer(self, query: str, limit: int = 20, work: QueryWork | None = None) -> SearchAnswer:
        """Every title matching at least one term, ranked by what its terms add up to (a repeated term
        counts again but is matched once), and the query as the best hit read it."""
        terms = terms_of(query)
        if not terms or not self.size:
            return SearchAnswer([])
        distinct = list(dict.fromkeys(terms))
        typos = self._typo_words(distinct, QueryWork() if work is None else work)
        scores = {term: self._term_scores(term, typos[term]) for term in distinct}
        total = np.sum([scores[term] for term in terms], axis=0, dtype=np.float32)
        candidates = np.flatnonzero(total > 0)
        if not len(candidates):
            return SearchAnswer([])
        hits = self._ranked(candidates, total, terms, [set(typos[t].words) for t in terms], limit)
        if not hits:
            return SearchAnswer([])
        best_words = {fold(word): word.lower() for word in WORD.findall(self.titles[hits[0].row])}
        return SearchAnswer(hits, corrected_query(best_words, terms, {t: typos[t].as_dict() for t in distinct}))

    def _ranked(self, candidates: np.ndarray, total: np.ndarray, terms: list[str], fuzzy_by_term: list[set[str]],
                limit: int) -> list[SearchHit]:
        low, high = self._prefix_range(terms[0])
        first = self.first_token[candidates]
        keys = total[candidates] + self.tiebreak[candidates] + FIRST_WORD_BONUS * ((first >= low) & (first < high))
        if len(candidates) > limit > 0:  # the best `limit` (and any tied with the last) without sorting them all
            kth = -np.partition(-keys, limit - 1)[limit - 1]
            best = keys >= kth
            candidates, keys = candidates[best], keys[best]
        order = np.lexsort((candidates, -keys))[:max(limit, 0)]
        marks: dict[str, int] = {}
        return [SearchHit(int(candidates[i]), round(float(keys[i]), 3),
                          highlight(self.titles[int(candidates[i])], terms, fuzzy_by_term, marks)) for i in order]


def _find(keys: np.ndarray, key: str) -> int:
    """Index of key in a sorted string array, or -1. A key longer than every stored one is absent, and
    is not searched: numpy would first copy the whole array at the key's width."""
    if len(key) > _longest_key(keys):
        return -1
    i = int(np.searchsorted(keys, key))
    return i if i < len(keys) and keys[i] == key else -1


def highlight(title: str, terms: list[str], fuzzy_by_term: list[set[str]],
              marks: dict[str, int] | None = None) -> tuple[Highlight, ...]:
    """Split a title into matched and unmatched pieces: a prefix match marks only the typed part.
    `marks` caches, across the hits of one query, how much of each title word is marked."""
    marks = {} if marks is None else marks
    whole = set(terms).union(*fuzzy_by_term)
    pieces: list[Highlight] = []
    cursor = 0
    for match in WORD.finditer(title):
        raw = match.group()
        marked = marks.get(raw)
        if marked is None:
            marked = marks[raw] = _marked_length(raw, terms, whole)
        if marked:
            start = match.start()
            if start > cursor:
                pieces.append(Highlight(title[cursor:start], False))
            pieces.append(Highlight(title[start:start + marked], True))
            cursor = start + marked
    if cursor < len(title):
        pieces.append(Highlight(title[cursor:], False))
    return tuple(pieces)


def _marked_length(raw: str, terms: list[str], whole: set[str]) -> int:
    """Characters of a title word to mark: all of it when a term or a typo of one is the word, the typed
    part when a term is its prefix (all of it when folding changed its length), else none."""
    word = fold(raw)
    if word in whole:
        return len(raw)
    prefixes = [term for term in terms if word.startswith(term)]
    if not prefixes:
        return 0
    return max(len(term) for term in prefixes) if len(word) == len(raw) else len(raw)
