"""A served model seen without the items removed since it was built (deleted or hidden in the store).

Removal must not wait for a rebuild: every answer (item, similar items, search, popular) drops these
ids at once, and similar items still come back k at a time (the filter path widens its search).
Built once per (model version, removed list), so a request pays nothing for it.
"""

from __future__ import annotations

from dataclasses import replace

from recommender.limits import POPULAR_SHOWN, SEARCH_LIMIT
from recommender.model import Filters, Item, SearchResult, SimilarItem, SimilarItemsModel, SimilarPage, UnknownItem

MAX_EXTRA_ASKED = 1000  # search and popular ask this many more at most, to fill in for removed ones


class WithoutRemoved:
    """The model's answers, minus `removed` ids; everything else is the model's own."""

    def __init__(self, model: SimilarItemsModel, removed: frozenset[str]):
        self.model = model
        rows = (model.table.row_of(item_id) for item_id in removed)
        self.removed_rows = frozenset(row for row in rows if row >= 0)
        self.removed = frozenset(model.table.value("item_id", row) for row in self.removed_rows)

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __len__(self) -> int:
        return len(self.model) - len(self.removed_rows)

    def has_item(self, item_id: str) -> bool:
        return item_id not in self.removed and self.model.has_item(item_id)

    def get_item(self, item_id: str) -> Item:
        if str(item_id) in self.removed:
            raise UnknownItem(str(item_id))
        return self.model.get_item(item_id)

    def get_similar_items(self, item_id: str, k: int = 10, filters: Filters | None = None) -> list[SimilarItem]:
        if str(item_id) in self.removed:
            raise UnknownItem(str(item_id))
        return self.similar_page(item_id, k, filters).results

    def similar_page(self, item_id: str, k: int = 10, filters: Filters | None = None,
                     explain: bool = True) -> SimilarPage:
        if str(item_id) in self.removed:
            raise UnknownItem(str(item_id))
        filters = replace(filters or Filters(), exclude_rows=self.removed_rows)
        return self.model.similar_page(item_id, k, filters, explain)

    def _filter(self, filters: Filters):
        """The model's row filter, never accepting a removed item (lists that filter candidates themselves)."""
        return self.model._filter(replace(filters, exclude_rows=filters.exclude_rows | self.removed_rows))

    def _extra(self) -> int:
        return min(len(self.removed_rows), MAX_EXTRA_ASKED)

    def search(self, query: str, limit: int = SEARCH_LIMIT, filters: Filters | None = None) -> list[SearchResult]:
        found = self.model.search(query, limit + self._extra(), filters)
        return [result for result in found if result.item.item_id not in self.removed][:limit]

    def popular(self, n: int = POPULAR_SHOWN) -> list[Item]:
        return [item for item in self.model.popular(n + self._extra()) if item.item_id not in self.removed][:n]


def without_removed(model: SimilarItemsModel, removed: frozenset[str]) -> SimilarItemsModel | WithoutRemoved:
    """The model itself when none of its items are removed (the common case after a build)."""
    view = WithoutRemoved(model, removed)
    return view if view.removed_rows else model
