"""A symmetric-delete index over the title vocabulary: the words within two typos of a typed word, found
by a few lookups instead of a scan.

Two words within k edits share a variant made by dropping at most k letters from each. At build time
every title word's variants are hashed (64-bit FNV-1a over its code points) into two sorted tables: `near`
(the word itself and its one-letter deletions, enough for every one-edit pair) and `far` (its two-letter
deletions, for the rest of the two-edit pairs). A typed word hashes its own variants the same way, looks
them up with one vectorised binary search, and the words found are verified with the real distance, so a
hash collision only costs one comparison. The tables are numpy arrays: saved beside the index and
memory-mapped by every web process.

Work per query is bounded: a query may look up MAX_KEY_LOOKUPS variants and verify MAX_FUZZY_CANDIDATES
words in all. Every term's one-edit lookups come before any term's two-edit ones, so a spent budget
costs the weakest matches first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.typos.edits import MOST_EDITS, ONE_EDIT_FROM, allowed_edits, close_words, deletions

FUZZY_MAX_LENGTH = 32  # longer terms match exactly or by prefix only: typo work grows with length, such words are rare
MAX_KEY_LOOKUPS = 1024  # variants looked up per query (a 12-letter term needs 79, a 32-letter one 529)
MAX_FUZZY_CANDIDATES = 4096  # title words verified edit by edit, per query
HASH_CHUNK = 65_536  # variants hashed at once while building, so memory stays flat for any vocabulary
FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
TABLES = ("near", "far")
ARRAYS = tuple(f"typo_{table}_{part}" for table in TABLES for part in ("keys", "offsets", "tokens"))


FEW_VARIANTS = 64  # up to this many are hashed in plain Python: numpy's per-call cost would dominate
MASK = 2**64 - 1


def _python_hash(text: str) -> int:
    value = int(FNV_OFFSET)
    for char in text:
        value = ((value ^ ord(char)) * int(FNV_PRIME)) & MASK
    return value


def variant_hashes(variants: list[str]) -> np.ndarray:
    """FNV-1a over each string's code points; a string's hash does not depend on the others' lengths.
    A few strings are hashed one by one, many at once column by column: both give the same numbers."""
    if len(variants) <= FEW_VARIANTS:
        return np.array([_python_hash(v) for v in variants], dtype=np.uint64)
    codes = np.array(variants)
    width = codes.dtype.itemsize // 4
    codes = codes.view(np.uint32).reshape(len(variants), width).astype(np.uint64)
    hashes = np.full(len(variants), FNV_OFFSET, dtype=np.uint64)
    for column in codes.T:  # words never hold NUL, so a zero is padding and leaves the hash alone
        hashes = np.where(column != 0, (hashes ^ column) * FNV_PRIME, hashes)
    return hashes


def _table(keys: list[np.ndarray], tokens: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted distinct keys, offsets, and the token ids of each key (ascending) as one array."""
    all_keys = np.concatenate(keys) if keys else np.empty(0, dtype=np.uint64)
    all_tokens = np.concatenate(tokens) if tokens else np.empty(0, dtype=np.int32)
    order = np.lexsort((all_tokens, all_keys))
    all_keys, all_tokens = all_keys[order], all_tokens[order]
    distinct, starts = np.unique(all_keys, return_index=True)
    offsets = np.append(starts, len(all_keys)).astype(np.int32 if len(all_keys) < 2**31 else np.int64)
    return distinct, offsets, all_tokens.astype(np.int32)


def build_arrays(vocab: list[str]) -> dict[str, np.ndarray]:
    """The two tables for a sorted vocabulary (token id = position in it)."""
    pending: dict[str, tuple[list[str], list[int]]] = {table: ([], []) for table in TABLES}
    parts: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {table: ([], []) for table in TABLES}

    def flush(table: str) -> None:
        strings, ids = pending[table]
        parts[table][0].append(variant_hashes(strings))
        parts[table][1].append(np.array(ids, dtype=np.int32))
        pending[table] = ([], [])

    for tid, word in enumerate(vocab):
        if not ONE_EDIT_FROM <= len(word) <= FUZZY_MAX_LENGTH:
            continue
        levels = deletions(word, allowed_edits(len(word)))
        for table, variants in (("near", levels[0] + levels[1]), ("far", levels[2] if len(levels) > 2 else [])):
            pending[table][0].extend(variants)
            pending[table][1].extend([tid] * len(variants))
            if len(pending[table][0]) >= HASH_CHUNK:
                flush(table)
    arrays = {}
    for table in TABLES:
        flush(table)
        keys, offsets, tokens = _table(*parts[table])
        arrays.update({f"typo_{table}_keys": keys, f"typo_{table}_offsets": offsets,
                       f"typo_{table}_tokens": tokens})
    return arrays


@dataclass
class QueryWork:
    """The typo-matching work one query did, counted so that it stays bounded and tests can check it."""

    lookups: int = 0
    candidates: int = 0

    def take_lookups(self, wanted: int) -> int:
        taken = max(0, min(wanted, MAX_KEY_LOOKUPS - self.lookups))
        self.lookups += taken
        return taken

    def take_candidates(self, available: int) -> int:
        taken = max(0, min(available, MAX_FUZZY_CANDIDATES - self.candidates))
        self.candidates += taken
        return taken


def gathered(values: np.ndarray, offsets: np.ndarray, groups: np.ndarray, budget: int | None = None) -> np.ndarray:
    """The values of the given groups (group g is values[offsets[g]:offsets[g + 1]]) as one array, in
    group order, without a Python loop; with `budget`, only the first that many."""
    starts = offsets[groups].astype(np.int64)
    sizes = offsets[groups + 1].astype(np.int64) - starts
    total = int(sizes.sum())
    if budget is not None and total > budget:
        ends = np.cumsum(sizes)
        sizes = np.clip(budget - (ends - sizes), 0, sizes)
        total = budget
    if not total:
        return values[:0]
    return values[np.arange(total) + np.repeat(starts - np.cumsum(sizes) + sizes, sizes)]


@dataclass(frozen=True)
class TypoMatches:
    """Title words one term matches with typos: token ids, edits and the words, position by position."""

    tokens: np.ndarray
    edits: np.ndarray
    words: tuple[str, ...]

    def with_edits(self, edits: int) -> np.ndarray:
        return self.tokens[self.edits == edits]

    def merged(self, other: TypoMatches, skip: tuple[int, int] = (0, 0)) -> TypoMatches:
        """Both sets of words (each once, at its fewest edits), without the token ids in [skip[0], skip[1])
        (the words the term starts, which match it better)."""
        tokens = np.concatenate([self.tokens, other.tokens])
        edits = np.concatenate([self.edits, other.edits])
        words = self.words + other.words
        order = np.lexsort((edits, tokens))
        keep = order[np.r_[True, tokens[order][1:] != tokens[order][:-1]]] if len(order) else order
        keep = keep[(tokens[keep] < skip[0]) | (tokens[keep] >= skip[1])]
        return TypoMatches(tokens[keep], edits[keep], tuple(words[i] for i in keep.tolist()))

    def as_dict(self) -> dict[str, int]:
        return dict(zip(self.words, self.edits.tolist()))


NO_MATCHES = TypoMatches(np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int8), ())


class DeletionIndex:
    """Lookups in the two tables of one index version; `vocab` is the sorted title vocabulary."""

    def __init__(self, vocab: np.ndarray, arrays: dict[str, np.ndarray]):
        self.vocab = vocab
        self.arrays = arrays

    def _tokens(self, table: str, variants: list[str], work: QueryWork) -> np.ndarray:
        """Token ids stored under any of the variants, within the query's budget."""
        variants = variants[:work.take_lookups(len(variants))]
        keys = self.arrays[f"typo_{table}_keys"]
        if not variants or not len(keys):
            return np.empty(0, dtype=np.int32)
        hashes = variant_hashes(variants)
        at = np.minimum(np.searchsorted(keys, hashes), len(keys) - 1)
        at = at[keys[at] == hashes]
        offsets, tokens = self.arrays[f"typo_{table}_offsets"], self.arrays[f"typo_{table}_tokens"]
        available = int((offsets[at + 1] - offsets[at]).sum())
        return gathered(tokens, offsets, at, work.take_candidates(available))

    def _verified(self, term: str, tokens: np.ndarray) -> TypoMatches:
        tokens = np.unique(tokens)
        if not len(tokens):
            return NO_MATCHES
        words = self.vocab[tokens].tolist()
        close = close_words(term, words)
        if not close:
            return NO_MATCHES
        at = np.fromiter(close, dtype=np.int64, count=len(close))
        return TypoMatches(tokens[at], np.fromiter(close.values(), dtype=np.int8, count=len(close)),
                           tuple(words[i] for i in at.tolist()))

    def one_edit_round(self, term: str, work: QueryWork) -> TypoMatches:
        """Title words found by variants with at most one letter dropped on each side: every word one
        edit away, and some two away."""
        if not ONE_EDIT_FROM <= len(term) <= FUZZY_MAX_LENGTH:
            return NO_MATCHES
        levels = deletions(term, 1)
        return self._verified(term, self._tokens("near", levels[0] + levels[1], work))

    def two_edit_round(self, term: str, work: QueryWork) -> TypoMatches:
        """The rest of the words two edits away: two letters dropped from the term, or from the title word."""
        if allowed_edits(len(term)) < MOST_EDITS or len(term) > FUZZY_MAX_LENGTH:
            return NO_MATCHES
        levels = deletions(term, MOST_EDITS)
        found = [self._tokens("near", levels[2], work), self._tokens("far", levels[0] + levels[1] + levels[2], work)]
        return self._verified(term, np.concatenate(found))
