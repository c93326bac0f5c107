"""Where a build reads its catalog from: one interface, several places.

A `CatalogSource` yields a validated `Catalog` (which carries the hash of its source data). Builds,
the CLI and the launcher only ever talk to this interface; the files below implement it for a
catalog kept as files, and the store of record implements it for a database.
"""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from recommender.catalog.demo import DemoCatalog, prepare_demo_catalog
from recommender.catalog.load import Catalog, load_catalog

ITEMS_NAMES = ("items.csv", "items.parquet")
INTERACTIONS_NAMES = ("interactions.csv", "interactions.parquet")
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


@runtime_checkable
class CatalogSource(Protocol):
    """Anything a build can read a whole, validated catalog from."""

    def describe(self) -> str:
        """A few words for job messages and the admin page ("uploaded files items.csv, ...")."""

    def load(self) -> Catalog:
        """The validated catalog; raises `CatalogError` naming file, column and rows."""


@dataclass(frozen=True)
class CatalogFiles:
    """An items file and, optionally, an interactions file: the simplest catalog source."""

    items: Path
    interactions: Path | None = None

    @classmethod
    def in_directory(cls, directory: Path) -> "CatalogFiles | None":
        items = next((directory / n for n in ITEMS_NAMES if (directory / n).is_file()), None)
        if items is None:
            return None
        interactions = next((directory / n for n in INTERACTIONS_NAMES if (directory / n).is_file()), None)
        return cls(items, interactions)

    def describe(self) -> str:
        names = [self.items.name] + ([self.interactions.name] if self.interactions else [])
        return "files " + ", ".join(names)

    def load(self) -> Catalog:
        return load_catalog(self.items, self.interactions)


class ReadOnce:
    """A source read at most once: an upload's build and its write into the store share one validated
    catalog (reading and checking the demo's files a second time was 0.4 s of every upload)."""

    def __init__(self, source: CatalogSource):
        self.source = source
        self._catalog: Catalog | None = None

    def describe(self) -> str:
        return self.source.describe()

    def load(self) -> Catalog:
        if self._catalog is None:
            self._catalog = self.source.load()
        return self._catalog


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


class UnknownUpload(LookupError):
    """An upload id that names no kept upload (never uploaded, already built, or cleaned up)."""


class UploadStore:
    """Uploaded catalog files, each kept under an opaque id until its build is done.

    Jobs carry the id, never a path: the worker resolves it here, inside its own data dir."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def new(self) -> tuple[str, Path]:
        """A fresh, empty upload directory and its id."""
        upload_id = uuid.uuid4().hex
        path = self.directory / upload_id
        path.mkdir(parents=True)
        return upload_id, path

    def _path(self, upload_id: str) -> Path:
        if not UPLOAD_ID.match(upload_id or ""):
            raise UnknownUpload(f"{upload_id!r} is not an upload id")
        return self.directory / upload_id

    def files(self, upload_id: str) -> CatalogFiles:
        files = CatalogFiles.in_directory(self._path(upload_id))
        if files is None:
            raise UnknownUpload(f"the uploaded catalog {upload_id} is gone: upload it again")
        return files

    def discard(self, upload_id: str) -> None:
        shutil.rmtree(self._path(upload_id), ignore_errors=True)
