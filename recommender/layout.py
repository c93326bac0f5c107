"""What a build and its readers agree on: the files of one index version (the builder writes them, the
store publishes them, the model reads them), how a build reports progress, and the error that stops one.

Kept free of heavy imports, so the web tier can read an index without loading the build stack.
"""

from __future__ import annotations

from collections.abc import Callable

FORMAT_VERSION = 2
MANIFEST_FILE = "manifest.json"
INDEX_FILE = "index.ann"
NEIGHBOURS_FILE = "neighbours.npy"
SCORES_FILE = "scores.npy"
ITEM_TABLE_FILE = "items.arrow"
ITEM_IDS_FILE = "ids.npy"
ITEM_ID_ROWS_FILE = "id_rows.npy"
ITEM_TABLE_FILES = (ITEM_TABLE_FILE, ITEM_IDS_FILE, ITEM_ID_ROWS_FILE)
LIKES_INDPTR_FILE = "likes_indptr.npy"
LIKES_INDICES_FILE = "likes_indices.npy"
POPULAR_FILE = "popular.npy"
SEARCH_DIR = "search"
WORD_WEIGHTS_DIR = "word_weights"  # document frequencies of the explanation words
CATALOG_SNAPSHOT_FILE = "catalog_items.parquet"  # the items this version was built from (restorable)

Progress = Callable[[str, int], None]


def no_progress(stage: str, percent: int) -> None:
    """The default progress callback: builds outside a job report to nobody."""


class BuildError(RuntimeError):
    """A build that must not be published, with a reason a person can act on."""
