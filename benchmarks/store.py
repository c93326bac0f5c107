"""The store of record: how fast events go in (SQLite and PostgreSQL) and how long a build's read of
a million stored events takes through the SQL aggregate. Scratch databases only: a SQLite file in
the work dir and a PostgreSQL database of our own (dropped afterwards) when a server answers."""

from __future__ import annotations

import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import text

from benchmarks.report import Row, at_least, at_most, median
from recommender.store import DatabaseCatalogSource, Store

INGEST_BATCHES = 10
INGEST_BATCH = 1000
INGEST_TARGET_PER_S = 5000
AGGREGATE_EVENTS = 1_000_000
AGGREGATE_ITEMS = 5_000
AGGREGATE_USERS = 20_000
AGGREGATE_TARGET_S = 30.0
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/"
GENERATED_ITEMS = text("""
WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k + 1 < :items)
INSERT INTO items (item_id, title, description, categories, image_url, url, hidden, attributes, created_at, updated_at)
SELECT 'i' || k, 'Item ' || k, '', '', '', '', false, '{}', :now, :now FROM n
""")
GENERATED_EVENTS = text("""
WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k + 1 < :count)
INSERT INTO events (event_id, user_id, item_id, type, value, ts, received_at)
SELECT NULL, 'u' || ((k * 7919) % :users), 'i' || ((k * 104729) % :items),
       CASE k % 5 WHEN 0 THEN 'view' WHEN 1 THEN 'click' WHEN 2 THEN 'like' WHEN 3 THEN 'add_to_cart'
                  ELSE 'purchase' END,
       NULL, :now - (k % 400) * 86400.0 / 2, :now FROM n
""")


@contextmanager
def scratch_postgres():
    """A PostgreSQL database of our own, or None when no server answers on this machine."""
    name = "likewise_bench_" + uuid.uuid4().hex[:12]
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        yield None
        return
    try:
        yield POSTGRES_SERVER_URL + name
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def events_per_second(store: Store) -> float:
    """Batches of 1,000 events through Store.add_events, as POST /api/events sends them."""
    store.put_items([{"item_id": f"i{n}", "title": f"Item {n}"} for n in range(100)])
    now = time.time()
    batches = [[{"user_id": f"u{n % 500}", "item_id": f"i{n % 100}", "type": "view", "event_id": f"b{b}-{n}",
                 "timestamp": now - n, "session_id": f"s{b}-{n // 5}"} for n in range(INGEST_BATCH)]
               for b in range(INGEST_BATCHES)]  # every event in a session (an order) of five, as a shop sends
    started = time.perf_counter()
    accepted = sum(store.add_events(batch)["accepted"] for batch in batches)
    seconds = time.perf_counter() - started
    if accepted != INGEST_BATCHES * INGEST_BATCH:
        raise RuntimeError(f"only {accepted} events were accepted")
    return accepted / seconds


def aggregate_seconds(workdir: Path, events: int) -> tuple[float, int]:
    """A build's read (items + SQL aggregate) of `events` generated events in SQLite; (seconds, pairs)."""
    store = Store.open(None, workdir)
    now = time.time()
    with store.writer.begin() as connection:
        connection.execute(GENERATED_ITEMS, {"items": AGGREGATE_ITEMS, "now": now})
        connection.execute(GENERATED_EVENTS, {"count": events, "users": AGGREGATE_USERS,
                                              "items": AGGREGATE_ITEMS, "now": now})
    started = time.perf_counter()
    catalog = DatabaseCatalogSource(store, horizon_days=180.0, now=now).load()
    seconds = time.perf_counter() - started
    store.engine.dispose()
    return seconds, len(catalog.interactions)


def ingest_rows(workdir: Path, rounds: int, log) -> list[Row]:
    rows = []
    with scratch_postgres() as postgres_url:
        for name, url in (("SQLite", None), ("PostgreSQL", postgres_url)):
            if name == "PostgreSQL" and url is None:
                rows.append(Row("Ingest, PostgreSQL", "no server on 127.0.0.1:5432", f"≥ {INGEST_TARGET_PER_S:,}/s"))
                continue
            rates = []
            for n in range(rounds):
                store = Store.open(url, workdir / f"ingest-{name}-{n}") if url is None else Store.open(url, workdir)
                if url is not None and n:
                    with store.writer.begin() as connection:
                        connection.execute(text("DELETE FROM events"))
                rates.append(events_per_second(store))
                store.engine.dispose()
            rate = median(rates)
            log(f"ingest {name}: {rate:,.0f} events/s")
            what = f"Ingest {INGEST_BATCHES}×{INGEST_BATCH:,} events with session_id (Store.add_events), {name}"
            rows.append(at_least(what, rate, INGEST_TARGET_PER_S, f"{rate:,.0f} events/s",
                                 f"≥ {INGEST_TARGET_PER_S:,} events/s"))
    return rows


def run(workdir: Path, rounds: int, events: int, log) -> list[Row]:
    rows = ingest_rows(workdir, rounds, log)
    seconds, pairs = aggregate_seconds(workdir / "aggregate", events)
    log(f"{events:,} stored events -> {pairs:,} pairs in {seconds:.1f} s")
    row = at_most(f"Build reads {events:,} stored events (SQL aggregate, SQLite)", seconds, AGGREGATE_TARGET_S,
                  f"{seconds:.1f} s ({pairs:,} pairs)", f"≤ {AGGREGATE_TARGET_S:g} s at 1M events")
    if events < AGGREGATE_EVENTS:
        row.met = None
        row.target += f", not judged at {events:,}"
    return rows + [row]
