"""Section 5: publishing new index versions while gunicorn serves the similar partial under load.

Three wrk runs: before (steady state), during (while this process rebuilds and publishes the demo
catalog, competing for the CPU as a worker on the same box would), after. After each publish,
the similar partial is asked for again and again until every web process answers with the new
version (X-Index-Version); the swap time runs from the publish to the first answer after the
last answer from the old version.
"""

from __future__ import annotations

import random
import time
import urllib.error

from benchmarks.context import Context
from benchmarks.load import HX, Load, LoadResult, run_load
from benchmarks.report import Row, at_most, times
from benchmarks.server import Web
from recommender.pipeline import build_and_publish

CONSECUTIVE = 20  # answers in a row from the new version that count as "every process has it"
SWAP_DEADLINE = 30
TARGET_SWAP_SECONDS = 2.0


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


def run(ctx: Context) -> list[Row]:
    plan = ctx.plan
    demo = ctx.demo()
    ids = random.Random(6).sample(demo.items["item_id"].tolist(), 200)
    paths = [f"/items/{i}/similar?k=10" for i in ids]
    swaps: list[float] = []
    poll_failures = 0
    with Web(demo.data_dir, ctx.logs, workers=2) as web:
        run_load(web.base, paths, 1, HX)
        ctx.log("swap: steady state before")
        before = run_load(web.base, paths, plan.swap_steady_seconds, HX)
        ctx.log(f"swap: publishing {plan.swap_publishes} versions under load")
        load = Load(web.base, paths, 3600, HX).start()
        try:
            started = time.perf_counter()
            for _ in range(plan.swap_publishes):
                version = build_and_publish(demo.store, demo.files)
                seconds, failed = time_until_served(web, version, time.perf_counter(), paths)
                swaps.append(seconds)
                poll_failures += failed
            load.stop()
            during = load.result()
            during_seconds = time.perf_counter() - started
        finally:
            load.kill()
        ctx.log("swap: steady state after")
        after = run_load(web.base, paths, plan.swap_steady_seconds, HX)
    return rows(before, during, after, during_seconds, swaps, poll_failures)


def rows(before: LoadResult, during: LoadResult, after: LoadResult, during_seconds: float, swaps: list[float],
         poll_failures: int) -> list[Row]:
    publishes = len(swaps)
    failed = before.failed + during.failed + after.failed + poll_failures
    p99_ratio = during.p99 / before.p99
    slowest = max(swaps)
    return [
        Row("Hot swap: similar partial before (steady state)", before.describe(),
            values={"rate": before.rate, "p99": before.p99}),
        Row(f"Hot swap: similar partial during {publishes} rebuild+publish of the demo catalog "
            f"({during_seconds:.0f} s; the builds share the 2 cores)", during.describe(),
            values={"rate": during.rate, "p99": during.p99}),
        Row("Hot swap: similar partial after", after.describe(), values={"rate": after.rate, "p99": after.p99}),
        at_most("Hot swap: failed requests (non-2xx + socket errors), before + during + after", failed, 0,
                f"{failed} of {before.requests + during.requests + after.requests:,}", "0"),
        at_most("Hot swap: p99 during ÷ p99 before", p99_ratio, 2.0, times(p99_ratio), "≤ 2×"),
        at_most("Hot swap: publish → every web process serves the new version (slowest of the publishes)", slowest,
                TARGET_SWAP_SECONDS, f"{slowest:.2f} s (each: {', '.join(f'{s:.2f}' for s in swaps)} s)",
                f"≤ {TARGET_SWAP_SECONDS:g} s"),
    ]
