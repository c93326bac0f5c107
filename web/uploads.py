"""Uploaded catalog files: saved under the data dir and validated before any job is queued."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from werkzeug.datastructures import FileStorage

from recommender.catalog import SUPPORTED_SUFFIXES, CatalogError, Problem, load_catalog
from recommender.catalog_source import CatalogFiles


def _suffix(upload: FileStorage, field: str) -> str:
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise CatalogError([Problem(upload.filename or field, f"unsupported file type '{suffix or 'none'}' "
                                    f"for {field}: upload a .csv or .parquet file")])
    return ".parquet" if suffix == ".pq" else suffix


def save_upload(data_dir: Path, items: FileStorage | None, interactions: FileStorage | None) -> CatalogFiles:
    """Store the files in a fresh directory and validate them; on any problem the directory is removed
    and CatalogError lists every problem by file, column and row."""
    if items is None or not items.filename:
        raise CatalogError([Problem("items", "no items file was uploaded")])
    directory = data_dir / "uploads" / uuid.uuid4().hex
    directory.mkdir(parents=True)
    try:
        items_path = directory / ("items" + _suffix(items, "items"))
        items.save(items_path)
        interactions_path = None
        if interactions is not None and interactions.filename:
            interactions_path = directory / ("interactions" + _suffix(interactions, "interactions"))
            interactions.save(interactions_path)
        try:
            load_catalog(items_path, interactions_path)
        except CatalogError as exc:
            names = {items_path.name: items.filename, **({interactions_path.name: interactions.filename}
                                                         if interactions_path else {})}
            raise CatalogError([Problem(names.get(p.file, p.file), p.message, p.column, p.rows)
                                for p in exc.problems]) from None
        return CatalogFiles(items_path, interactions_path)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
