"""Section: the personal lists under load (issue 24): the for-you fragment of visitors with history, beside
/healthz, from gunicorn as the Procfile starts it, over a copy of the demo data dir whose store of record holds
the events of PANEL_VISITORS visitors (sent through the store's own add_events, as the events API does).

Every for-you answer is checked against the process's events watermark (re-read at most every 0.5 s for all
visitors; web/state/events_watermark.py) and renders again only when the visitor's events changed
(web/services/personal_lists.py keeps rendered answers per process): the cost of "a new event changes the list
within half a second". The target: ≥ 0.6× /healthz's req/s, median of ABBA runs.
"""

from __future__ import annotations

import random
import shutil
import time

from benchmarks.context import Context
from benchmarks.http import HX, abba, abba_ratios, abba_shown
from benchmarks.load import run_load
from benchmarks.report import Row, at_least, duration, median, times
from benchmarks.server import Web
from recommender.settings import Settings
from recommender.store import Store
from recommender.store.handle import StoreHandle

PANEL_VISITORS = 10_000
EVENTS_PER_VISITOR = 8
VISITOR_ITEMS = 2000  # visitors touch items among the catalog's first this many (a shop's traffic is skewed)
PATHS_CYCLED = 500
BATCH = 1000
SHARE = 0.6
WEEK = 7 * 86_400
EVENT_TYPES = ("view", "view", "view", "click", "like", "purchase")


def visitor_events(item_ids: list[str], seed: int = 24) -> list[dict]:
    rng = random.Random(seed)
    now = time.time()
    return [{"user_id": f"bench-v{v}", "item_id": rng.choice(item_ids), "type": rng.choice(EVENT_TYPES),
             "timestamp": now - rng.random() * WEEK}
            for v in range(PANEL_VISITORS) for _ in range(EVENTS_PER_VISITOR)]


def fill_store(data_dir, item_ids: list[str]) -> tuple[int, float]:
    """(events stored, seconds): the visitors' history, a thousand a call, after the demo's catalog files are
    imported as a first start does (here, so gunicorn's start does not wait for it)."""
    StoreHandle(None, data_dir).prepare(Settings(data_dir=data_dir).catalog_dir)
    store = Store.open(None, data_dir)
    events = visitor_events(item_ids)
    started = time.perf_counter()
    for start in range(0, len(events), BATCH):
        store.add_events(events[start:start + BATCH])
    seconds = time.perf_counter() - started
    store.engine.dispose()
    return len(events), seconds


def run(ctx: Context) -> list[Row]:
    plan = ctx.plan
    demo = ctx.demo()
    data_dir = ctx.workdir / "panels" / "data"
    shutil.copytree(demo.data_dir, data_dir, symlinks=True)  # indexes/current is a relative symlink
    stored, seconds = fill_store(data_dir, demo.items["item_id"].astype(str).tolist()[:VISITOR_ITEMS])
    ctx.log(f"panels: {stored:,} events of {PANEL_VISITORS:,} visitors stored in {seconds:.1f} s")
    rng = random.Random(7)
    paths = [f"/for-you?visitor=bench-v{rng.randrange(PANEL_VISITORS)}&k=10" for _ in range(PATHS_CYCLED)]
    with Web(data_dir, ctx.logs, workers=2, LIKEWISE_TRACKING="on") as web:
        status, _, body = web.get(paths[0], HX)
        if status != 200 or b'data-basis="history"' not in body:
            raise RuntimeError(f"{paths[0]} answered {status} without a history-based list")
        run_load(web.base, paths, 1, HX)
        run_load(web.base, ["/healthz"], 1, None)
        found = abba(lambda: run_load(web.base, paths, max(1.0, plan.http_seconds / 2), HX),
                     lambda: run_load(web.base, ["/healthz"], max(1.0, plan.http_seconds / 2), None),
                     plan.http_rounds)
    ratios = abba_ratios(found)
    ratio = median(ratios)
    on = found["on"]
    rate, p50, p99 = median(r.rate for r in on), median(r.p50 for r in on), median(r.p99 for r in on)
    ctx.note(f"Panels: {PANEL_VISITORS:,} visitors × {EVENTS_PER_VISITOR} events in the store of record "
             f"(SQLite, stored at {stored / seconds:,.0f} events/s); the for-you fragment of {PATHS_CYCLED} of them "
             "cycled, each answer checked against the events watermark re-read every 0.5 s (rendered again only "
             "when the visitor's events changed; the first pass renders every one); slices alternate /healthz, "
             "for-you, for-you, /healthz.")
    return [Row(f"HTTP for-you fragment `{paths[0]}` … ({PATHS_CYCLED} visitors, cycled)",
                f"{rate:,.0f} req/s · p50 {duration(p50)} · p99 {duration(p99)} · "
                f"{sum(r.failed for r in on)} failed", values={"rate": rate, "p50": p50, "p99": p99}),
            at_least("HTTP for-you fragment req/s ÷ /healthz req/s", ratio, SHARE, f"{times(ratio)} "
                     f"({abba_shown(ratios)})", f"≥ {SHARE:.2f}×")]
