"""Uploaded catalog files: kept under an upload id and validated before any job is queued."""

from __future__ import annotations

import shutil
from pathlib import Path

from werkzeug.datastructures import FileStorage

from recommender.catalog.load import SUPPORTED_SUFFIXES, CatalogError, Problem, load_catalog
from recommender.catalog.sources import CatalogFiles, UploadStore


def _suffix(upload: FileStorage, field: str) -> str:
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise CatalogError([Problem(upload.filename or field, f"unsupported file type '{suffix or 'none'}' "
                                    f"for {field}: upload a .csv or .parquet file")])
    return ".parquet" if suffix == ".pq" else suffix


def _save(directory: Path, upload: FileStorage, kind: str) -> Path:
    path = directory / (kind + _suffix(upload, kind))
    upload.save(path)
    return path


def _validate(files: CatalogFiles, original_names: dict[str, str]) -> None:
    """Problems name the files as the user called them, not as they are stored."""
    try:
        load_catalog(files.items, files.interactions)
    except CatalogError as exc:
        raise CatalogError([Problem(original_names.get(p.file, p.file), p.message, p.column, p.rows)
                            for p in exc.problems]) from None


def save_upload(uploads: UploadStore, items: FileStorage | None,
                interactions: FileStorage | None) -> tuple[str, CatalogFiles]:
    """Store the files under a fresh upload id and validate them; on any problem nothing is kept and
    CatalogError lists every problem by file, column and row."""
    if items is None or not items.filename:
        raise CatalogError([Problem("items", "no items file was uploaded")])
    upload_id, directory = uploads.new()
    try:
        files = CatalogFiles(_save(directory, items, "items"),
                             _save(directory, interactions, "interactions")
                             if interactions is not None and interactions.filename else None)
        names = {files.items.name: items.filename}
        if files.interactions is not None:
            names[files.interactions.name] = interactions.filename
        _validate(files, names)
        return upload_id, files
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
