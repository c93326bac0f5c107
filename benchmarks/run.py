"""`make bench` (`python -m benchmarks.run [--quick]`): every section, one table, saved under
benchmarks/results/<UTC time>.md. Everything started here (scratch files, gunicorn, wrk, build
processes) is stopped and removed before it exits, on failure and on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import builds, fresh, http, lookup, memory, merchandising, panels, search, shop_lists, store, swap
from benchmarks.context import Context, Plan
from benchmarks.report import Row, items, machine_description, render

RESULTS = Path(__file__).resolve().parent / "results"


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def section(ctx: Context, rows: list[Row], name: str, measure) -> None:
    """Run one section; a failure becomes a row saying so, and the other sections still run."""
    started = time.perf_counter()
    try:
        rows += measure()
    except Exception as exc:  # a benchmark that breaks is a result too
        ctx.log(f"{name} failed:\n{traceback.format_exc()}")
        rows.append(Row(f"{name}: did not complete", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                        met=False))
    ctx.log(f"{name} done in {time.perf_counter() - started:.0f} s")


def run_all(ctx: Context, only: set[str] | None = None) -> list[Row]:
    plan = ctx.plan
    rows: list[Row] = []
    versions: list = []

    def lookups() -> list[Row]:
        demo_dir = ctx.demo().store.current_path()
        found, built = lookup.run(list(plan.lookup_sizes), ctx.workdir, demo_dir, plan.lookup_rounds, plan.lookups,
                                  plan.exact_queries, plan.recall_sample, ctx.log, plan.build_timeout)
        versions.extend(built)
        return found

    def memory_use() -> list[Row]:
        if not versions:
            raise RuntimeError("the lookup section built no synthetic version to serve")
        gc.collect()  # drop the lookup section's maps of the files, so the web tier's PSS is its own
        return memory.run(ctx, versions[-1])

    sections = {
        "http": ("HTTP", lambda: http.run(ctx)),
        "lookup": ("Similar-items lookup", lookups),
        "search": ("Live search", lambda: search.run(plan.search_queries, plan.search_rounds, ctx.log)),
        "builds": ("Builds", lambda: builds.run(ctx)),
        "fresh": ("Freshness at demo size", lambda: fresh.run(ctx)),
        "short": ("Short-row build", lambda: builds.short_rows(ctx)),
        "swap": ("Hot swap", lambda: swap.run(ctx)),
        "memory": ("Memory", memory_use),
        "store": ("Store of record", lambda: store.run(ctx.workdir / "store", plan.store_rounds, plan.store_events,
                                                       ctx.log)),
        "panels": ("Panels", lambda: panels.run(ctx)),
        "trending": ("Trending and ingest (issue 24)", lambda: shop_lists.run(ctx)),
        "controls": ("Merchant controls", lambda: merchandising.run(ctx)),
    }
    for key, (name, measure) in sections.items():
        if only is None or key in only or (key == "lookup" and "memory" in only):
            section(ctx, rows, name, measure)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Likewise benchmarks: one markdown table of measured vs target.")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer rounds, shorter runs (< 2 min)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the result file")
    parser.add_argument("--only", help="comma-separated sections to run (http, lookup, search, builds, fresh, short, "
                        "swap, memory, store, panels, trending, controls; memory runs lookup too); default: all")
    args = parser.parse_args(argv)

    plan = Plan.quick() if args.quick else Plan()
    machine = machine_description()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(tempfile.mkdtemp(prefix="likewise-bench-"))
    ctx = Context(plan, workdir)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        rows = run_all(ctx, set(args.only.split(",")) if args.only else None)
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(workdir, ignore_errors=True)

    elapsed = time.perf_counter() - ctx.started
    sizes = ", ".join(items(n) for n in plan.lookup_sizes)
    ctx.notes.append(f"{'--quick run: ' if args.quick else ''}lookup sizes {sizes}; whole run {elapsed:.0f} s; "
                     f"load average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}. The machine is "
                     "shared: absolute numbers move with other work, compare rows of one run.")
    title = (f"Likewise benchmarks, {stamp}{' (--quick)' if args.quick else ''}"
             f"{f' (only: {args.only})' if args.only else ''}")
    text = render(title, machine, rows, ctx.notes)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stamp}.md").write_text(text, encoding="utf-8")
    print(f"written to {args.out / f'{stamp}.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
