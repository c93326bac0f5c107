"""The files of one index version: names shared by the builder (writes) and the model (reads).

Kept free of heavy imports, so the web tier can read an index without loading the build stack.
"""

FORMAT_VERSION = 2
LIKES_INDPTR_FILE = "likes_indptr.npy"
LIKES_INDICES_FILE = "likes_indices.npy"
POPULAR_FILE = "popular.npy"
SEARCH_DIR = "search"
