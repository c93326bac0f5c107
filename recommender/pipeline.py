"""From catalog files to a published index version: the one path every build takes."""

from __future__ import annotations

from pathlib import Path

from recommender.catalog.load import Catalog
from recommender.catalog.sources import CatalogSource
from recommender.index_store import IndexStore, IndexStoreError, read_manifest, write_manifest
from recommender.layout import CATALOG_SNAPSHOT_FILE, Progress, no_progress
from recommender.model import IndexLoadError, SimilarItemsModel
from recommender.store.release import snapshot_frame
from recommender.tuning import Tuned
from recommender.tuning import served_tuning as tuning_of


def build_index(*args, **kwargs) -> dict:
    """recommender.builder.build_index, imported on first use: the build stack (scikit-learn, SciPy)
    then loads only in processes that build, never in web processes that merely validate uploads."""
    from recommender.builder import build_index as build

    return build(*args, **kwargs)


def keep_catalog_snapshot(catalog: Catalog, source: CatalogSource, version_dir: Path) -> None:
    """Keep the items a version was built from beside it (and the items hidden then, flagged), and say
    in its manifest what it read, so a rollback restores that catalog into the store with the index."""
    hidden = getattr(source, "hidden_read", None)
    snapshot_frame(catalog.items, hidden).to_parquet(version_dir / CATALOG_SNAPSHOT_FILE, index=False)
    manifest = read_manifest(version_dir)
    manifest["catalog"] = {"source": source.describe(), "source_hash": catalog.source_hash,
                           "revision": getattr(source, "revision_read", None), "snapshot": CATALOG_SNAPSHOT_FILE,
                           "hidden_items": 0 if hidden is None else len(hidden)}
    write_manifest(version_dir, manifest)


def served_tuning(store: IndexStore) -> Tuned | None:
    """The tuned settings of the version served now, if it holds any."""
    path = store.current_path()
    try:
        return tuning_of(read_manifest(path), path.name) if path else None
    except IndexStoreError:
        return None


def build_and_publish(store: IndexStore, source: CatalogSource, build_id: str | None = None,
                      progress: Progress = no_progress, reuse_tuning: bool = False) -> str:
    """Load, build, check that the result loads, then publish; returns the new version.

    With reuse_tuning (automatic rebuilds after changes), the served version's tuned settings are
    reused instead of a full evaluation where the catalog kept its shape (recommender/tuning.py).
    Anything that fails before `publish` leaves the served version as it was.
    """
    if build_id and (existing := store.find_build(build_id)):
        return existing
    progress("loading catalog", 2)
    catalog = source.load()
    carried = served_tuning(store) if reuse_tuning else None
    with store.staging() as staging_dir:
        build_index(catalog, staging_dir, progress=progress, reuse_tuning=reuse_tuning, served_tuning=carried)
        keep_catalog_snapshot(catalog, source, staging_dir)
        progress("verifying", 96)
        try:
            SimilarItemsModel(staging_dir)
        except IndexLoadError as exc:
            raise IndexLoadError(f"the new index does not load: {exc}") from exc
        progress("publishing", 98)
        return store.publish(staging_dir, build_id=build_id)
