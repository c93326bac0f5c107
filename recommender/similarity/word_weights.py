"""How much a word says about an item: its document frequency over the catalog, counted at build time
with the explanation's own tokeniser and saved beside the index, so "why" words are picked by weight
(TF-IDF) rather than presence, and a word most items share ("car", "available" on a car catalog) is
never offered as a reason.

Only words found in two items or more are kept: a word in one item can never be shared by two.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

COMMON_SHARE = 0.5  # a word in more than this share of the items explains nothing
FILES = ("words", "counts", "documents")


def document_frequencies(texts) -> tuple[np.ndarray, np.ndarray, int]:
    """Sorted words found in two documents or more, how many documents hold each, and how many there are.
    `texts` yields one set of words per document."""
    counts: Counter = Counter()
    documents = 0
    for words in texts:
        counts.update(words)
        documents += 1
    kept = sorted(word for word, count in counts.items() if count >= 2)
    words = np.array(kept) if kept else np.array([], dtype="<U1")
    return words, np.array([counts[w] for w in kept], dtype=np.int32), documents


class WordWeights:
    """Inverse document frequencies of one index version's words, read from memory-mapped arrays."""

    def __init__(self, words: np.ndarray, counts: np.ndarray, documents: int):
        self.words, self.counts, self.documents = words, counts, int(documents)
        self._width = words.dtype.itemsize // 4

    @classmethod
    def from_texts(cls, texts) -> WordWeights:
        return cls(*document_frequencies(texts))

    def save(self, directory: Path) -> dict[str, int]:
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {"words": self.words, "counts": self.counts, "documents": np.array([self.documents], np.int64)}
        for name, array in arrays.items():
            np.save(directory / f"{name}.npy", array)
        return {f"{directory.name}/{name}.npy": (directory / f"{name}.npy").stat().st_size for name in FILES}

    @classmethod
    def load(cls, directory: Path) -> WordWeights | None:
        """The saved weights, or None for a version built before they were saved (its reasons stay unweighted)."""
        paths = [directory / f"{name}.npy" for name in FILES]
        if not all(path.is_file() for path in paths):
            return None
        words, counts, documents = (np.load(path, mmap_mode="r").view(np.ndarray) for path in paths)
        return cls(words, counts, int(documents[0]))

    def frequency(self, word: str) -> int:
        """Documents holding the word (1 for a word not kept: it was in one document at most)."""
        if len(word) > self._width or not len(self.words):
            return 1
        i = int(np.searchsorted(self.words, word))
        return int(self.counts[i]) if i < len(self.words) and self.words[i] == word else 1

    def is_common(self, word: str) -> bool:
        return self.frequency(word) > COMMON_SHARE * self.documents

    def idf(self, word: str) -> float:
        return math.log((1 + self.documents) / (1 + self.frequency(word))) + 1.0
