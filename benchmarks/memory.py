"""Section 6: the memory of a 4-worker gunicorn serving the largest synthetic version.

Proportional set size (PSS) splits each shared page among the processes mapping it, so the sum
over the master and its workers is what the web tier really costs, memory-mapped files included.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from benchmarks.context import Context
from benchmarks.load import HX, run_load
from benchmarks.report import Row, at_most, items, judged_at, mib, times
from benchmarks.server import Web
from benchmarks.synthetic import SyntheticVersion
from recommender.layout import INDEX_FILE, NEIGHBOURS_FILE, SCORES_FILE

LOAD_DEADLINE = 120
TARGET_RATIO = 1.3


def rollup(pid: int) -> dict[str, int]:
    """Pss (with its anonymous and file-backed parts) and Rss of a process, in bytes."""
    found = {"Pss_Anon": 0, "Pss_File": 0}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Pss", "Rss", "Pss_Anon", "Pss_File"):
            found[name] = int(rest.split()[0]) * 1024
    return found


def file_pss(pid: int, paths: list[Path]) -> int:
    """Pss of the mappings of the given files in a process, in bytes."""
    wanted = {str(p) for p in paths}
    total, inside = 0, False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and ":" not in fields[0]:  # a mapping's header line
            inside = len(fields) >= 6 and fields[5] in wanted
        elif inside and line.startswith("Pss:"):
            total += int(fields[1]) * 1024
    return total


def maps(pid: int, path: Path) -> bool:
    try:
        return str(path) in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def run(ctx: Context, version: SyntheticVersion) -> list[Row]:
    workers = ctx.plan.memory_workers
    index_path = version.version_dir / INDEX_FILE
    table_paths = [version.version_dir / NEIGHBOURS_FILE, version.version_dir / SCORES_FILE]
    rng = random.Random(8)
    paths = [f"/items/{rng.randrange(version.n_items)}/similar?k=10" for _ in range(200)]
    with Web(version.data_dir, ctx.logs, workers=workers) as web:
        ctx.log(f"memory: {workers} workers serving {items(version.n_items)} items; loading every worker")
        deadline = time.monotonic() + LOAD_DEADLINE
        while not all(maps(pid, index_path) for pid in web.worker_pids()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"not every worker loaded the index within {LOAD_DEADLINE} s")
            run_load(web.base, paths, 1, HX)
        run_load(web.base, paths, 2, HX)  # a few more similar requests for every worker
        pids = [web.master_pid, *web.worker_pids()]
        usage = [rollup(pid) for pid in pids]
        pss, rss = sum(u["Pss"] for u in usage), sum(u["Rss"] for u in usage)
        anon, file_backed = sum(u["Pss_Anon"] for u in usage), sum(u["Pss_File"] for u in usage)
        index_pages = sum(file_pss(pid, [index_path]) for pid in pids)
        table_pages = sum(file_pss(pid, table_paths) for pid in pids)
    index_bytes = index_path.stat().st_size
    table_bytes = sum(p.stat().st_size for p in table_paths)
    shown = (f"PSS {mib(pss)} (RSS {mib(rss)}) over master + {workers} workers: anonymous {mib(anon)}, file-backed "
             f"{mib(file_backed)}, of which index.ann pages {mib(index_pages)}, neighbours+scores pages "
             f"{mib(table_pages)} · files: index.ann {mib(index_bytes)}, neighbours+scores {mib(table_bytes)}")
    ratio, whole = pss / index_bytes, pss / (index_bytes + table_bytes)
    return [
        Row(f"Memory: gunicorn --workers {workers} serving {items(version.n_items)} synthetic items", shown,
            values={"pss": pss, "rss": rss, "pss_anon": anon, "pss_file": file_backed, "index_bytes": index_bytes,
                    "table_bytes": table_bytes}),
        judged_at(at_most(f"Memory: PSS of the {workers}-worker web tier ÷ index.ann size ({items(version.n_items)})",
                          ratio, TARGET_RATIO, f"{times(ratio)} ({times(whole)} of index + neighbour table)",
                          f"≤ {TARGET_RATIO}× at 1M"), version.n_items),
    ]
