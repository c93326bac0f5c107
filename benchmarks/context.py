"""What the sections share: the run's settings (full or --quick), its scratch directory, its log,
and the demo catalog with a published index, prepared once."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from recommender.catalog.demo import prepare_demo_catalog
from recommender.catalog.sources import CatalogFiles
from recommender.index_store import IndexStore, read_manifest
from recommender.pipeline import build_and_publish


@dataclass(frozen=True)
class Plan:
    """Sizes, rounds and durations; --quick trades precision for a run under two minutes."""

    http_seconds: float = 5
    http_rounds: int = 3
    lookup_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    lookup_rounds: int = 4
    lookups: int = 2000
    exact_queries: int = 100
    recall_sample: int = 500
    build_timeout: float = 480
    search_queries: int = 200
    search_rounds: int = 3
    rebuild_rounds: int = 2
    swap_steady_seconds: float = 5
    swap_publishes: int = 3
    memory_workers: int = 4
    store_rounds: int = 3
    store_events: int = 1_000_000

    @classmethod
    def quick(cls) -> Plan:
        return cls(http_seconds=2, http_rounds=2, lookup_sizes=(10_000, 100_000), lookup_rounds=2, lookups=1000,
                   exact_queries=50, build_timeout=240, search_rounds=1, rebuild_rounds=1, swap_steady_seconds=2,
                   swap_publishes=1, store_rounds=1, store_events=100_000)


@dataclass
class Demo:
    """The demo catalog's files and a data directory whose store serves an index built from them."""

    files: CatalogFiles
    data_dir: Path
    first_build_seconds: float  # build_and_publish of the first index into the fresh store
    first_build_phases: dict  # its manifest's "seconds": Annoy and neighbour table

    @property
    def store(self) -> IndexStore:
        return IndexStore(self.data_dir / "indexes")

    @cached_property
    def items(self) -> pd.DataFrame:
        return pd.read_csv(self.files.items, dtype={"item_id": str})


@dataclass
class Context:
    plan: Plan
    workdir: Path
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    _demo: Demo | None = None

    def log(self, message: str) -> None:
        print(f"[bench {time.perf_counter() - self.started:6.1f} s] {message}", file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    @property
    def logs(self) -> Path:
        path = self.workdir / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def demo(self) -> Demo:
        if self._demo is None:
            self.log("preparing the demo catalog and its first index")
            catalog = prepare_demo_catalog(self.workdir / "demo" / "catalog")
            files = CatalogFiles(catalog.items_path, catalog.interactions_path)
            data_dir = self.workdir / "demo" / "data"
            started = time.perf_counter()
            store = IndexStore(data_dir / "indexes")
            version = build_and_publish(store, files)
            seconds = time.perf_counter() - started
            phases = read_manifest(store.version_path(version)).get("seconds", {})
            self._demo = Demo(files, data_dir, seconds, phases)
        return self._demo


def build_command(doc: str, build: Callable[[int, Path], dict]) -> None:
    """The command line of a build run in its own process (`--items N --root DIR`): its summary goes to
    stdout as one JSON line, which the benchmark reads back."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--items", type=int, required=True)
    parser.add_argument("--root", type=Path, required=True)
    args = parser.parse_args()
    print(json.dumps(build(args.items, args.root)))
