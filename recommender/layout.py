"""The files of one index version: names shared by the builder (writes), the store (publishes) and
the model (reads), in one place.

Kept free of heavy imports, so the web tier can read an index without loading the build stack.
"""

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
CATALOG_SNAPSHOT_FILE = "catalog_items.parquet"  # the items this version was built from (restorable)
