"""Rules in the store of record (SQLite and PostgreSQL): each change logged with who and when, and a rollback
that restores them only when the admin asks (issue 25)."""

from __future__ import annotations

import time

from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from recommender.store import Store
from recommender.store.rule_store import RuleBook
from tests.helpers import store_databases
from tests.helpers.catalogs import make_catalog
from worker.queue import ROLLBACK_TASK

backend, db_url, store = store_databases.backend, store_databases.db_url, store_databases.store
HIDE_FORD = {"surface": "similar", "action": "hide", "where": {"Manufacturer": "Ford"}}
BOOST = {"surface": "*", "action": "boost", "factor": 2, "where": {"category": "Small"}}


def in_force(book: RuleBook) -> dict:
    return {row["rule_id"]: row["body"] for row in book.read()[1]}


def test_rules_go_back_to_a_moment_and_every_change_is_logged(store):
    book = RuleBook(store)
    book.put("hide-ford", HIDE_FORD, "alice")
    time.sleep(0.01)
    moment = time.time()
    time.sleep(0.01)
    book.put("hide-ford", HIDE_FORD | {"enabled": False}, "bob")
    book.put("boost-small", BOOST, "bob")
    revision = book.revision()
    assert book.restore_as_of(moment, "rollback to v1") == 1
    assert in_force(book) == {"hide-ford": HIDE_FORD}
    assert book.revision() > revision, "web processes would not see the restore"
    history = book.history(10)
    restored = {c["rule_id"]: c["body"] for c in history if c["changed_by"] == "rollback to v1"}
    assert restored == {"hide-ford": HIDE_FORD, "boost-small": None}  # None: logged as deleted
    assert [c["changed_by"] for c in history[len(restored):]] == ["bob", "bob", "alice"]
    assert book.delete("hide-ford", "carol") and not book.delete("hide-ford", "carol")
    assert in_force(book) == {}


def test_a_rollback_restores_the_rules_only_when_asked(run_task, tmp_path):
    indexes = IndexStore(run_task.data_dir / "indexes")
    first = indexes.current_version()
    time.sleep(1.1)  # a manifest's created_at counts whole seconds
    book = RuleBook(Store.open(None, run_task.data_dir))
    book.put("later", HIDE_FORD, "admin")
    build_and_publish(indexes, make_catalog(tmp_path / "next", n_items=70, seed=5))
    assert run_task(ROLLBACK_TASK, version=first).successful()
    assert in_force(book) == {"later": HIDE_FORD}, "a plain rollback changed the rules"
    result = run_task(ROLLBACK_TASK, version=first, restore_rules=True)
    assert result.successful(), result.result
    assert result.result["rules_restored_from"] == first and result.result["rules_in_force"] == 0
    assert in_force(book) == {}
    book.engine.dispose()
