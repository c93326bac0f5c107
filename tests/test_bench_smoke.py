"""`make bench` in miniature: the lookup section at 2,000 items and the search section on 500
titles, through the same functions the full run calls (no wrk, no gunicorn), and the table."""

from __future__ import annotations

import importlib
import math

from benchmarks import lookup, search
from benchmarks.report import render
from benchmarks.server import procfile_web_argv


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
    assert argv[argv.index("-c") + 1] == "web/gunicorn_conf.py"
    assert "127.0.0.1:5123" in argv and argv[-1] == "web:create_app()"
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    import web.gunicorn_conf as conf

    assert importlib.reload(conf).workers == 4, "the benchmark sets the worker count through the config file"
