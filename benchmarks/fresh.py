"""Freshness at demo size, end to end through a real stack (a private Redis, a `celery worker`,
gunicorn with 2 workers, the SQLite store of record, deployed defaults for the quiet period and
the reload interval): the demo catalog uploaded through the admin API until it is served
(evaluation included), then a PUT item until it is searchable with similar items, and an update
until it shows (issue 12 section 4, issue 15)."""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import uuid

from benchmarks.context import Context
from benchmarks.report import Row, at_most, median
from recommender.index_store import read_manifest
from tests.helpers.processes import http_call, live_stack, wait_for

TOKEN = "bench-admin-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
UPLOAD_TARGET_S = 20.0
SEARCHABLE_TARGET_S = 15.0
WAIT_S = 180.0
K = 10


def ask(base: str, path: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    status, _, raw = http_call(base, path, method, body, {**HEADERS, **(headers or {})})
    return status, (json.loads(raw) if raw else None)


def multipart(files: dict) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{path.name}"\r\n'
             f"Content-Type: text/csv\r\n\r\n".encode() + path.read_bytes() + b"\r\n" for field, path in files.items()]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def served_version(base: str) -> str | None:
    status, summary = ask(base, "/api/admin/index")
    return summary.get("serving") if status == 200 else None


def upload_seconds(ctx: Context, base: str) -> tuple[float, str]:
    """POST the demo files to /api/admin/catalog; seconds until the web tier serves the new version."""
    files = ctx.demo().files
    body, content_type = multipart({"items": files.items, "interactions": files.interactions})
    before = served_version(base)
    status, answer = ask(base, "/api/admin/catalog", "POST", body, {"Content-Type": content_type})
    started = time.perf_counter()
    if status != 202:
        raise RuntimeError(f"upload refused: {status} {answer}")

    def done():
        state = ask(base, f"/api/admin/jobs/{answer['job_id']}")[1]
        if state["state"] == "FAILURE":
            raise RuntimeError(f"the upload's build failed: {state['error']}")
        version = state["index_version"] if state["state"] == "SUCCESS" else None
        return version if version and version != before and served_version(base) == version else None
    version = wait_for(done, WAIT_S, "the uploaded catalog to be served", interval=0.1)
    return time.perf_counter() - started, version


def put_item(base: str, item_id: str, title: str) -> float:
    body = json.dumps({"title": title, "description": "A heist film about a river and a garden.",
                       "categories": ["Action", "Crime"], "year": 1998}).encode()
    status, answer = ask(base, f"/api/admin/items/{item_id}", "PUT", body, {"Content-Type": "application/json"})
    if status not in (200, 201):
        raise RuntimeError(f"PUT refused: {status} {answer}")
    return time.perf_counter()


def searchable_seconds(base: str, item_id: str, title: str, stored: float) -> float:
    """Seconds from the PUT's answer until search finds the title and the item has K similar items."""
    query = urllib.parse.quote_plus(title)

    def ready():
        found = ask(base, f"/api/search?q={query}")[1]["results"]
        if item_id not in [r["item_id"] for r in found[:3]]:
            return None
        status, similar = ask(base, f"/api/items/{urllib.parse.quote(item_id)}/similar?k={K}")
        return status == 200 and len(similar["results"]) == K or None
    wait_for(ready, WAIT_S, f"{item_id} to be searchable with similar items", interval=0.1)
    return time.perf_counter() - stored


def build_split(data_dir, version: str) -> str:
    """What a version's build spent: all of it (wall, and CPU: near what an idle machine takes), and
    the evaluation (or its reuse) within it."""
    manifest = read_manifest(data_dir / "indexes" / "versions" / version)
    tuning = manifest.get("tuned_settings", {})
    how = f"carried from {tuning.get('evaluated_in')}" if tuning.get("carried") else "evaluated"
    return (f"build {manifest.get('build_seconds', float('nan')):.1f} s wall, "
            f"{manifest.get('build_cpu_seconds', float('nan')):.1f} s CPU; tuning {tuning.get('seconds', 0):.1f} s "
            f"({how})")


def changes(base: str, rounds: int, log) -> tuple[list[float], list[float], str]:
    """PUT a new item, then update its title, `rounds` times; seconds until each shows."""
    added, updated = [], []
    for n in range(rounds):
        item_id, title = f"bench-fresh-{n}", f"Quixotic Zanzibar Heist {n}"
        added.append(searchable_seconds(base, item_id, title, put_item(base, item_id, title)))
        new_title = f"Quixotic Zanzibar Heist {n} Returns"
        updated.append(searchable_seconds(base, item_id, new_title, put_item(base, item_id, new_title)))
        log(f"fresh: PUT -> searchable {added[-1]:.1f} s, update -> shows {updated[-1]:.1f} s")
    return added, updated, served_version(base)


def machine_load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run(ctx: Context) -> list[Row]:
    data_dir, logs = ctx.workdir / "fresh", ctx.logs
    data_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"likewise-bench-{uuid.uuid4().hex[:8]}:"
    # the deployed reload poll, not the integration tests' faster one
    with live_stack(data_dir, logs, prefix, workers=2, worker_name="fresh-worker",
                    without=("LIKEWISE_RELOAD_SECONDS",), ADMIN_TOKEN=TOKEN) as stack:
        base = stack.base
        load_before = machine_load()
        upload, uploaded = upload_seconds(ctx, base)
        ctx.log(f"fresh: upload -> served {upload:.1f} s ({build_split(data_dir, uploaded)})")
        added, updated, last = changes(base, ctx.plan.rebuild_rounds, ctx.log)
        load_after = machine_load()
    items = f"{len(ctx.demo().items):,}-item demo, SQLite, real worker"
    loads = f"load {load_before} -> {load_after}"
    return [
        at_most(f"Upload → served at demo size, evaluation included ({items})", upload, UPLOAD_TARGET_S,
                f"{upload:.1f} s ({build_split(data_dir, uploaded)}; {loads})", f"≤ {UPLOAD_TARGET_S:g} s"),
        at_most(f"PUT a new item → searchable with {K} similar items ({items}, quiet period included)",
                median(added), SEARCHABLE_TARGET_S, f"{median(added):.1f} s (runs: "
                f"{', '.join(f'{s:.1f}' for s in added)}; {build_split(data_dir, last)})",
                f"≤ {SEARCHABLE_TARGET_S:g} s"),
        at_most(f"Update an item's title → shows in search ({items})", median(updated), SEARCHABLE_TARGET_S,
                f"{median(updated):.1f} s (runs: {', '.join(f'{s:.1f}' for s in updated)})",
                f"≤ {SEARCHABLE_TARGET_S:g} s"),
    ]
