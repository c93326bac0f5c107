"""How far a typed word may be from a title word and still match it, and the distance that decides.

The distance is optimal string alignment (Damerau-Levenshtein without re-editing a moved pair): an
insertion, a deletion, a substitution or a swap of two neighbouring letters each count as one edit, so
"wras" is one edit from "wars" and "teh" one from "the". Short words get fewer edits, since two edits in
a three-letter word could turn it into almost any other.
"""

from __future__ import annotations

from rapidfuzz.distance import OSA
from rapidfuzz.process import extract

TWO_EDITS_FROM = 4  # letters a word needs for two typos ("wras" -> "wars"); four-letter title words too
ONE_EDIT_FROM = 3  # letters a word needs for one typo ("teh" -> "the")
MOST_EDITS = 2


def allowed_edits(length: int) -> int:
    """Typos tolerated in a word of this many characters."""
    if length >= TWO_EDITS_FROM:
        return 2
    return 1 if length >= ONE_EDIT_FROM else 0


def deletions(word: str, depth: int) -> list[list[str]]:
    """The word with 0, 1, ... depth letters dropped: one list per count, each variant once, in position
    order (so capped work is repeatable)."""
    levels = [[word]]
    for _ in range(depth):
        found = dict.fromkeys(v[:i] + v[i + 1:] for v in levels[-1] for i in range(len(v)))
        levels.append([v for v in found if v])
    return levels


def close_words(typed: str, candidates: list[str]) -> dict[int, int]:
    """Positions in `candidates` of the words close enough to `typed`, with their distance (exact matches
    excluded). The shorter of the two words sets the allowance, so "qwzx" (four letters) does not turn
    into "wax" (three) with two edits."""
    most = allowed_edits(len(typed))
    if not most or not candidates:
        return {}
    found = extract(typed, candidates, scorer=OSA.distance, score_cutoff=most, limit=None)
    if len(typed) >= TWO_EDITS_FROM + MOST_EDITS:  # every word within two edits has four letters or more
        return {index: int(distance) for _, distance, index in found if distance}
    allowance = [allowed_edits(min(len(typed), n)) for n in range(len(typed) + most + 1)]
    return {index: int(distance) for _, distance, index in found
            if 0 < distance <= allowance[min(len(candidates[index]), len(allowance) - 1)]}
