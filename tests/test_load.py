"""A bounded load test on loopback: 50 keep-alive clients ask for search and similar-items fragments
for about 60 s while three rebuilds publish one after another; not one request may fail.

The stack is real: redis-server, a `celery worker`, gunicorn with 2 processes, and the demo items.
The latency table (p50/p99 before, during and after the swaps) is printed and written to
test-output/load.txt."""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import pandas as pd
import pytest

from recommender.catalog.demo import prepare_demo_catalog
from recommender.catalog.sources import ActiveCatalog, CatalogFiles
from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.processes import http_call, live_stack, wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
TOKEN = "integration-admin-token"  # what tests.helpers.processes.service_env gives every service
PREFIX = f"likewise-load-{uuid.uuid4().hex[:8]}:"
CLIENTS = 50
DURATION = 60.0
BEFORE_SECONDS = 10.0
SETTLE_SECONDS = 2.0
REBUILDS = 3
REQUEST_TIMEOUT = 10.0
JOB_SECONDS = 90.0
HARD_STOP = 200.0
OUTPUT = ROOT / "test-output" / "load.txt"


@dataclass
class Answer:
    started: float
    seconds: float
    kind: str
    status: int
    version: str | None = None
    size: int = 0
    error: str = ""


@dataclass
class Rebuilds:
    """What the rebuild driver did; times are seconds from the start of the run."""

    requested: list[float] = field(default_factory=list)
    published: list[float] = field(default_factory=list)
    jobs: list[dict] = field(default_factory=list)
    error: str = ""
    done: threading.Event = field(default_factory=threading.Event)


# -- a minimal HTTP/1.1 keep-alive client -----------------------------------------------------------

class Connection:
    """One client's connection, reused while the server keeps it open (gunicorn's sync workers close
    after each answer, so then it reconnects)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict) -> tuple[int, dict, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Connection: keep-alive",
                 *(f"{k}: {v}" for k, v in headers.items()), "", ""]
        self.writer.write("\r\n".join(lines).encode())
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection without answering")
        status = int(status_line.split()[1])
        answer_headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            answer_headers[name.strip().lower()] = value.strip()
        if "content-length" in answer_headers:
            body = await self.reader.readexactly(int(answer_headers["content-length"]))
        elif answer_headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = await self.reader.read()
            answer_headers["connection"] = "close"
        if answer_headers.get("connection", "").lower() == "close":
            self.close()
        return status, answer_headers, body

    async def _chunked(self) -> bytes:
        parts = []
        while (size := int((await self.reader.readline()).split(b";")[0], 16)):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()
        await self.reader.readline()
        return b"".join(parts)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


# -- the stack and the traffic --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The demo items with a first index, a worker and gunicorn (2 processes) on a private key prefix.

    The active catalog is the demo's items file without its ratings: a rebuild then takes seconds
    instead of tens of seconds on a small loaded machine, so three swaps fit in the minute. Every
    version has the same items, so every similar panel asked for exists in all of them."""
    data_dir = tmp_path_factory.mktemp("load-data")
    logs = tmp_path_factory.mktemp("load-logs")
    demo = prepare_demo_catalog(tmp_path_factory.mktemp("load-demo"))
    active = ActiveCatalog(data_dir / "catalog")
    active.replace_with(CatalogFiles(demo.items_path))
    build_and_publish(IndexStore(data_dir / "indexes"), active.files())
    items = pd.read_csv(demo.items_path, dtype=str)
    with live_stack(data_dir, logs, PREFIX) as stack:
        yield {"base": stack.base, "store": IndexStore(data_dir / "indexes"), "items": items}


def request_paths(items: pd.DataFrame) -> list[tuple[str, str]]:
    """Searches for title prefixes of many lengths, and similar panels of items spread over the catalog."""
    titles = items["title"].iloc[:: max(1, len(items) // 60)].tolist()
    prefixes = sorted({t.lower()[:n].strip() for t in titles for n in (3, 5, 8) if t[:n].strip()})
    ids = items["item_id"].iloc[:: max(1, len(items) // 200)].tolist()
    searches = [("search", "/search?q=" + quote(p)) for p in prefixes]
    similar = [("similar", f"/items/{quote(i, safe='')}/similar?k=10") for i in ids]
    mixed = []
    for n in range(max(len(searches), len(similar))):
        mixed += [searches[n % len(searches)], similar[n % len(similar)]]
    return mixed


def drive_rebuilds(base: str, start: float, record: Rebuilds) -> None:
    """After BEFORE_SECONDS, request REBUILDS rebuilds one after another, each followed to its end."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        time.sleep(max(0.0, start + BEFORE_SECONDS - time.monotonic()))
        for _ in range(REBUILDS):
            record.requested.append(time.monotonic() - start)
            status, _, raw = http_call(base, "/api/admin/rebuild", "POST", headers=headers, timeout=30)
            answer = json.loads(raw)
            if status != 202:
                raise RuntimeError(f"rebuild request answered {status}: {answer}")

            def finished(job_id=answer["job_id"]):
                status, _, raw = http_call(base, f"/api/admin/jobs/{job_id}", headers=headers, timeout=30)
                job = json.loads(raw)
                return status == 200 and job["state"] in ("SUCCESS", "FAILURE") and job
            job = wait_for(finished, JOB_SECONDS, f"rebuild {answer['job_id']}", interval=0.25)
            record.published.append(time.monotonic() - start)
            record.jobs.append(job)
            if job["state"] != "SUCCESS":
                raise RuntimeError(f"rebuild failed: {job}")
    except Exception as exc:  # reported by the test, which must also stop the clients
        record.error = f"{type(exc).__name__}: {exc}"
    finally:
        record.done.set()


def end_of_run(start: float, record: Rebuilds) -> float:
    """DURATION seconds, stretched (up to HARD_STOP) so the run always ends with an 'after' phase."""
    if not record.done.is_set():
        return start + HARD_STOP
    last = record.published[-1] if record.published else 0.0
    return start + max(DURATION, last + SETTLE_SECONDS + BEFORE_SECONDS / 2)


async def client(n: int, base: str, paths: list[tuple[str, str]], start: float, record: Rebuilds,
                 answers: list[Answer]) -> None:
    address = urlsplit(base)
    connection = Connection(address.hostname, address.port)
    step = 0
    try:
        while time.monotonic() < end_of_run(start, record):
            kind, path = paths[(n * 7 + step) % len(paths)]
            step += 1
            began = time.monotonic()
            try:
                status, headers, body = await asyncio.wait_for(connection.get(path, {"HX-Request": "true"}),
                                                               REQUEST_TIMEOUT)
                answers.append(Answer(began - start, time.monotonic() - began, kind, status,
                                      headers.get("x-index-version"), len(body)))
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, IndexError) as exc:
                connection.close()
                answers.append(Answer(began - start, time.monotonic() - began, kind, 0,
                                      error=f"{type(exc).__name__}: {exc}"))
    finally:
        connection.close()


async def run_load(base: str, paths: list[tuple[str, str]], record: Rebuilds) -> list[Answer]:
    answers: list[Answer] = []
    start = time.monotonic()
    driver = threading.Thread(target=drive_rebuilds, args=(base, start, record), daemon=True)
    driver.start()
    await asyncio.gather(*(client(n, base, paths, start, record, answers) for n in range(CLIENTS)))
    driver.join(timeout=JOB_SECONDS)
    return answers


# -- the report -------------------------------------------------------------------------------------

def phase_of(answer: Answer, record: Rebuilds) -> str:
    if not record.requested or answer.started < record.requested[0]:
        return "before"
    if record.published and answer.started <= record.published[-1] + SETTLE_SECONDS:
        return "during"
    return "after" if record.published else "during"


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def table(answers: list[Answer], record: Rebuilds) -> str:
    rows = [f"{'phase':<8} {'kind':<8} {'requests':>9} {'failed':>7} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}"]
    spans = {}
    for phase in ("before", "during", "after"):
        times = [a.started for a in answers if phase_of(a, record) == phase]
        spans[phase] = (max(times) - min(times)) if len(times) > 1 else 0.0
        for kind in ("search", "similar", "all"):
            chosen = [a for a in answers if phase_of(a, record) == phase and kind in ("all", a.kind)]
            latencies = [a.seconds * 1000 for a in chosen]
            rate = len(chosen) / spans[phase] if spans[phase] else 0.0
            rows.append(f"{phase:<8} {kind:<8} {len(chosen):>9} {sum(a.status != 200 for a in chosen):>7} "
                        f"{rate:>7.1f} {percentile(latencies, 50):>8.1f} {percentile(latencies, 99):>8.1f}")
    rows.append("rebuilds requested at " + ", ".join(f"{t:.1f}" for t in record.requested)
                + " s; published at " + ", ".join(f"{t:.1f}" for t in record.published) + " s")
    return "\n".join(rows)


def test_fifty_clients_see_no_failure_while_three_versions_are_published(stack, capsys):
    """Every request of every client is a 200 within 10 s while the index is rebuilt and swapped three
    times under it, and the clients see the new versions arrive."""
    paths = request_paths(stack["items"])
    before = stack["store"].current_version()
    status, _, _ = http_call(stack["base"], paths[1][1], headers={"HX-Request": "true"})
    assert status == 200, "the stack does not answer a similar panel before the run"
    record = Rebuilds()
    answers = asyncio.run(run_load(stack["base"], paths, record))
    report = table(answers, record)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(report + "\n", encoding="utf-8")
    with capsys.disabled():
        print(f"\n{report}\n(written to {OUTPUT.relative_to(ROOT)})")

    assert not record.error, record.error
    published = [job["index_version"] for job in record.jobs]
    assert len(set(published)) == REBUILDS and before not in published, record.jobs
    failures = [a for a in answers if a.status != 200]
    assert not failures, f"{len(failures)} of {len(answers)} requests failed, e.g. {failures[:5]}"
    unversioned = [a for a in answers if a.kind == "similar" and not a.version]
    assert not unversioned, f"similar panels without X-Index-Version: {unversioned[:5]}"
    assert all(a.size > 0 for a in answers), "an empty answer"
    seen = {a.version for a in answers if a.kind == "similar"} - {None}
    assert len(seen) >= 3, f"the clients saw only these versions: {sorted(seen)}"
    assert published[-1] in seen, "no client was served the last published version"
    for phase in ("before", "during", "after"):
        assert any(phase_of(a, record) == phase for a in answers), f"no request in the '{phase}' phase"
