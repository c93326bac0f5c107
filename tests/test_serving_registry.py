"""Every web process reports what it serves, and a switch waits until all of them serve the new version from
a round that read the store after the switch (web/state/serving_registry.py). fakeredis here; the live stack
in tests/test_integration_served.py checks the same through gunicorn's workers and a real Redis."""

from __future__ import annotations

import time

import fakeredis
import pytest

from recommender.index_store import IndexStore
from tests.helpers.catalogs import two_kept_versions
from web.state.model_holder import ModelHolder
from web.state.serving_registry import ServingRegistry

PREFIX = "registry-test:"


@pytest.fixture
def client():
    return fakeredis.FakeRedis(decode_responses=True)


def registry(client, name: str, report_seconds: float = 3.0) -> ServingRegistry:
    return ServingRegistry(client, PREFIX, report_seconds, name=lambda: name)


def test_each_process_reports_its_version_and_a_wait_agrees_once_all_serve_it(client):
    web1, web2 = registry(client, "host:1"), registry(client, "host:2")
    before = time.time()
    web1.report("v2", before + 0.01)
    web2.report("v1", before + 0.01)
    assert web1.serving() == {"host:1": "v2", "host:2": "v1"}
    waited = web1.wait_until_served("v2", before, seconds=0.2)
    assert not waited.agreed and waited.as_dict()["versions"] == {"v2": 1, "v1": 1}
    web2.report("v2", before + 0.02)
    agreed = web1.wait_until_served("v2", before, seconds=0.2)
    assert agreed.agreed and agreed.as_dict()["processes"] == 2


def test_a_report_from_a_round_that_began_before_the_switch_does_not_count(client):
    web1 = registry(client, "host:1")
    switched = time.time()
    web1.report("v2", switched - 1)  # the right name, read before the switch's commit: its removed list is old
    late = web1.wait_until_served("v2", switched, seconds=0.2)
    assert not late.agreed and late.serving == {"host:1": "(not yet read)"}


def test_a_process_that_stops_reporting_drops_out(client):
    gone, alive = registry(client, "host:gone", report_seconds=0.2), registry(client, "host:alive")
    now = time.time()
    gone.report("v1", now)
    alive.report("v2", now)
    time.sleep(0.3)
    assert alive.serving() == {"host:alive": "v2"}
    assert alive.wait_until_served("v2", now - 1, seconds=0.1).agreed


def test_an_unreachable_redis_is_logged_once_not_raised_by_the_report(caplog):
    server = fakeredis.FakeServer()
    broken = ServingRegistry(fakeredis.FakeRedis(server=server, decode_responses=True), PREFIX)
    server.connected = False
    broken.report("v1", time.time())  # logged, never raised: the watcher must go on serving
    broken.report("v1", time.time())
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "not reported to Redis" in caplog.records[0].message
    server.connected = True
    broken.report("v1", time.time())
    assert broken.serving() == {broken.name(): "v1"}


def test_the_model_holder_reports_after_it_read_the_version_and_the_removed_list(tmp_path, client):
    data_dir, old, new = two_kept_versions(tmp_path / "data")
    web = registry(client, "host:1")
    holder = ModelHolder(IndexStore(data_dir / "indexes"), interval=30, registry=web)
    began = time.time()
    holder.watch_once()
    assert web.reports()["host:1"][1] == new and web.reports()["host:1"][0] >= began
    IndexStore(data_dir / "indexes").rollback(old)
    switched = time.time()
    assert not web.wait_until_served(old, switched, seconds=0.1).agreed
    holder.watch_once()
    assert web.wait_until_served(old, switched, seconds=0.1).agreed
