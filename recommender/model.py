"""A loaded index version, ready to answer: similar items, item details, popular items, search.

Opened read-only: the Annoy file and the neighbour table are memory-mapped, so every web
process on a machine shares one copy of them in the page cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from annoy import AnnoyIndex

from recommender import layout
from recommender.index_store import read_manifest
from recommender.item_table import ItemTable, TitleColumn
from recommender.limits import IMAGE_ATTRIBUTES, IMAGE_SCHEMES, K_MAX, K_MIN, POPULAR_SHOWN, SEARCH_LIMIT
from recommender.neighbours.lookup import METRIC, annoy_neighbours
from recommender.panels.bought_together import BoughtTogether
from recommender.search import Highlight, TitleSearch
from recommender.similarity.explain import Explainer, Why

MAX_FILTER_CANDIDATES = 5000


class UnknownItem(KeyError):
    """No item with this id in the served index."""

    def __init__(self, item_id: str):
        super().__init__(item_id)
        self.item_id = item_id

    def __str__(self) -> str:
        return f"no item with id '{self.item_id}' in the catalog"


class IndexLoadError(RuntimeError):
    """An index version that is incomplete, corrupt or does not match its manifest."""


@dataclass(frozen=True)
class Item:
    item_id: str
    title: str
    description: str = ""
    categories: tuple[str, ...] = ()
    year: int | None = None
    attributes: dict = field(default_factory=dict)
    interaction_count: int = 0

    @property
    def image_url(self) -> str | None:
        """The item's picture, only when it is an http(s) address: nothing else is ever put in <img src>."""
        for name in IMAGE_ATTRIBUTES:
            value = str(self.attributes.get(name) or "").strip()
            if value.lower().startswith(IMAGE_SCHEMES):
                return value
        return None

    def as_dict(self) -> dict:
        return {"item_id": self.item_id, "title": self.title, "description": self.description,
                "categories": list(self.categories), "year": self.year, "attributes": self.attributes,
                "interaction_count": self.interaction_count}


@dataclass(frozen=True)
class Filters:
    """Narrowing a similar-items answer: any of `categories`, none of `exclude`, a year range."""

    categories: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    year_min: int | None = None
    year_max: int | None = None
    exclude_rows: frozenset[int] = frozenset()  # rows of items removed since the build (never shown)

    def __bool__(self) -> bool:
        return bool(self.categories or self.exclude or self.exclude_rows or self.year_min is not None
                    or self.year_max is not None)


@dataclass(frozen=True)
class SimilarItem:
    item: Item
    score: float
    why: Why | None = None

    @property
    def item_id(self) -> str:
        return self.item.item_id

    @property
    def title(self) -> str:
        return self.item.title

    def as_dict(self) -> dict:
        return {"item_id": self.item.item_id, "title": self.item.title, "score": round(self.score, 4),
                "year": self.item.year, "categories": list(self.item.categories),
                "why": self.why.as_dict() | {"summary": self.why.summary} if self.why else None}


@dataclass(frozen=True)
class SearchResult:
    item: Item
    score: float
    highlights: tuple[Highlight, ...]

    def as_dict(self) -> dict:
        return {"item_id": self.item.item_id, "title": self.item.title, "year": self.item.year,
                "score": self.score, "highlights": [[h.text, h.matched] for h in self.highlights]}


class SimilarItemsModel:
    """One immutable index version; replaced whole, never modified, when a new one is published."""

    def __init__(self, version_dir: str | Path):
        self.path = Path(version_dir)
        try:
            self.manifest = read_manifest(self.path)
        except RuntimeError as exc:
            raise IndexLoadError(str(exc)) from exc
        self.version = str(self.manifest.get("version") or self.path.name)
        self._check_files()
        try:
            self.table = ItemTable(self.path)
            self.neighbours = np.load(self.path / layout.NEIGHBOURS_FILE, mmap_mode="r").view(np.ndarray)
            self.scores = np.load(self.path / layout.SCORES_FILE, mmap_mode="r").view(np.ndarray)
            self.popular_rows = np.load(self.path / layout.POPULAR_FILE, mmap_mode="r").view(np.ndarray)
            likes_indptr = np.load(self.path / layout.LIKES_INDPTR_FILE, mmap_mode="r").view(np.ndarray)
            likes_indices = np.load(self.path / layout.LIKES_INDICES_FILE, mmap_mode="r").view(np.ndarray)
            self.title_search = TitleSearch.load(self.path / layout.SEARCH_DIR, TitleColumn(self.table))
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise IndexLoadError(f"{self.version}: a file of this version cannot be read: {exc}") from exc
        self.annoy = AnnoyIndex(int(self.manifest["dimensions"]), METRIC)
        try:
            self.annoy.load(str(self.path / layout.INDEX_FILE), prefault=False)
        except OSError as exc:
            raise IndexLoadError(f"{self.version}: cannot load {layout.INDEX_FILE}: {exc}") from exc
        self._check_consistency()
        self.explainer = Explainer(self.table, likes_indptr, likes_indices)
        self.bought_together = BoughtTogether.open(self.path, self.manifest)  # issue 24
        self.all_categories = list(self.manifest.get("categories", []))
        self._items_frame = None

    @property
    def items(self):
        """The item table as pandas, built on first use (admin and tests; requests never need it)."""
        if self._items_frame is None:
            self._items_frame = self.table.to_pandas()
        return self._items_frame

    def _check_files(self) -> None:
        if self.manifest.get("format") != layout.FORMAT_VERSION:
            raise IndexLoadError(f"{self.version}: unknown index format {self.manifest.get('format')!r}")
        for name, size in self.manifest.get("files", {}).items():
            path = self.path / name
            if not path.is_file():
                raise IndexLoadError(f"{self.version}: {name} is missing")
            if path.stat().st_size != size:
                raise IndexLoadError(f"{self.version}: {name} is {path.stat().st_size} bytes, "
                                     f"the manifest says {size}: the file is truncated or replaced")

    def _check_consistency(self) -> None:
        expected = int(self.manifest["item_count"])
        found = {"index": self.annoy.get_n_items(), "items table": len(self.table),
                 "neighbour table": self.neighbours.shape[0], "search arrays": self.title_search.size}
        wrong = {name: n for name, n in found.items() if n != expected}
        if wrong:
            raise IndexLoadError(f"{self.version}: the manifest says {expected} items but "
                                 + ", ".join(f"the {name} has {n}" for name, n in wrong.items()))

    def __len__(self) -> int:
        return len(self.table)

    def has_item(self, item_id: str) -> bool:
        return self.table.row_of(item_id) >= 0

    def _item_at(self, row: int, with_attributes: bool = False) -> Item:
        table = self.table
        return Item(item_id=table.value("item_id", row), title=table.title(row), description=table.description(row),
                    categories=table.categories(row), year=table.value("year", row),
                    attributes=table.attributes(row) if with_attributes else {},
                    interaction_count=int(table.value("interaction_count", row) or 0))

    def get_item(self, item_id: str) -> Item:
        row = self.table.row_of(str(item_id))
        if row < 0:
            raise UnknownItem(str(item_id))
        return self._item_at(row, with_attributes=True)

    def get_similar_items(self, item_id: str, k: int = 10, filters: Filters | None = None) -> list[SimilarItem]:
        """The k nearest other items, most similar first, each with why; never the item itself.

        With filters, the precomputed table is searched first, then ever wider Annoy searches, up to
        the MAX_FILTER_CANDIDATES nearest items; fewer than k come back only when fewer match there.
        """
        row = self.table.row_of(str(item_id))
        if row < 0:
            raise UnknownItem(str(item_id))
        if not K_MIN <= k <= K_MAX:
            raise ValueError(f"k must be between {K_MIN} and {K_MAX}")
        pairs = self._nearest(row, k, filters or Filters())
        why = self.explainer.for_item(row)
        return [SimilarItem(self._item_at(r), s, why(r)) for r, s in pairs]

    def _nearest(self, row: int, k: int, filters: Filters) -> list[tuple[int, float]]:
        table_rows, table_scores = self.neighbours[row], self.scores[row]
        if not filters and k <= len(table_rows):
            return [(r, s) for r, s in zip(table_rows[:k].tolist(), table_scores[:k].tolist()) if r >= 0]
        accept = self._filter(filters)
        chosen = [(r, s) for r, s in zip(table_rows.tolist(), table_scores.tolist())
                  if r >= 0 and r != row and accept(r)]
        if len(chosen) >= k or len(table_rows) >= len(self) - 1:
            return chosen[:k]
        width = max(4 * k, 2 * len(table_rows))
        while True:
            width = min(width, len(self), MAX_FILTER_CANDIDATES)
            rows, scores = self.nearest_by_annoy(row, width)
            chosen = [(int(r), float(s)) for r, s in zip(rows, scores) if accept(r)]
            if len(chosen) >= k or width >= min(len(self), MAX_FILTER_CANDIDATES):
                return chosen[:k]
            width *= 4

    def _filter(self, filters: Filters):
        if not filters:
            return lambda row: True
        excluded = {r for r in (self.table.row_of(i) for i in filters.exclude) if r >= 0} | filters.exclude_rows
        wanted = filters.categories
        low = filters.year_min if filters.year_min is not None else -10**9
        high = filters.year_max if filters.year_max is not None else 10**9
        years_filtered = filters.year_min is not None or filters.year_max is not None

        def accept(row) -> bool:
            row = int(row)
            if row in excluded:
                return False
            if wanted and not wanted.intersection(self.table.categories(row)):
                return False
            if years_filtered:
                year = self.table.value("year", row)
                return year is not None and low <= year <= high
            return True
        return accept

    def accepts(self, filters: Filters):
        """The test the similar panel's filters put a row to, for the other lists (trending, bought together)."""
        return self._filter(filters)

    def nearest_by_annoy(self, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """A wider search straight from the Annoy index, for questions the table cannot answer."""
        search_k = max(int(self.manifest["search_k"]), (k + 1) * int(self.manifest["trees"]))
        found, cosines = annoy_neighbours(self.annoy, row, k, search_k)
        return np.array(found, dtype=np.int64), cosines

    def popular(self, n: int = POPULAR_SHOWN) -> list[Item]:
        return [self._item_at(int(r)) for r in self.popular_rows[:n]]

    def search(self, query: str, limit: int = SEARCH_LIMIT) -> list[SearchResult]:
        return [SearchResult(self._item_at(hit.row), hit.score, hit.highlights)
                for hit in self.title_search.search(query, limit)]
