"""`make bench` in miniature: the lookup section at 2,000 items and the search section on 500
titles, through the same functions the full run calls (no wrk, no gunicorn), and the table; the HTTP
section's embed and tracking rows from given loads; the swap section's core split."""

from __future__ import annotations

import importlib
import math
import os

import pytest

from benchmarks import http, lookup, search, swap
from benchmarks.load import LoadResult
from benchmarks.report import render
from benchmarks.server import procfile_web_argv
from recommender.settings import ConfigError, settings_from_env
from tests.helpers.apps import make_app


def has_numbers(row) -> bool:
    return bool(row.values) and all(isinstance(v, (int, float)) and not math.isnan(v) for v in row.values.values())


def test_lookup_and_search_sections_measure_and_render(tmp_path):
    lookup_rows, versions = lookup.run([2000], tmp_path, None, rounds=1, lookups=200, exact_queries=20,
                                       recall_sample=200, log=lambda message: None, build_timeout=120)
    titles, popularity = search.movie_titles()
    result = search.measure("smoke", titles[:500], popularity[:500], n_queries=40, rounds=1)
    rows = lookup_rows + [search.result_row(result)] + search.target_rows(result)

    assert [v.n_items for v in versions] == [2000]
    assert all(has_numbers(row) for row in rows), [row for row in rows if not has_numbers(row)]
    served = rows[0].values
    assert 0 < served["served_p50"] <= served["served_p95"] and served["recall"] >= 0.9
    assert result.speedup > 0 and 0 <= result.word_hit_rate <= 1
    targets = [row for row in rows if row.target != "—"]
    assert all((row.met is None) == ("not judged" in row.target) for row in targets)
    assert any("not judged at 2k" in row.target for row in targets)  # the 1M targets, shown but not judged

    table = render("smoke", "this machine", rows, ["a note"])
    lines = table.splitlines()
    assert "| what | measured (median of rounds) | target | met |" in lines
    assert sum(line.startswith("| ") for line in lines) == len(rows) + 1
    assert "Similar lookup (get_similar_items k=10), 2k synthetic items" in table


def test_gunicorn_is_started_as_the_procfile_says(monkeypatch):
    argv = procfile_web_argv({"WEB_CONCURRENCY": "4", "PORT": "5123"})
    assert argv[0].endswith("gunicorn")
    assert argv[argv.index("-c") + 1] == "web/processes/gunicorn_conf.py"
    assert "127.0.0.1:5123" in argv and argv[-1] == "web:create_app()"
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    import web.processes.gunicorn_conf as conf

    assert importlib.reload(conf).workers == 4, "the benchmark sets the worker count through the config file"


def load(rate: float, p99: float = 0.05) -> LoadResult:
    return LoadResult(int(rate * 2), 2.0, p99 / 2, p99, 0, 0, "test")


def test_http_rows_judge_the_embed_routes_against_healthz_beside_them(monkeypatch):
    rates = {"/healthz": 100.0, "/embed/1": 59.0, "/embed/search": 55.0}
    monkeypatch.setattr(http, "run_load", lambda base, paths, seconds, headers=None: load(rates[paths[0]]))
    chosen = [http.Route(http.HEALTHZ, ["/healthz"], False), http.Route(http.EMBED, ["/embed/1"], True),
              http.Route(http.EMBED_SEARCH, ["/embed/search"], True)]
    rows = {row.what: row for row in http.healthz_rows(http.healthz_pairs("base", chosen, 1.0, 2))}

    embed = rows[f"HTTP {http.EMBED} req/s ÷ /healthz req/s"]
    assert embed.values["value"] == pytest.approx(0.59) and embed.met is False and embed.target == "≥ 0.60×"
    assert rows[f"HTTP {http.EMBED_SEARCH} req/s ÷ /healthz req/s"].met is True


def test_tracking_row_is_the_median_of_its_abba_runs(monkeypatch):
    asked = []

    def fake_load(base, paths, seconds, headers=None):
        asked.append(base)
        return load(90.0 if base == "on" else 100.0)

    monkeypatch.setattr(http, "run_load", fake_load)
    route = http.Route("similar partial", ["/items/1/similar?k=10"], hx=True)
    found = http.tracking_slices("on", "off", route, 1, pairs=3)
    assert asked == ["off", "on", "on", "off"] * 3
    row = http.tracking_row(found)
    assert row.values["value"] == pytest.approx(0.9) and row.met is True and row.target == "≥ 0.90×"
    found["off"][0] = load(10.0)  # a neighbour slowed one slice: that run's ratio leaps, the median holds
    assert http.tracking_row(found).values["value"] == pytest.approx(0.9)
    found["on"][2], found["on"][4] = load(60.0), load(60.0)  # tracking slower in two runs of three
    row = http.tracking_row(found)
    assert row.values["value"] == pytest.approx(0.75) and row.met is False
    assert "median of 3 ABBA runs, 0.75–1.64" in row.measured, "the spread of the runs is shown beside the median"


def test_tracking_is_on_by_default_and_switched_off_by_the_environment(tmp_path, built_data_dir):
    assert settings_from_env({"LIKEWISE_DATA_DIR": str(tmp_path)}).tracking is True
    assert settings_from_env({"LIKEWISE_DATA_DIR": str(tmp_path), "LIKEWISE_TRACKING": "off"}).tracking is False
    with pytest.raises(ConfigError, match="LIKEWISE_TRACKING"):
        settings_from_env({"LIKEWISE_DATA_DIR": str(tmp_path), "LIKEWISE_TRACKING": "sometimes"})
    panels = []
    for tracking in (True, False):
        app = make_app(built_data_dir, TRACKING=tracking)
        assert app.extensions["tracking"].enabled is tracking
        item_id = app.extensions["model_holder"].model.table.value("item_id", 0)
        panels.append(app.test_client().get(f"/items/{item_id}/similar?k=5", headers={"HX-Request": "true"}))
    assert [p.status_code for p in panels] == [200, 200]
    assert [b"likewise-beacon" in p.data for p in panels] == [True, False]


def test_the_swap_benchmark_gives_the_build_process_a_core_of_its_own():
    web_cores, worker_cores = swap.split_cores()
    assert web_cores and worker_cores and not web_cores & worker_cores
    with swap.pinned_worker(worker_cores) as worker:
        assert worker.submit(os.sched_getaffinity, 0).result(timeout=60) == worker_cores
        assert worker.submit(os.getpid).result(timeout=60) != os.getpid()
    before = os.sched_getaffinity(0)
    with swap.pinned(web_cores):
        assert os.sched_getaffinity(0) == web_cores
    assert os.sched_getaffinity(0) == before
