"""The `flask --app web …` commands, through Flask's CLI test runner."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from recommender.index_store import IndexStore
from tests.helpers.apps import make_app
from tests.helpers.catalogs import make_catalog


@pytest.fixture
def fresh(tmp_path):
    """An app on an empty data dir, and a generated catalog beside it."""
    app = make_app(tmp_path / "data")
    files = make_catalog(tmp_path / "catalog")
    return app, files


def store_of(app) -> IndexStore:
    return IndexStore(app.extensions["settings"].data_dir / "indexes")


def build(app, *args: str):
    return app.test_cli_runner().invoke(args=["build-index", *args])


def test_build_index_publishes(fresh):
    """build-index with both files publishes a version into a fresh data dir and says so."""
    app, files = fresh
    assert store_of(app).current_version() is None
    result = build(app, "--items", str(files.items), "--interactions", str(files.interactions))
    assert result.exit_code == 0, result.output
    version = store_of(app).current_version()
    assert version is not None
    assert "Published index" in result.output and version in result.output
    n_items = len(pd.read_csv(files.items))
    assert f"{n_items} items" in result.output
    manifest = store_of(app).versions()[0]
    assert manifest["item_count"] == n_items
    assert manifest["interaction_count"] == len(pd.read_csv(files.interactions))


def test_build_index_items_only(fresh):
    """The interactions file is optional."""
    app, files = fresh
    result = build(app, "--items", str(files.items))
    assert result.exit_code == 0, result.output
    assert store_of(app).versions()[0]["interaction_count"] == 0


def test_bad_items_file_fails_and_keeps_previous_version(fresh, tmp_path):
    """A broken items file exits non-zero, names the file and column, and the served version stays."""
    app, files = fresh
    assert build(app, "--items", str(files.items), "--interactions", str(files.interactions)).exit_code == 0
    before = store_of(app).current_version()
    bad = tmp_path / "broken_items.csv"
    pd.read_csv(files.items, dtype=str).drop(columns=["title"]).to_csv(bad, index=False)
    result = build(app, "--items", str(bad))
    assert result.exit_code != 0
    assert "broken_items.csv" in result.output and "title" in result.output
    assert "Published index" not in result.output
    assert store_of(app).current_version() == before
    assert len(store_of(app).versions()) == 1


def test_bad_interactions_file_reports_rows(fresh, tmp_path):
    """Interaction problems are reported with the file, column and rows."""
    app, files = fresh
    bad = tmp_path / "bad_interactions.csv"
    frame = pd.read_csv(files.interactions, dtype=str)
    frame.loc[2, "item_id"] = "no-such-item"
    frame.to_csv(bad, index=False)
    result = build(app, "--items", str(files.items), "--interactions", str(bad))
    assert result.exit_code != 0
    assert "bad_interactions.csv" in result.output and "item_id" in result.output and "4" in result.output
    assert store_of(app).current_version() is None


def test_missing_items_file(fresh, tmp_path):
    """A path that does not exist is a clear error, not a traceback."""
    app, _ = fresh
    result = build(app, "--items", str(tmp_path / "nowhere.csv"))
    assert result.exit_code != 0
    assert "nowhere.csv" in result.output
    assert "Traceback" not in result.output


def test_interactions_without_items_is_usage_error(fresh):
    """--interactions alone is a usage error (exit code 2) that says --items is needed."""
    app, files = fresh
    result = build(app, "--interactions", str(files.interactions))
    assert result.exit_code == 2
    assert "--items" in result.output
    assert store_of(app).current_version() is None


def test_rebuild_without_arguments_reuses_uploaded_catalog(fresh, tmp_path):
    """After `build-index --items products.csv --interactions ratings.csv`, a plain `build-index`
    rebuilds that catalog (its help says the default is the active catalog), not the demo one."""
    app, files = fresh
    items = shutil.copy(files.items, tmp_path / "products.csv")
    interactions = shutil.copy(files.interactions, tmp_path / "ratings.csv")
    first = build(app, "--items", str(items), "--interactions", str(interactions))
    assert first.exit_code == 0, first.output
    again = build(app)
    assert again.exit_code == 0, again.output
    assert "demo" not in again.output.lower()
    newest = store_of(app).versions()[0]
    assert newest["item_count"] == len(pd.read_csv(files.items))
    assert newest["interaction_count"] == len(pd.read_csv(files.interactions))


@pytest.fixture
def built(tmp_path, small_catalog):
    app = make_app(tmp_path / "data")
    result = build(app, "--items", str(small_catalog.items), "--interactions", str(small_catalog.interactions))
    assert result.exit_code == 0, result.output
    return app


def test_similar_prints_k_lines(built):
    """`similar 1000 -k 3` prints a heading and three result lines, best first, never the item itself."""
    result = built.test_cli_runner().invoke(args=["similar", "1000", "-k", "3"])
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert lines[0].startswith("Similar to 1000")
    assert lines[1].split() == ["score", "id", "year", "title"]
    rows = [re.match(r"\s*(-?\d+\.\d+)\s+(\S+)\s+(?:\d{4}\s+)?(.*)", ln) for ln in lines[2:]]
    assert len(rows) == 3 and all(rows)
    model = built.extensions["model_holder"].model
    expected = model.get_similar_items("1000", 3)
    assert [r.group(2) for r in rows] == [e.item_id for e in expected]
    assert [r.group(3) for r in rows] == [e.title for e in expected]
    scores = [float(r.group(1)) for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_similar_unknown_item(built):
    """An unknown id exits non-zero with a message naming it."""
    result = built.test_cli_runner().invoke(args=["similar", "no-such-item"])
    assert result.exit_code != 0
    assert "no-such-item" in result.output


@pytest.mark.parametrize("k", ["0", "101", "abc"])
def test_similar_bad_k(built, k):
    """k outside 1..100 is a usage error."""
    result = built.test_cli_runner().invoke(args=["similar", "1000", "-k", k])
    assert result.exit_code == 2


def test_search_prints_matches(built, small_catalog):
    """`search river` prints the matching items' ids and titles."""
    result = built.test_cli_runner().invoke(args=["search", "river"])
    assert result.exit_code == 0, result.output
    items = pd.read_csv(small_catalog.items, dtype=str).set_index("item_id")["title"]
    rows = [re.match(r"\s*-?\d+\.\d{3}\s+(\S+)\s+(?:\d{4}\s+)?(.*)$", ln)
            for ln in result.output.splitlines()[1:] if ln.strip()]
    assert rows and all(rows)
    lines = [row.groups() for row in rows]
    for item_id, title in lines:
        assert items[item_id] == title
        assert "river" in title.lower()
    with_river = sum("river" in t.lower().split() for t in items)
    assert len(lines) == min(20, with_river)


def test_search_no_matches(built):
    """A query that matches nothing says so."""
    result = built.test_cli_runner().invoke(args=["search", "qqqqzzzz"])
    assert result.exit_code == 0 and "No matches" in result.output


def test_commands_without_index(tmp_path):
    """similar and search on an empty data dir fail with a hint to build first."""
    runner = make_app(tmp_path / "data").test_cli_runner()
    for args in (["similar", "1000"], ["search", "river"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0
        assert "build-index" in result.output


def test_if_missing_skips_when_published(built):
    """--if-missing does nothing when an index already exists."""
    before = store_of(built).current_version()
    result = build(built, "--if-missing")
    assert result.exit_code == 0 and before in result.output
    assert store_of(built).current_version() == before
    assert len(store_of(built).versions()) == 1
