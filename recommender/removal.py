"""A version seen with what the store changed since it was built: without the items removed since
(deleted or hidden), and, for an experiment's arms, with each item's fields as the served version has them.

Removal must not wait for a rebuild: every answer (item, similar items, search, popular) drops these
ids at once, and similar items still come back k at a time (the filter path widens its search).
Built once per (model version, removed list), so a request pays nothing for it.

An item edit reaches visitors when the rebuild it causes is published; an A/B test's arms stay the
versions they were (a rebuild changes neither), so they show the published version's fields for the
items both have: an edit reaches both arms exactly when it reaches everyone else.
"""

from __future__ import annotations

from dataclasses import replace

from recommender.limits import POPULAR_SHOWN, SEARCH_LIMIT
from recommender.model import (
    Filters,
    Item,
    SearchAnswer,
    SearchResult,
    SimilarItem,
    SimilarItemsModel,
    SimilarPage,
    UnknownItem,
)
from recommender.search import Highlight

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

    def accepting(self, filters: Filters | None):
        return self._filter(filters or Filters())

    def _extra(self) -> int:
        return min(len(self.removed_rows), MAX_EXTRA_ASKED)

    def search(self, query: str, limit: int = SEARCH_LIMIT, filters: Filters | None = None) -> list[SearchResult]:
        return self.search_answer(query, limit, filters).results

    def search_answer(self, query: str, limit: int = SEARCH_LIMIT, filters: Filters | None = None) -> SearchAnswer:
        found = self.model.search_answer(query, limit + self._extra(), filters)
        kept = [result for result in found.results if result.item.item_id not in self.removed][:limit]
        return SearchAnswer(kept, found.corrected if kept else None)

    def popular(self, n: int = POPULAR_SHOWN) -> list[Item]:
        return [item for item in self.model.popular(n + self._extra()) if item.item_id not in self.removed][:n]


def without_removed(model: SimilarItemsModel, removed: frozenset[str]) -> SimilarItemsModel | WithoutRemoved:
    """The model itself when none of its items are removed (the common case after a build)."""
    view = WithoutRemoved(model, removed)
    return view if view.removed_rows else model


class WithFieldsOf:
    """An arm's answers (its neighbours, rows and ranking) with the fields the `served` version has for each
    item: title, description, categories, year and attributes."""

    def __init__(self, arm, served: SimilarItemsModel):
        self.arm, self.served = arm, served

    def __getattr__(self, name):
        return getattr(self.arm, name)

    def __len__(self) -> int:
        return len(self.arm)

    def _fields(self, item: Item, with_attributes: bool = False) -> Item:
        if not self.served.has_item(item.item_id):
            return item
        newer = self.served.get_item(item.item_id)
        return replace(item, title=newer.title, description=newer.description, categories=newer.categories,
                       year=newer.year, attributes=newer.attributes if with_attributes else item.attributes)

    def get_item(self, item_id: str) -> Item:
        return self._fields(self.arm.get_item(item_id), with_attributes=True)

    def get_similar_items(self, item_id: str, k: int = 10, filters: Filters | None = None) -> list[SimilarItem]:
        return self.similar_page(item_id, k, filters).results

    def similar_page(self, item_id: str, k: int = 10, filters: Filters | None = None,
                     explain: bool = True) -> SimilarPage:
        page = self.arm.similar_page(item_id, k, filters, explain)
        return replace(page, results=[replace(r, item=self._fields(r.item)) for r in page.results])

    def search(self, query: str, limit: int = SEARCH_LIMIT, filters: Filters | None = None) -> list[SearchResult]:
        return self.search_answer(query, limit, filters).results

    def search_answer(self, query: str, limit: int = SEARCH_LIMIT, filters: Filters | None = None) -> SearchAnswer:
        found = self.arm.search_answer(query, limit, filters)
        return SearchAnswer([self._search_result(result) for result in found.results], found.corrected)

    def _search_result(self, result: SearchResult) -> SearchResult:
        item = self._fields(result.item)
        if item.title == result.item.title:
            return replace(result, item=item)
        return replace(result, item=item, highlights=(Highlight(item.title, False),))

    def popular(self, n: int = POPULAR_SHOWN) -> list[Item]:
        return [self._fields(item) for item in self.arm.popular(n)]


def with_fields_of(arm, served: SimilarItemsModel | None):
    """`arm` as is when it is the served version itself (or nothing is served)."""
    if served is None or getattr(arm, "version", None) == served.version:
        return arm
    return WithFieldsOf(arm, served)
