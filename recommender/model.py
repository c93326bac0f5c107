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
from recommender.attributes.attribute_columns import AttributeColumns
from recommender.attributes.attribute_filters import AttributeCondition
from recommender.attributes.row_filter import RowFilter, first_accepted
from recommender.index_store import read_manifest
from recommender.item_table import ItemTable, TitleColumn
from recommender.limits import IMAGE_ATTRIBUTES, IMAGE_SCHEMES, K_MAX, K_MIN, POPULAR_SHOWN, SEARCH_LIMIT
from recommender.neighbours.lookup import METRIC, angular_to_cosine, annoy_neighbours
from recommender.panels.bought_together import BoughtTogether
from recommender.search import Highlight, TitleSearch
from recommender.similarity.explain import Explainer, Why
from recommender.similarity.word_weights import WordWeights

MAX_FILTER_CANDIDATES = 5000
SEARCH_FILTER_WIDENING = 50  # a filtered search looks at this many times the matches it shows


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
    """Narrowing a list: any of `categories`, none of `exclude`, a year range, and every attribute condition."""

    categories: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    year_min: int | None = None
    year_max: int | None = None
    exclude_rows: frozenset[int] = frozenset()  # rows of items removed since the build (never shown)
    attributes: tuple[AttributeCondition, ...] = ()  # attr.<name>=, min.<name>=, max.<name>= (issue 25)

    def __bool__(self) -> bool:
        return bool(self.categories or self.exclude or self.exclude_rows or self.year_min is not None
                    or self.year_max is not None or self.attributes)


@dataclass(frozen=True)
class SimilarPage:
    """A similar-items answer and how many nearer items the visitor's filters turned away to fill it."""

    results: list
    filtered_out: int = 0


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


@dataclass(frozen=True)
class SearchAnswer:
    """Results best first, and what the query was read as when the best one needed corrections."""

    results: list[SearchResult]
    corrected: str | None = None


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
            word_weights = WordWeights.load(self.path / layout.WORD_WEIGHTS_DIR)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise IndexLoadError(f"{self.version}: a file of this version cannot be read: {exc}") from exc
        self.annoy = AnnoyIndex(int(self.manifest["dimensions"]), METRIC)
        try:
            self.annoy.load(str(self.path / layout.INDEX_FILE), prefault=False)
        except OSError as exc:
            raise IndexLoadError(f"{self.version}: cannot load {layout.INDEX_FILE}: {exc}") from exc
        self._check_consistency()
        self.explainer = Explainer(self.table, likes_indptr, likes_indices, word_weights)
        self.bought_together = BoughtTogether.open(self.path, self.manifest)  # issue 24
        self.all_categories = list(self.manifest.get("categories", []))
        self.attribute_columns = AttributeColumns(self.table.arrays(), self.table.attribute_columns)
        self.years = self.table.numbers("year")
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

    def _items_at(self, rows: list[int]) -> list[Item]:
        """_item_at for many rows, a column at a time (one Arrow take per column, not a value per cell)."""
        if not rows:
            return []
        taken = {name: self.table.values(name, rows)
                 for name in ("item_id", "title", "description", "categories", "year", "interaction_count")}
        return [Item(item_id=item_id, title=title, description=description or "",
                     categories=tuple(c for c in (categories or "").split("|") if c), year=year,
                     interaction_count=int(count or 0))
                for item_id, title, description, categories, year, count in zip(*taken.values())]

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
        return self.similar_page(item_id, k, filters).results

    def similar_page(self, item_id: str, k: int = 10, filters: Filters | None = None,
                     explain: bool = True) -> SimilarPage:
        """get_similar_items, with how many nearer items the filters turned away ("N filtered out");
        without `explain`, no why (a caller that keeps only some of the items explains those)."""
        row = self.table.row_of(str(item_id))
        if row < 0:
            raise UnknownItem(str(item_id))
        if not K_MIN <= k <= K_MAX:
            raise ValueError(f"k must be between {K_MIN} and {K_MAX}")
        pairs, filtered_out = self._nearest(row, k, filters or Filters())
        why = self.explainer.for_item(row) if explain else None
        items = self._items_at([r for r, _ in pairs])
        return SimilarPage([SimilarItem(item, s, why(r) if why else None) for item, (r, s) in zip(items, pairs)],
                           filtered_out)

    def similar_item(self, item_id: str, other_id: str) -> SimilarItem | None:
        """`other_id` as a card on `item_id`'s similar panel (a pinned item), or None if either is unknown."""
        return self.similar_items_to(item_id, explain=True)(other_id)

    def similar_items_to(self, item_id: str, explain: bool = False):
        """make(other_id): cards for `item_id`'s similar panel (pinned items: a rule put them there, so by default
        their why says only that), what is known of `item_id` read once."""
        row = self.table.row_of(str(item_id))
        why = self.explainer.for_item(row) if row >= 0 and explain else None

        def make(other_id: str) -> SimilarItem | None:
            other = self.table.row_of(str(other_id))
            if row < 0 or other < 0:
                return None
            score = float(angular_to_cosine(np.array([self.annoy.get_distance(row, other)]))[0])
            return SimilarItem(self._item_at(other), score, why(other) if why else Why())
        return make

    def _nearest(self, row: int, k: int, filters: Filters) -> tuple[list[tuple[int, float]], int]:
        table_rows, table_scores = self.neighbours[row], self.scores[row]
        if not filters and k <= len(table_rows):
            return [(r, s) for r, s in zip(table_rows[:k].tolist(), table_scores[:k].tolist()) if r >= 0], 0
        accept = self._filter(filters)
        listed = (table_rows >= 0) & (table_rows != row)
        chosen, turned_away = first_accepted(table_rows[listed], table_scores[listed], accept, k)
        if len(chosen) >= k or len(table_rows) >= len(self) - 1:
            return chosen, turned_away
        width = max(4 * k, 2 * len(table_rows))
        while True:
            width = min(width, len(self), MAX_FILTER_CANDIDATES)
            rows, scores = self.nearest_by_annoy(row, width)
            chosen, turned_away = first_accepted(rows, scores, accept, k)
            if len(chosen) >= k or width >= min(len(self), MAX_FILTER_CANDIDATES):
                return chosen, turned_away
            width *= 4

    def accepting(self, filters: Filters | None):
        """The one test a candidate row passes before any list shows it (similar items, for-you, ...)."""
        return self._filter(filters or Filters())

    def _filter(self, filters: Filters) -> RowFilter:
        """A callable `accept(row)` for `filters` (with `mask(rows)` for many rows at once)."""
        excluded = {r for r in (self.table.row_of(i) for i in filters.exclude) if r >= 0} | filters.exclude_rows
        return RowFilter(filters, self.table, self.attribute_columns, self.years, excluded)

    def nearest_by_annoy(self, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """A wider search straight from the Annoy index, for questions the table cannot answer."""
        search_k = max(int(self.manifest["search_k"]), (k + 1) * int(self.manifest["trees"]))
        found, cosines = annoy_neighbours(self.annoy, row, k, search_k)
        return np.array(found, dtype=np.int64), cosines

    def popular(self, n: int = POPULAR_SHOWN) -> list[Item]:
        return [self._item_at(int(r)) for r in self.popular_rows[:n]]

    def search(self, query: str, limit: int = SEARCH_LIMIT, filters: Filters | None = None) -> list[SearchResult]:
        return self.search_answer(query, limit, filters).results

    def search_answer(self, query: str, limit: int = SEARCH_LIMIT, filters: Filters | None = None) -> SearchAnswer:
        """Titles matching `query`, best first, and what it was read as; with filters, the matches that pass
        them (from up to MAX_FILTER_CANDIDATES matches)."""
        if not filters:
            found = self.title_search.answer(query, limit)
            hits = found.hits
        else:
            found = self.title_search.answer(query, min(MAX_FILTER_CANDIDATES, SEARCH_FILTER_WIDENING * limit))
            keep = self._filter(filters).mask(np.array([hit.row for hit in found.hits], dtype=np.int64))
            hits = [hit for hit, kept in zip(found.hits, keep.tolist()) if kept][:limit]
        return SearchAnswer([SearchResult(self._item_at(hit.row), hit.score, hit.highlights) for hit in hits],
                            found.corrected)
