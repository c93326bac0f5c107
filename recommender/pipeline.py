"""From catalog files to a published index version: the one path every build takes."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from recommender.ann import Progress, no_progress
from recommender.catalog import load_catalog
from recommender.demo import DemoCatalog, prepare_demo_catalog
from recommender.index_store import IndexStore
from recommender.model import IndexLoadError, SimilarItemsModel

ITEMS_NAMES = ("items.csv", "items.parquet")
INTERACTIONS_NAMES = ("interactions.csv", "interactions.parquet")


@dataclass(frozen=True)
class CatalogFiles:
    """An items file and, optionally, an interactions file."""

    items: Path
    interactions: Path | None = None

    @classmethod
    def in_directory(cls, directory: Path) -> "CatalogFiles | None":
        items = next((directory / n for n in ITEMS_NAMES if (directory / n).is_file()), None)
        if items is None:
            return None
        interactions = next((directory / n for n in INTERACTIONS_NAMES if (directory / n).is_file()), None)
        return cls(items, interactions)


class ActiveCatalog:
    """The catalog files the next rebuild reads; replaced only by files that built successfully."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def files(self) -> CatalogFiles | None:
        return CatalogFiles.in_directory(self.directory)

    def files_or_demo(self) -> tuple[CatalogFiles, DemoCatalog | None]:
        """The active files, preparing the demo catalog first when there are none (a fresh install);
        the second value describes the demo when one was just prepared."""
        files = self.files()
        if files is not None:
            return files, None
        demo = prepare_demo_catalog(self.directory)
        return CatalogFiles(demo.items_path, demo.interactions_path), demo

    def replace_with(self, files: CatalogFiles) -> None:
        """Swap in new files as a whole directory, so a crash never leaves a mixed catalog."""
        incoming = self.directory.with_name(self.directory.name + ".incoming")
        shutil.rmtree(incoming, ignore_errors=True)
        incoming.mkdir(parents=True)
        for kind, source in (("items", files.items), ("interactions", files.interactions)):
            if source is not None:
                suffix = ".parquet" if source.suffix.lower() in (".parquet", ".pq") else ".csv"
                shutil.copyfile(source, incoming / (kind + suffix))
        retired = self.directory.with_name(self.directory.name + ".previous")
        shutil.rmtree(retired, ignore_errors=True)
        if self.directory.exists():
            self.directory.rename(retired)
        incoming.rename(self.directory)
        shutil.rmtree(retired, ignore_errors=True)


def build_index(*args, **kwargs) -> dict:
    """recommender.builder.build_index, imported on first use: the build stack (scikit-learn, SciPy)
    then loads only in processes that build, never in web processes that merely validate uploads."""
    from recommender.builder import build_index as build

    return build(*args, **kwargs)


def build_and_publish(store: IndexStore, files: CatalogFiles, build_id: str | None = None,
                      progress: Progress = no_progress) -> str:
    """Load, build, check that the result loads, then publish; returns the new version.

    Anything that fails before `publish` leaves the served version as it was.
    """
    if build_id and (existing := store.find_build(build_id)):
        return existing
    progress("loading catalog", 2)
    catalog = load_catalog(files.items, files.interactions)
    with store.staging() as staging_dir:
        build_index(catalog, staging_dir, progress=progress)
        progress("verifying", 96)
        try:
            SimilarItemsModel(staging_dir)
        except IndexLoadError as exc:
            raise IndexLoadError(f"the new index does not load: {exc}") from exc
        progress("publishing", 98)
        return store.publish(staging_dir, build_id=build_id)
