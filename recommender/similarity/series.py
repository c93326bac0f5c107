"""Series companions found from titles alone: "The Terminator" and "Terminator 2: Judgment Day",
"Toy Story" and "Toy Story 2", "Harry Potter and the ..." — what a person looks for first.

Two title patterns make a pair, when the two items also sit close in content:
- a shared distinctive stem where at least one title carries a sequel marker (2, II, Part II,
  Chapter 3, "the Third", a trailing number word: "Ocean's Eleven", "Ocean's Twelve") or a subtitle
  after a colon or dash;
- a shared uncommon prefix of at least two content words ("harry potter", "indiana jones").
Two more need shared raters too (so they are found only where there are interactions): a whole title
that another extends by a word or two ("The Matrix" -> "The Matrix Reloaded"), and a whole title that is
another's subtitle ("Jurassic Park" -> "The Lost World: Jurassic Park"); without raters "Speed" would
pair with "Speed Racer" and "Blade" with "Blade Runner".
A stem or prefix shared by more than SERIES_MAX_MEMBERS titles is too common to mean a series.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from recommender.search import fold

if TYPE_CHECKING:  # the web tier imports this module for same_series and never loads SciPy
    from scipy import sparse

SERIES_MAX_MEMBERS = 10
SERIES_MIN_CONTENT = 0.25
MIN_STEM_LETTERS = 4
PREFIX_WORDS = 2
EXTENSION_WORDS = 2  # "X" and "X Reloaded": the longer title adds at most this many words
MIN_EXTENDED_LETTERS = 5  # of the shorter title there ("Die Hard" cleans to "hard", not to be extended)
# The title patterns that need shared raters: at least this many, and this share of the less-rated item's
# raters also rated the other. On the demo 79 of The Matrix Reloaded's 82 raters rated The Matrix, 55 of
# The Lost World's 67 Jurassic Park; 34 of Blade's 58 rated Blade Runner, 30 of The Mask of Zorro's 55 The Mask.
SERIES_MIN_SHARED_RATERS = 8
SERIES_MIN_RATER_SHARE = 0.7

ROMAN = r"(?:ii|iii|iv|v|vi|vii|viii|ix|x|xi|xii)"
ORDINAL = r"(?:second|third|fourth|fifth|sixth|final)"
NUMBER_WORD = r"(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen)"
SEQUEL_MARKER = re.compile(
    rf"\s+(?:(?:part|chapter|episode|vol\.?|volume|book)\s+(?:\d+|{ROMAN}|one|two|three|four|five)"
    rf"|\d{{1,2}}|{ROMAN}|{NUMBER_WORD}|the\s+{ORDINAL}|{ORDINAL}\s+part)$")
PARENTHESES = re.compile(r"\s*[(\[][^)\]]*[)\]]")
TRAILING_ARTICLE = re.compile(r",\s*(?:the|a|an|les|la|le|el|die|der|das|il|lo)\b(?=$|\s*[:\-])")
LEADING_ARTICLE = re.compile(r"^(?:the|a|an|les|la|le|el|die|der|das|il|lo)\s+")
SUBTITLE = re.compile(r"\s*(?::|\s-\s|\s–\s)\s*")
WORD = re.compile(r"[a-z0-9']+")
STOP_WORDS = frozenset("""a an and the of in on at to for with from by or is it my me your his her its our who what when
where why how not all i you we he she they this that there be been are was were do does no yes so as""".split())


def clean_title(title: str) -> str:
    """Lower case, accents, parentheses and articles removed: 'Godfather: Part II, The' -> 'godfather: part ii'."""
    text = PARENTHESES.sub("", fold(str(title))).strip()
    text = TRAILING_ARTICLE.sub("", text)
    return LEADING_ARTICLE.sub("", text).strip()


def title_stem(title: str) -> tuple[str, bool]:
    """(stem, marked): the words before a sequel marker or subtitle, and whether there was one."""
    text = clean_title(title)
    head, *rest = SUBTITLE.split(text, maxsplit=1)
    marked = bool(rest and rest[0].strip())
    unmarked = SEQUEL_MARKER.sub("", head)
    marked = marked or unmarked != head
    stem = " ".join(WORD.findall(unmarked))
    return stem, marked


def title_prefix(title: str) -> str | None:
    """The leading words up to and including the PREFIX_WORDS-th content word, or None if shorter."""
    words = WORD.findall(clean_title(title))
    content = 0
    for position, word in enumerate(words):
        content += word not in STOP_WORDS and not word.isdigit()
        if content == PREFIX_WORDS:
            return " ".join(words[:position + 1]) if position + 1 < len(words) else None
    return None


def _groups(titles: list[str]) -> list[np.ndarray]:
    """Rows sharing a distinctive stem (one of them marked) or an uncommon multi-word prefix."""
    by_stem, marked_stems, by_prefix = defaultdict(list), set(), defaultdict(list)
    for row, title in enumerate(titles):
        stem, marked = title_stem(title)
        if len(stem.replace(" ", "")) >= MIN_STEM_LETTERS and not stem.isdigit():
            by_stem[stem].append(row)
            if marked:
                marked_stems.add(stem)
        prefix = title_prefix(title)
        if prefix:
            by_prefix[prefix].append(row)
    groups = [rows for stem, rows in by_stem.items() if stem in marked_stems]
    groups += list(by_prefix.values())
    return [np.array(rows) for rows in groups if 2 <= len(rows) <= SERIES_MAX_MEMBERS]


def _title_parts(title: str) -> tuple[list[str], list[str]]:
    """(words before any subtitle, words of the subtitle) of the cleaned title."""
    head, *rest = SUBTITLE.split(clean_title(title), maxsplit=1)
    return WORD.findall(head), WORD.findall(rest[0]) if rest else []


def _extended_titles(titles: list[str]) -> set[tuple[int, int]]:
    """Row pairs (a < b) where one whole title (no subtitle) is another's first words less one or two
    ("matrix" / "matrix reloaded") or another's whole subtitle ("jurassic park" / "lost world: jurassic park")."""
    parts = [_title_parts(title) for title in titles]
    whole: dict[str, list[int]] = defaultdict(list)
    for row, (head, subtitle) in enumerate(parts):
        text = " ".join(head)
        if not subtitle and len(text.replace(" ", "")) >= MIN_EXTENDED_LETTERS and not text.isdigit():
            whole[text].append(row)
    found = set()
    for row, (head, subtitle) in enumerate(parts):
        keys = [" ".join(head[:n]) for n in range(max(1, len(head) - EXTENSION_WORDS), len(head))]
        for key in keys + ([" ".join(subtitle)] if subtitle else []):
            mates = whole.get(key, [])
            if len(mates) <= SERIES_MAX_MEMBERS:
                found.update((min(row, mate), max(row, mate)) for mate in mates if mate != row)
    return found


def share_raters(raters: sparse.spmatrix, pairs: np.ndarray) -> np.ndarray:
    """Per (a, b) row pair, whether the two items share at least SERIES_MIN_SHARED_RATERS raters and
    SERIES_MIN_RATER_SHARE of the less-rated one's (item-by-user `raters`)."""
    binary = (raters > 0).astype(np.float32).tocsr()
    counts = np.asarray(binary.sum(axis=1)).ravel()
    shared = np.asarray(binary[pairs[:, 0]].multiply(binary[pairs[:, 1]]).sum(axis=1)).ravel()
    fewer = np.minimum(counts[pairs[:, 0]], counts[pairs[:, 1]])
    return (shared >= SERIES_MIN_SHARED_RATERS) & (shared >= SERIES_MIN_RATER_SHARE * fewer)


def series_pairs(titles: list[str], content: np.ndarray, min_content: float = SERIES_MIN_CONTENT,
                 raters: sparse.spmatrix | None = None) -> np.ndarray:
    """Unique (a, b) row pairs, a < b, of series companions whose content vectors are close. With
    `raters` (item-by-user), also extended titles and subtitles whose raters overlap."""
    found = set()
    for rows in _groups(titles):
        sims = content[rows] @ content[rows].T
        first, second = np.nonzero(np.triu(sims >= min_content, k=1))
        found.update(zip(rows[first].tolist(), rows[second].tolist()))
    extended = np.array(sorted(_extended_titles(titles) - found), dtype=np.int64).reshape(-1, 2)
    if raters is not None and len(extended):
        close = np.einsum("ij,ij->i", content[extended[:, 0]], content[extended[:, 1]]) >= min_content
        found.update(map(tuple, extended[close & share_raters(raters, extended)].tolist()))
    return np.array(sorted(found), dtype=np.int64).reshape(-1, 2)


def companions_of(pairs: np.ndarray, n_items: int) -> list[list[int]]:
    """Per row, the rows it forms a series pair with."""
    out: list[list[int]] = [[] for _ in range(n_items)]
    for a, b in pairs.tolist():
        out[a].append(b)
        out[b].append(a)
    return out


def series_hit_rate(neighbours: np.ndarray, pairs: np.ndarray, k: int = 10) -> float | None:
    """Share of directed series pairs (a -> b and b -> a) where b is in a's first k neighbours."""
    if not len(pairs):
        return None
    directed = np.vstack([pairs, pairs[:, ::-1]])
    top = neighbours[directed[:, 0], :k]
    return float((top == directed[:, 1:2]).any(axis=1).mean())


def put_companions_first(ids: np.ndarray, scores: np.ndarray, companions: list[list[int]],
                         similarity) -> tuple[np.ndarray, np.ndarray]:
    """Rewrite neighbour rows so series companions lead, most similar first, then the rest in order.

    `similarity(row, others)` gives the companions' scores; a companion is shown at least as high
    as the best other neighbour so the scores stay in descending order."""
    ids, scores = ids.copy(), scores.copy()
    width = ids.shape[1]
    for row, mates in enumerate(companions):
        if not mates:
            continue
        mates = np.array(mates[:width], dtype=ids.dtype)
        mate_scores = np.asarray(similarity(row, mates), dtype=scores.dtype)
        order = np.argsort(-mate_scores, kind="stable")
        mates, mate_scores = mates[order], mate_scores[order]
        keep = ~np.isin(ids[row], mates)
        rest_ids, rest_scores = ids[row][keep], scores[row][keep]
        floor = rest_scores[0] if len(rest_scores) else mate_scores.min()
        mate_scores = np.maximum(mate_scores, floor)
        ids[row] = np.concatenate([mates, rest_ids])[:width]
        scores[row] = np.concatenate([mate_scores, rest_scores])[:width]
    return ids, scores


def same_series(title_a: str, title_b: str) -> bool:
    """Whether two titles follow one of the series patterns (for the explanation line)."""
    stem_a, marked_a = title_stem(title_a)
    stem_b, marked_b = title_stem(title_b)
    if stem_a == stem_b and (marked_a or marked_b) and len(stem_a.replace(" ", "")) >= MIN_STEM_LETTERS:
        return not stem_a.isdigit()
    prefix = title_prefix(title_a)
    return prefix is not None and prefix == title_prefix(title_b)
