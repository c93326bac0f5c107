"""Section 2: the similar-items lookup at 10k, 100k and 1M items, and on the demo catalog.

The served path is SimilarItemsModel.get_similar_items (neighbour table, item rows, explanations);
beside it a plain Annoy query at the manifest's search_k and an exact numpy search over the same
vectors, and the recall@10 of the served answers against that exact search.
Sizes are interleaved round by round, so the ratio between them sees the same machine.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.report import Row, at_least, at_most, duration, items, judged_at, median, mib, percentile, times
from benchmarks.synthetic import SyntheticVersion, build_in_subprocess
from recommender.model import SimilarItemsModel
from recommender.neighbours.exact import exact_top, recall_at

K = 10


@dataclass
class Subject:
    """A loaded model, the vectors its index was built from, and the timings gathered on it."""

    name: str
    model: SimilarItemsModel
    vectors: np.ndarray
    served: list[float] = field(default_factory=list)
    served_p50_by_round: list[float] = field(default_factory=list)
    annoy: list[float] = field(default_factory=list)
    exact: list[float] = field(default_factory=list)
    recall: float = float("nan")

    def item_id(self, row: int) -> str:
        return self.model.table.value("item_id", int(row))


def annoy_vectors(model: SimilarItemsModel) -> np.ndarray:
    """The vectors held by a version's Annoy file (the demo build does not keep them elsewhere)."""
    return np.array([model.annoy.get_item_vector(i) for i in range(len(model))], dtype=np.float32)


def time_served(subject: Subject, rows: np.ndarray) -> list[float]:
    ids = [subject.item_id(r) for r in rows]
    spent = []
    for item_id in ids:
        started = time.perf_counter()
        subject.model.get_similar_items(item_id, K)
        spent.append(time.perf_counter() - started)
    return spent


def time_annoy(subject: Subject, rows: np.ndarray) -> list[float]:
    search_k = int(subject.model.manifest["search_k"])
    spent = []
    for row in rows:
        started = time.perf_counter()
        subject.model.annoy.get_nns_by_item(int(row), K + 1, search_k=search_k)
        spent.append(time.perf_counter() - started)
    return spent


def time_exact(subject: Subject, rows: np.ndarray) -> list[float]:
    """One BLAS thread, like the served path's one Python thread (and steadier on a busy machine)."""
    vectors = subject.vectors
    spent = []
    with threadpool_limits(1):
        for row in rows:
            started = time.perf_counter()
            sims = vectors @ vectors[row]
            sims[row] = -np.inf
            top = np.argpartition(-sims, K)[:K]
            top[np.argsort(-sims[top])]
            spent.append(time.perf_counter() - started)
    return spent


def fused_table(model: SimilarItemsModel) -> bool:
    """The neighbour table holds an item-item model's answers (the demo), not the vectors' neighbours."""
    return str((model.manifest.get("neighbour_model") or {}).get("method", "")).startswith("fused")


def annoy_answers(subject: Subject, rows: np.ndarray) -> np.ndarray:
    search_k = int(subject.model.manifest["search_k"])
    found = [[n for n in subject.model.annoy.get_nns_by_item(int(r), K + 1, search_k=search_k) if n != r][:K]
             for r in rows]
    return np.array(found)


def served_recall(subject: Subject, rows: np.ndarray) -> float:
    """Recall of the vector search against exact search on the same vectors: the served answers where
    the table comes from the vectors, Annoy's (which answers filters and cold items) where it is fused."""
    table = subject.model.table
    if fused_table(subject.model):
        found = annoy_answers(subject, rows)
    else:
        found = np.array([[table.row_of(s.item_id) for s in subject.model.get_similar_items(subject.item_id(r), K)]
                          for r in rows])
    truth, _ = exact_top(subject.vectors, rows, K)
    return recall_at(found, truth)


def measure(subjects: list[Subject], rounds: int, lookups: int, exact_queries: int, recall_sample: int,
            seed: int = 5) -> None:
    rng = np.random.default_rng(seed)
    for subject in subjects:  # touch every model once, so no round pays for first use
        time_served(subject, rng.integers(0, len(subject.model), 20))
    for _ in range(rounds):
        for subject in subjects:
            n = len(subject.model)
            spent = time_served(subject, rng.integers(0, n, lookups // rounds))
            subject.served += spent
            subject.served_p50_by_round.append(median(spent))
            subject.annoy += time_annoy(subject, rng.integers(0, n, max(1, 200 // rounds)))
            subject.exact += time_exact(subject, rng.integers(0, n, max(1, exact_queries // rounds)))
    for subject in subjects:
        n = len(subject.model)
        subject.recall = served_recall(subject, np.sort(rng.choice(n, min(recall_sample, n), replace=False)))


def subject_row(subject: Subject) -> Row:
    search_k = int(subject.model.manifest["search_k"])
    p50, p95 = percentile(subject.served, 50), percentile(subject.served, 95)
    annoy, exact = percentile(subject.annoy, 50), percentile(subject.exact, 50)
    shown = (f"served p50 {duration(p50)}, p95 {duration(p95)} · Annoy (search_k {search_k:,}) p50 "
             f"{duration(annoy)} · exact numpy (1 thread) p50 {duration(exact)} · recall@10 {subject.recall:.3f}"
             f"{' (Annoy: the table is the fused item-item model)' if fused_table(subject.model) else ''}")
    return Row(f"Similar lookup (get_similar_items k=10), {subject.name}", shown,
               values={"served_p50": p50, "served_p95": p95, "annoy_p50": annoy, "exact_p50": exact,
                       "recall": subject.recall})


def build_row(version: SyntheticVersion) -> Row:
    b = version.build
    shown = (f"{b['index_seconds']:.1f} s (index + table; {version.wall_seconds:.0f} s whole child incl. data "
             f"and serving files) · peak RSS {mib(b['index_peak_rss'])} ({mib(b['baseline_rss'])} of it "
             f"interpreter and libraries) · index.ann {mib(b['index_bytes'])} · neighbours+scores "
             f"{mib(b['table_bytes'])} · {b['trees']} trees, table by {b['table_method']}")
    return Row(f"Index build, {items(version.n_items)} items (own process)", shown,
               values={"seconds": b["index_seconds"], "peak_rss": b["index_peak_rss"],
                       "index_bytes": b["index_bytes"], "table_bytes": b["table_bytes"]})


def target_rows(synthetic: list[Subject], versions: list[SyntheticVersion], everything: list[Subject]) -> list[Row]:
    small, large = synthetic[0], synthetic[-1]
    n, at = len(large.model), items(len(large.model))
    ratio = median(big / little for big, little in zip(large.served_p50_by_round, small.served_p50_by_round))
    worst = min(everything, key=lambda s: s.recall)
    speedup = percentile(large.exact, 50) / percentile(large.served, 50)
    b = versions[-1].build
    memory_ratio = b["index_peak_rss"] / b["index_bytes"]
    return [
        judged_at(at_most(f"Lookup p50 at {at} ÷ p50 at {items(len(small.model))} (median of per-round ratios)",
                          ratio, 1.5, times(ratio), "≤ 1.5× at 1M"), n),
        at_least("Recall@10 of served answers vs exact numpy, worst of all sizes", worst.recall, 0.98,
                 f"{worst.recall:.3f} ({worst.name})", "≥ 0.98"),
        judged_at(at_least(f"Served lookup vs exact numpy search at {at} (p50 ÷ p50)", speedup, 20,
                           f"{times(speedup)} faster", "≥ 20× faster at 1M"), n),
        judged_at(at_most(f"Index build time at {at} (index + neighbour table)", b["index_seconds"], 180,
                          f"{b['index_seconds']:.1f} s", "≤ 180 s at 1M"), versions[-1].n_items),
        judged_at(at_most(f"Index build peak RSS at {at} ÷ index.ann size", memory_ratio, 2.0,
                          f"{times(memory_ratio)} ({mib(b['index_peak_rss'])} / {mib(b['index_bytes'])})",
                          "≤ 2× at 1M"), versions[-1].n_items),
    ]


def run(sizes: list[int], workdir: Path, demo_version_dir: Path | None, rounds: int, lookups: int,
        exact_queries: int, recall_sample: int, log=print,
        build_timeout: float = 900) -> tuple[list[Row], list[SyntheticVersion]]:
    """Build each size in its own process, then time all of them side by side."""
    versions, failed = [], []
    for n in sizes:
        log(f"lookup: building {items(n)} synthetic items in a child process")
        try:
            versions.append(build_in_subprocess(n, workdir / f"synthetic-{n}", build_timeout))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            failed.append(Row(f"Index build, {items(n)} items (own process)", f"failed: {str(exc)[:300]}",
                              "builds", False))
            continue
        log(f"lookup: {items(n)} built in {versions[-1].wall_seconds:.0f} s")
    if not versions:
        return failed, versions
    synthetic = [Subject(f"{items(v.n_items)} synthetic items (64-d)", SimilarItemsModel(v.version_dir),
                         np.ascontiguousarray(v.vectors())) for v in versions]
    subjects = list(synthetic)
    if demo_version_dir is not None:
        model = SimilarItemsModel(demo_version_dir)
        subjects.append(Subject(f"demo catalog ({len(model):,} items, {model.manifest['dimensions']}-d)", model,
                                annoy_vectors(model)))
    log("lookup: timing served, Annoy and exact searches")
    measure(subjects, rounds, lookups, exact_queries, recall_sample)
    rows = [subject_row(s) for s in subjects] + [build_row(v) for v in versions] + failed
    return rows + target_rows(synthetic, versions, subjects), versions
