"""Examples and labels taken from the served catalog, so a car catalog is not offered "e.g. toy story".

Pages say what the served version holds: a search example from its titles, example ids from its items,
whether its list of items is by popularity or alphabetical (with no interactions it is A–Z), and
whether a year filter can narrow anything (not when every item has the same year, or none).
Worked out once per index version (a version never changes) and kept for the few versions a process sees.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pyarrow.compute as pc

from recommender.limits import WORDING_VERSIONS_KEPT

EXAMPLE_TITLE_WORDS = 3
EXAMPLE_IDS = 2


@dataclass(frozen=True)
class CatalogWording:
    """What the pages of one index version say about its catalog."""

    search_example: str | None   # "acura integra": a real title's first words, lowercased
    example_ids: tuple[str, ...]  # ids of real items, for "e.g." hints
    ranked_by_interactions: bool  # the home page's list is "Popular items", else "Items A–Z"
    years_vary: bool              # a year range can narrow an answer

    @property
    def example_ids_text(self) -> str:
        return ", ".join(self.example_ids)


_kept: dict[str, CatalogWording] = {}
_lock = threading.Lock()


def _years_vary(model) -> bool:
    if "year" not in model.table.table.column_names:
        return False
    low_high = pc.min_max(model.table.table.column("year")).as_py()
    return low_high["min"] is not None and low_high["min"] != low_high["max"]


def _wording(model) -> CatalogWording:
    listed = model.popular(EXAMPLE_IDS + 1)
    words = listed[0].title.split()[:EXAMPLE_TITLE_WORDS] if listed else []
    return CatalogWording(search_example=" ".join(words).lower() or None,
                          example_ids=tuple(item.item_id for item in listed[:EXAMPLE_IDS]),
                          ranked_by_interactions=any(item.interaction_count for item in listed),
                          years_vary=_years_vary(model))


def catalog_wording(model) -> CatalogWording:
    """The wording for `model` (the served model or an arm of a test), worked out on first use."""
    key = str(model.path)
    with _lock:
        found = _kept.get(key)
    if found is None:
        found = _wording(model)
        with _lock:
            if len(_kept) >= WORDING_VERSIONS_KEPT:
                _kept.pop(next(iter(_kept)))
            _kept[key] = found
    return found
