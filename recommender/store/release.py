"""A release is an index version plus the catalog state it was built from (issue 22).

Each version keeps the items it was built from, and the items that were hidden then, flagged
(CATALOG_SNAPSHOT_FILE). Rolling back writes them back into the store as the whole catalog: the items,
their hidden or deleted state and their attributes as they were; events are history and stay. Without
that, a rollback after a replace upload served an empty site: the store still listed the version's
items as removed and every web process hid them.

Order, so that a failure leaves what is served and what is stored as they were: the catalog is written
in one transaction that is not yet committed, then `current` is switched, then the transaction commits.
A write that fails switches nothing; a switch that fails rolls the write back; a commit that fails
switches `current` back to the version served before.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recommender.index_store import IndexStore
from recommender.layout import CATALOG_SNAPSHOT_FILE
from recommender.store.engine import StoreUnavailable
from recommender.store.store_of_record import Store
from recommender.store.upload_rows import HIDDEN_COLUMN

UNKEPT = "this version was built before catalogs were kept with versions; only the index was rolled back"


def snapshot_frame(built: pd.DataFrame, hidden: pd.DataFrame | None) -> pd.DataFrame:
    """The items to keep with a version: those it was built from, then the hidden ones, flagged."""
    if HIDDEN_COLUMN in built.columns:
        return built  # an uploaded file says for itself which of its items are hidden
    frame = built.assign(**{HIDDEN_COLUMN: "false"})
    if hidden is None or not len(hidden):
        return frame
    both = pd.concat([frame, hidden.assign(**{HIDDEN_COLUMN: "true"})], ignore_index=True)
    return both.fillna({column: "" for column in both.columns
                        if column != "year" and both[column].dtype == object and not _is_flags(both[column])})


def _is_flags(values: pd.Series) -> bool:
    """A boolean attribute (True/False/None cells) keeps its empty cells empty, as numbers do."""
    filled = values.dropna()
    return len(filled) > 0 and all(isinstance(v, bool) for v in filled)


def read_snapshot(version_dir: Path) -> pd.DataFrame | None:
    """The items a version keeps, or None for a version built before they were kept."""
    path = version_dir / CATALOG_SNAPSHOT_FILE
    return pd.read_parquet(path) if path.is_file() else None


def serve_release(index: IndexStore, store: Store, version: str, pin_why: str | None = None) -> dict:
    """Serve a kept version again with the catalog it was built from, pinned with `pin_why` when given;
    returns what was restored.

    Raises IndexStoreError (unknown version, the switch failed) or StoreUnavailable (nothing changed: the
    served version and the pin are put back as they were)."""
    snapshot = read_snapshot(index.version_path(version))
    if snapshot is None:
        index.rollback(version, pin_why=pin_why)
        return {"version": version, "catalog": None, "catalog_not_restored": UNKEPT}
    before, pin_before, switched = index.current_version(), index.pinned(), []

    def switch() -> None:
        index.rollback(version, pin_why=pin_why)
        switched.append(version)
    try:
        written = store.restore_release(snapshot, version, switch)
    except StoreUnavailable:
        if switched and before:
            _put_back(index, before, pin_before)
        raise
    return {"version": version, "catalog": {"restored_from": version, **written}}


def _put_back(index: IndexStore, version: str, pin: dict | None) -> None:
    """Serve `version` again with the pin as it was before a rollback whose store write failed."""
    index.rollback(version)
    if pin is None:
        index.unpin()
    else:
        index.pin(pin.get("why") or "pinned", pin["version"])


def restore_release_catalog(index: IndexStore, store: Store, version: str) -> dict | None:
    """Only the catalog half: write a version's kept items into the store, serving what is served."""
    snapshot = read_snapshot(index.version_path(version))
    return None if snapshot is None else store.restore_release(snapshot, version, lambda: None)
