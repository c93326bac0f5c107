"""Trending with a 10,000-visitor event history (issue 24): the trending fragment's req/s beside /healthz's
(ABBA slices, as the HTTP section judges the similar panel), on gunicorn over a copy of the demo data dir
whose store holds the history. The ingest rate with session_id is the store section's row."""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

from benchmarks.context import Context
from benchmarks.http import abba, abba_ratios, abba_shown
from benchmarks.load import HX, run_load
from benchmarks.report import Row, at_least, times
from benchmarks.server import Web
from recommender.store import Store

VISITORS = 10_000
EVENTS_PER_VISITOR = 10
HISTORY_SECONDS = 7 * 86_400
TRENDING_SHARE = 0.6
TYPES = ("view", "view", "view", "click", "like", "add_to_cart", "purchase")
TRENDING_PATHS = ["/trending?k=10", "/trending?k=10&window=1h", "/trending?k=10&window=7d"]


def event_history(data_dir: Path, item_ids: list[str], seed: int = 24) -> int:
    """VISITORS visitors' events over the last week, popular items more often, stored through Store.add_events."""
    rng = random.Random(seed)
    now = time.time()
    weights = [1.0 / (rank + 1) for rank in range(len(item_ids))]
    store = Store.open(None, data_dir)
    batch, stored = [], 0
    for visitor in range(VISITORS):
        for n, item_id in enumerate(rng.choices(item_ids, weights, k=EVENTS_PER_VISITOR)):
            batch.append({"user_id": f"visitor-{visitor}", "item_id": item_id, "type": rng.choice(TYPES),
                          "timestamp": now - rng.random() * HISTORY_SECONDS, "session_id": f"s{visitor}-{n // 4}"})
            if len(batch) == 1000:
                stored += store.add_events(batch)["accepted"]
                batch = []
    if batch:
        stored += store.add_events(batch)["accepted"]
    store.engine.dispose()
    return stored


def run(ctx: Context) -> list[Row]:
    plan = ctx.plan
    demo = ctx.demo()
    data_dir = ctx.workdir / "panels-data"
    shutil.copytree(demo.data_dir, data_dir, symlinks=True)
    with Web(data_dir, ctx.logs, workers=2, LIKEWISE_TRACKING="on") as web:
        stored = event_history(data_dir, demo.items["item_id"].astype(str).tolist())
        ctx.log(f"panels: {stored:,} events of {VISITORS:,} visitors stored; trending beside /healthz")
        for path in TRENDING_PATHS:
            run_load(web.base, [path], 1, HX)
        found = abba(lambda: run_load(web.base, TRENDING_PATHS, max(1.0, plan.http_seconds / 2), HX),
                     lambda: run_load(web.base, ["/healthz"], max(1.0, plan.http_seconds / 2)), plan.http_rounds)
    for arm, results in found.items():
        ctx.log(f"panels: {arm}: " + "; ".join(result.describe() for result in results))
    ratios = abba_ratios(found)
    ratio = sorted(ratios)[len(ratios) // 2]
    rate = sum(r.requests for r in found["on"]) / sum(r.seconds for r in found["on"])
    ctx.note(f"Trending: {stored:,} stored events of {VISITORS:,} visitors over 7 days (SQLite store); the fragment "
             "for windows 1h, 24h and 7d in turn, each window re-read from the store every 10 s per process.")
    return [at_least("HTTP trending partial req/s ÷ /healthz req/s (10,000-visitor history)", ratio, TRENDING_SHARE,
                     f"{times(ratio)} ({abba_shown(ratios)}; {rate:,.0f} req/s)", f"≥ {TRENDING_SHARE:.2f}×")]
