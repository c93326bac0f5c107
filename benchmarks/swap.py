"""Section 5: publishing new index versions while gunicorn serves the similar partial under load.

Four wrk runs: before (steady state); during rebuilds (a child process rebuilds and publishes the demo
catalog, as the worker would); during switches back to kept versions (rollback: the swap's own cost,
with no build competing); after. The worker is given its own core, as the README's Deploy section
says to run it: the build child is pinned to one core (sched_setaffinity, as `taskset` does), and
gunicorn, wrk and this process to the others, for all four runs. After each publish,
the similar partial is asked for again and again until every web process answers with the new
version (X-Index-Version); the swap time runs from the publish to the first answer after the
last answer from the old version.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import time
import urllib.error
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from benchmarks.context import Context
from benchmarks.load import HX, Load, LoadResult, run_load
from benchmarks.report import Row, at_most, times
from benchmarks.server import Web
from recommender.pipeline import build_and_publish

CONSECUTIVE = 20  # answers in a row from the new version that count as "every process has it"
SWAP_DEADLINE = 30
TARGET_SWAP_SECONDS = 2.0
BUILD_TIMEOUT = 900


def split_cores() -> tuple[set[int], set[int]]:
    """(the web tier's and load client's cores, the worker's core): the last core for the worker."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise RuntimeError(f"the worker needs a core of its own, but this process may use only {cores}")
    return set(cores[:-1]), {cores[-1]}


@contextlib.contextmanager
def pinned(cores: set[int]):
    """This process (and every process it starts meanwhile: gunicorn, wrk) on `cores` only."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _pin(cores: set[int]) -> None:
    os.sched_setaffinity(0, cores)


def pinned_worker(cores: set[int]) -> ProcessPoolExecutor:
    """One fresh process on `cores`, like a Celery worker with --concurrency 1 under taskset."""
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_pin,
                               initargs=(cores,))
    got = pool.submit(os.sched_getaffinity, 0).result(timeout=120)
    if got != cores:
        pool.shutdown(cancel_futures=True)
        raise RuntimeError(f"the build process runs on cores {sorted(got)}, not {sorted(cores)}")
    return pool


def time_until_served(web: Web, version: str, published_at: float, paths: list[str]) -> tuple[float, int]:
    """Seconds from the publish until every process serves `version`, and failed poll requests."""
    answers: list[tuple[float, bool]] = []
    failed = 0
    rng = random.Random(version)
    while time.perf_counter() - published_at < SWAP_DEADLINE:
        try:
            status, headers, _ = web.get(rng.choice(paths), HX, timeout=5)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            status, headers = 0, {}
        if status != 200:
            failed += 1
            continue
        answers.append((time.perf_counter(), headers.get("X-Index-Version") == version))
        if len(answers) >= CONSECUTIVE and all(new for _, new in answers[-CONSECUTIVE:]):
            last_old = max((i for i, (_, new) in enumerate(answers) if not new), default=-1)
            return answers[last_old + 1][0] - published_at, failed
    return float("inf"), failed


@dataclass
class Phase:
    """One load run during which versions were switched, and how long each switch took to be served."""

    load: LoadResult
    seconds: float
    swaps: list[float]
    poll_failures: int

    @property
    def failed(self) -> int:
        return self.load.failed + self.poll_failures


def under_load(web: Web, paths: list[str], switches: list[Callable[[], str]]) -> Phase:
    """Keep the similar partial under load while each switch (returning the version it made current) runs."""
    load = Load(web.base, paths, 3600, HX).start()
    swaps, poll_failures = [], 0
    try:
        started = time.perf_counter()
        for switch in switches:
            version = switch()
            seconds, failed = time_until_served(web, version, time.perf_counter(), paths)
            swaps.append(seconds)
            poll_failures += failed
        load.stop()
        return Phase(load.result(), time.perf_counter() - started, swaps, poll_failures)
    finally:
        load.kill()


def run(ctx: Context) -> list[Row]:
    plan = ctx.plan
    demo = ctx.demo()
    store = demo.store
    ids = random.Random(6).sample(demo.items["item_id"].tolist(), 200)
    paths = [f"/items/{i}/similar?k=10" for i in ids]
    web_cores, worker_cores = split_cores()
    ctx.log(f"swap: build process on core {sorted(worker_cores)}, gunicorn and wrk on {sorted(web_cores)}")
    with pinned_worker(worker_cores) as worker, pinned(web_cores), Web(demo.data_dir, ctx.logs, workers=2) as web:
        run_load(web.base, paths, 1, HX)
        ctx.log("swap: steady state before")
        before = run_load(web.base, paths, plan.swap_steady_seconds, HX)
        ctx.log(f"swap: rebuilding and publishing {plan.swap_publishes} versions under load")

        def rebuild() -> str:
            return worker.submit(build_and_publish, store, demo.files).result(timeout=BUILD_TIMEOUT)

        builds = under_load(web, paths, [rebuild] * plan.swap_publishes)
        ctx.log("swap: switching back to kept versions under load (no build running)")
        kept = [m["version"] for m in store.versions() if not m["current"]][:plan.swap_publishes]
        rollbacks = under_load(web, paths, [lambda v=v: store.rollback(v) for v in kept])
        ctx.log("swap: steady state after")
        after = run_load(web.base, paths, plan.swap_steady_seconds, HX)
    return rows(before, builds, rollbacks, after, (web_cores, worker_cores))


def rows(before: LoadResult, builds: Phase, rollbacks: Phase, after: LoadResult,
         cores: tuple[set[int], set[int]]) -> list[Row]:
    failed = before.failed + builds.failed + rollbacks.failed + after.failed
    requests = before.requests + builds.load.requests + rollbacks.load.requests + after.requests
    p99_ratio = builds.load.p99 / before.p99
    slowest = max(builds.swaps)
    each = ", ".join(f"{s:.2f}" for s in builds.swaps)
    web_cores, worker_cores = (",".join(map(str, sorted(c))) for c in cores)
    return [
        Row("Hot swap: similar partial before (steady state)", before.describe(),
            values={"rate": before.rate, "p99": before.p99}),
        Row(f"Hot swap: similar partial during {len(builds.swaps)} rebuild+publish of the demo catalog "
            f"({builds.seconds:.0f} s; the builds run in a child process pinned to core {worker_cores}, gunicorn and "
            f"wrk on core {web_cores})",
            builds.load.describe(), values={"rate": builds.load.rate, "p99": builds.load.p99}),
        Row(f"Hot swap: similar partial during {len(rollbacks.swaps)} switches to kept versions (rollback, no build "
            f"running: the swap's own cost; {rollbacks.seconds:.0f} s)",
            f"{rollbacks.load.describe()} · p99 {times(rollbacks.load.p99 / before.p99)} before's · served after "
            + ", ".join(f"{s:.2f}" for s in rollbacks.swaps) + " s",
            values={"rate": rollbacks.load.rate, "p99": rollbacks.load.p99}),
        Row("Hot swap: similar partial after", after.describe(), values={"rate": after.rate, "p99": after.p99}),
        at_most("Hot swap: failed requests (non-2xx + socket errors, incl. version polls), all runs above", failed, 0,
                f"{failed} of {requests:,}", "0"),
        at_most("Hot swap: p99 during the rebuilds ÷ p99 before (worker on its own core)", p99_ratio, 2.0,
                times(p99_ratio), "≤ 2×"),
        at_most("Hot swap: publish → every web process serves the new version (slowest of the publishes)", slowest,
                TARGET_SWAP_SECONDS, f"{slowest:.2f} s (each: {each} s)", f"≤ {TARGET_SWAP_SECONDS:g} s"),
    ]
