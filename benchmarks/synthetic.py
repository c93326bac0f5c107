"""Synthetic catalogs of any size, built into real, published index versions.

Vectors are clustered 64-dimensional unit vectors (one centre per 500 items, seeded), so nearest
neighbours mean something and the recall floor can be reached. Titles are "Item <i> <words>".

Run as `python -m benchmarks.synthetic --items N --root DIR`, it builds in its own process and
prints a JSON summary: phase times and the process's peak resident memory (VmHWM) after the
neighbour search and at the end, so a build's memory is measured apart from the benchmark's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.context import build_command
from recommender.builder import all_categories, liked_matrix, write_serving_files
from recommender.index_store import IndexStore, write_manifest
from recommender.layout import FORMAT_VERSION, INDEX_FILE, NEIGHBOURS_FILE, SCORES_FILE
from recommender.neighbours.annoy_index import build_neighbour_search
from recommender.neighbours.lookup import METRIC

DIMENSIONS = 64
ITEMS_PER_CLUSTER = 500
NOISE = 0.35  # norm of the noise added to a cluster centre (per component: NOISE / sqrt(DIMENSIONS))
VECTORS_FILE = "vectors.npy"
GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Animation", "Documentary", "Thriller",
          "Western")
WORDS = ("river night garden storm city dragon winter island mirror engine shadow summer castle ocean forest "
         "rocket silver empire broken hidden golden last secret lost dark wild blue red iron glass paper "
         "stone fire ice thunder velvet crimson midnight morning northern southern falling rising distant "
         "quiet electric lonely").split()


def clustered_vectors(n_items: int, dims: int = DIMENSIONS, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(1, n_items // ITEMS_PER_CLUSTER), dims)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = np.empty((n_items, dims), dtype=np.float32)
    for start in range(0, n_items, 100_000):
        stop = min(n_items, start + 100_000)
        chunk = centres[rng.integers(0, len(centres), stop - start)]
        chunk += rng.standard_normal(chunk.shape, dtype=np.float32) * np.float32(NOISE / np.sqrt(dims))
        vectors[start:stop] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return vectors


def synthetic_items(n_items: int, seed: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = np.array(WORDS)[rng.integers(0, len(WORDS), (n_items, 3))]
    n_words = rng.integers(1, 4, n_items)
    titles = [f"Item {i} " + " ".join(words[i, :n_words[i]]) for i in range(n_items)]
    return pd.DataFrame({
        "item_id": np.arange(n_items).astype(str),
        "title": titles,
        "description": "",
        "categories": np.array(GENRES)[rng.integers(0, len(GENRES), n_items)],
        "year": pd.array(rng.integers(1950, 2025, n_items), dtype="Int64"),
        "interaction_count": np.zeros(n_items, dtype=np.int64),
        "collaborative_share": np.zeros(n_items, dtype=float),
    })


def peak_rss_bytes() -> int:
    """This process's peak resident set so far (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def write_version(vectors: np.ndarray, make_items, out_dir: Path) -> dict:
    """A complete version directory, as build_index writes one, from given vectors and the items
    that make_items() returns. The items are made after the index, so the index build's peak memory
    is that of the vectors and the index alone. Returns the phase times and peak memory."""
    started = time.perf_counter()
    ann = build_neighbour_search(vectors, out_dir)
    index_seconds = time.perf_counter() - started
    index_peak = peak_rss_bytes()
    items = make_items()
    started = time.perf_counter()
    serving = write_serving_files(out_dir, items, liked_matrix(items, None))
    serving_seconds = time.perf_counter() - started
    files = {name: (out_dir / name).stat().st_size for name in (INDEX_FILE, NEIGHBOURS_FILE, SCORES_FILE)}
    write_manifest(out_dir, {
        "format": FORMAT_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "item_count": len(items), "interaction_count": 0, "dimensions": vectors.shape[1], "metric": METRIC,
        **asdict(ann), "evaluation": None, "source_hash": "synthetic", "settings": {},
        "files": {**files, **serving}, "categories": all_categories(items),
        "notes": ["synthetic benchmark catalog"],
    })
    return {"index_seconds": index_seconds, "index_peak_rss": index_peak, "serving_seconds": serving_seconds,
            "peak_rss": peak_rss_bytes(), "index_bytes": files[INDEX_FILE],
            "table_bytes": files[NEIGHBOURS_FILE] + files[SCORES_FILE], "trees": ann.trees,
            "search_k": ann.search_k, "table_method": ann.table_method, "table_recall": ann.table_recall_at_10}


def build_published(n_items: int, root: Path) -> dict:
    """Vectors (also saved as root/vectors.npy for exact search), items and a published version
    in the store root/data/indexes."""
    baseline = peak_rss_bytes()  # the interpreter and libraries, before any data
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    np.save(root / VECTORS_FILE, clustered_vectors(n_items))
    data_seconds = time.perf_counter() - started
    store = IndexStore(root / "data" / "indexes")
    with store.staging() as staging_dir:  # the build reads the vectors from their file, as the builder does
        summary = write_version(np.load(root / VECTORS_FILE, mmap_mode="r"), lambda: synthetic_items(n_items),
                                staging_dir)
        version = store.publish(staging_dir)
    return {**summary, "baseline_rss": baseline, "data_seconds": data_seconds,
            "version_dir": str(store.version_path(version))}


@dataclass
class SyntheticVersion:
    """A synthetic catalog built by a child process, and what that build cost."""

    n_items: int
    root: Path
    version_dir: Path
    wall_seconds: float
    build: dict

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def vectors(self) -> np.ndarray:
        return np.load(self.root / VECTORS_FILE, mmap_mode="r")


def build_in_subprocess(n_items: int, root: Path, timeout: float) -> SyntheticVersion:
    """Build in a child process, so its wall time and peak memory are its own."""
    argv = [sys.executable, "-m", "benchmarks.synthetic", "--items", str(n_items), "--root", str(root)]
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=Path(__file__).resolve().parent.parent)
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"synthetic build of {n_items} items failed:\n{err[-3000:]}")
    summary = json.loads(out.strip().splitlines()[-1])
    return SyntheticVersion(n_items, root, Path(summary["version_dir"]), wall, summary)


if __name__ == "__main__":
    build_command(__doc__, build_published)
