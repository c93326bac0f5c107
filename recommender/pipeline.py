"""From catalog files to a published index version: the one path every build takes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recommender.catalog.load import Catalog
from recommender.catalog.sources import CatalogSource
from recommender.evaluation.quality_gate import held_back
from recommender.index_store import IndexStore, IndexStoreError, read_manifest, write_manifest
from recommender.layout import CATALOG_SNAPSHOT_FILE, FORMAT_VERSION, Progress, no_progress
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


@dataclass(frozen=True)
class Release:
    """What a build did: the version it published or kept (or the served one, when nothing was built)."""

    version: str
    kept: str | None = None  # why it was kept unpublished: "pinned" or "held back"
    held_back: dict | None = None  # the quality gate's reason (recommender/evaluation/quality_gate.py)
    unchanged: bool = False  # the inputs equal the served version's: nothing was built
    same_inputs_as: str | None = None  # a version built from exactly these inputs, if one is kept


def _served_manifest(store: IndexStore) -> dict | None:
    path = store.current_path()
    try:
        return read_manifest(path) if path else None
    except IndexStoreError:
        return None


def same_inputs(store: IndexStore, catalog: Catalog) -> str | None:
    """The served (or newest kept) version built from this very catalog state: same source hash (the
    store's catalog revision and event high-water mark, weights and horizon) and this build format."""
    served, newest = store.current_version(), (store.versions() or [{}])[0]
    for manifest in (_served_manifest(store), newest if newest.get("version") != served else None):
        recorded = (manifest or {}).get("catalog") or {}
        if (catalog.source_hash and recorded.get("source_hash") == catalog.source_hash
                and manifest.get("format") == FORMAT_VERSION):
            return manifest["version"]
    return None


def build_and_publish(store: IndexStore, source: CatalogSource, build_id: str | None = None,
                      progress: Progress = no_progress, reuse_tuning: bool = False) -> str:
    """Load, build, check that the result loads, then publish; returns the new version."""
    return build_release(store, source, build_id, progress, reuse_tuning).version


def build_release(store: IndexStore, source: CatalogSource, build_id: str | None = None,
                  progress: Progress = no_progress, reuse_tuning: bool = False, trigger: str | None = None,
                  automatic: bool = False, protected: set[str] | None = frozenset()) -> Release:
    """Load, build, check that the result loads, then publish (or keep); what happened is the Release.

    With reuse_tuning (automatic rebuilds after changes), the served version's tuned settings are
    reused instead of a full evaluation where the catalog kept its shape (recommender/tuning.py).
    An automatic build is not built when its inputs equal the served version's, and is kept but not
    published while a version is pinned or when the quality gate holds it back.
    Anything that fails before `publish` leaves the served version as it was.
    """
    if build_id and (existing := store.find_build(build_id)):
        return Release(existing)
    progress("loading catalog", 2)
    catalog = source.load()
    twin = same_inputs(store, catalog)
    if automatic and twin:
        return Release(twin, unchanged=True, same_inputs_as=twin)
    carried = served_tuning(store) if reuse_tuning else None
    with store.staging() as staging_dir:
        build_index(catalog, staging_dir, progress=progress, reuse_tuning=reuse_tuning, served_tuning=carried)
        keep_catalog_snapshot(catalog, source, staging_dir)
        gate = held_back(read_manifest(staging_dir).get("evaluation"), _served_manifest(store)) if automatic else None
        _record(staging_dir, trigger=trigger, held_back=gate)
        progress("verifying", 96)
        try:
            SimilarItemsModel(staging_dir)
        except IndexLoadError as exc:
            raise IndexLoadError(f"the new index does not load: {exc}") from exc
        progress("publishing", 98)
        version, kept = store.publish_or_keep(staging_dir, build_id=build_id, automatic=automatic,
                                              held_back=gate is not None, protected=protected)
        return Release(version, kept, gate, same_inputs_as=twin)


def _record(version_dir: Path, **fields) -> None:
    """Say in a staged version's manifest what asked for it and what the quality gate found."""
    manifest = read_manifest(version_dir)
    manifest.update({key: value for key, value in fields.items() if value is not None})
    write_manifest(version_dir, manifest)
