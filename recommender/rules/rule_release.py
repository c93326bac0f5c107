"""Rules in a rollback, only when the admin asks: the rules go back to what they were when the version was
built (every change is logged with its time, recommender/store/rule_store.py)."""

from __future__ import annotations

from datetime import datetime

from recommender.index_store import IndexStore, read_manifest
from recommender.store.rule_store import RuleBook
from recommender.store.store_of_record import Store


def version_built_at(index: IndexStore, version: str) -> float:
    """The Unix time the version's manifest says it was built (its created_at)."""
    created = read_manifest(index.version_path(version)).get("created_at")
    return datetime.fromisoformat(created).timestamp() if created else 0.0


def restore_version_rules(index: IndexStore, store: Store, version: str) -> dict:
    """Make the rules those in force when `version` was built; returns what the job reports."""
    moment = version_built_at(index, version)
    count = RuleBook(store).restore_as_of(moment, f"rollback to {version}")
    return {"rules_restored_from": version, "rules_in_force": count}
