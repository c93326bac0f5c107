"""Applying rules to a ranked list, after the list's own ranking and filters: one call any list makes.

Order (README, "Filters and rules"):
1. the list's filters (the visitor's, removed items) chose the candidates;
2. hide rules drop matching candidates;
3. boost and bury rules multiply matching candidates' scores (boost by its factor, bury by 1/factor; factors of
   several matching rules multiply; a negative score is divided instead so "boost" still moves it up) and the
   list is re-sorted by the new scores (ties keep their order);
4. pin rules put their item at their position (lowest position first); the item must pass the filters and
   the hide rules and never be the page's own item; an item already listed moves there;
5. the list is cut to k.
A card a rule moved says so in its why ("pinned by rule house-brand", "boosted by rule sale").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from recommender.model import SimilarItem
from recommender.rules.rule_schema import Condition, Rule
from recommender.similarity.explain import Why

NOTES = {"pin": "pinned by rule {}", "boost": "boosted by rule {}", "bury": "buried by rule {}"}


def condition_mask(condition: Condition, catalog, rows: np.ndarray, categories: list[tuple[str, ...]]) -> np.ndarray:
    """Which of `rows` (rows of the catalog, with their items' categories) meet `condition`."""
    keep = np.ones(len(rows), dtype=bool)
    for wanted in condition.attributes:
        if wanted.name not in catalog.attribute_columns:
            return np.zeros(len(rows), dtype=bool)
        keep &= wanted.mask(catalog.attribute_columns, rows)
    if condition.categories and keep.any():  # only where the attributes already hold
        wanted = condition.categories
        chosen = np.flatnonzero(keep).tolist()
        keep[chosen] = [not wanted.isdisjoint(categories[i]) for i in chosen]
    return keep


def applicable(rules: Sequence[Rule], surface: str, page_item, catalog) -> list[Rule]:
    """The enabled rules for this surface whose `when` holds for the page's item (none hold without one)."""
    chosen = [rule for rule in rules if rule.enabled and rule.surface in (surface, "*")]
    if not any(rule.when for rule in chosen):
        return chosen
    row = catalog.table.row_of(page_item.item_id) if page_item is not None else -1
    if row < 0:
        return [rule for rule in chosen if rule.when is None]
    page_row, page_categories = np.array([row], dtype=np.int64), [tuple(page_item.categories)]
    return [rule for rule in chosen if rule.when is None
            or bool(condition_mask(rule.when, catalog, page_row, page_categories)[0])]


def noted(entry, notes: list[str]):
    """The entry with `notes` in its why (entries without a why, such as search results, stay as they are)."""
    if not notes:
        return entry
    if hasattr(entry, "with_rule_notes"):  # a card that says its own why (for-you)
        return entry.with_rule_notes(notes)
    if not hasattr(entry, "why"):
        return entry
    why = entry.why or Why()
    why = replace(why, rules=(*why.rules, *notes))
    return SimilarItem(entry.item, entry.score, why) if type(entry) is SimilarItem else replace(entry, why=why)


def _adjusted(score: float, factor: float) -> float:
    return score * factor if score >= 0 else score / factor


def _reweighted(entries: list, rows: np.ndarray, weighing: list[Rule], catalog, notes: dict) -> list:
    """Entries re-sorted by their scores times the factors of the boost and bury rules they meet."""
    categories = [tuple(e.item.categories) for e in entries]
    factors = np.ones(len(entries))
    for rule in weighing:
        hit = condition_mask(rule.where, catalog, rows, categories)
        factors[hit] *= rule.factor if rule.action == "boost" else 1.0 / rule.factor
        note = NOTES[rule.action].format(rule.rule_id)
        for i in np.flatnonzero(hit).tolist():
            notes.setdefault(entries[i].item.item_id, []).append(note)
    keys = [_adjusted(float(e.score), f) for e, f in zip(entries, factors.tolist())]
    return [entries[i] for i in sorted(range(len(entries)), key=lambda i: -keys[i])]


def _pinnable(pins: list[Rule], page_item, catalog, accept, hiding: list[Rule]) -> list[tuple[Rule, int]]:
    """The pins whose item exists, passes the filters and no hide rule, and is not the page's item, with its row."""
    found = [(rule, catalog.table.row_of(rule.item_id)) for rule in pins
             if page_item is None or rule.item_id != page_item.item_id]
    found = [(rule, row) for rule, row in found if row >= 0]
    if not found:
        return []
    rows = np.array([row for _, row in found], dtype=np.int64)
    keep = accept.mask(rows) if hasattr(accept, "mask") else np.array([accept(r) for r in rows.tolist()], dtype=bool)
    if hiding and keep.any():
        categories = [catalog.table.categories(row) for row in rows.tolist()]
        for rule in hiding:
            keep &= ~condition_mask(rule.where, catalog, rows, categories)
    return [pair for pair, kept in zip(found, keep.tolist()) if kept]


def _pinned(entries: list, rule: Rule, make_entry, notes: dict) -> list:
    """`entries` with the rule's item at its position (moved there if listed, else made by `make_entry`)."""
    at = next((i for i, e in enumerate(entries) if e.item.item_id == rule.item_id), None)
    entry = entries[at] if at is not None else make_entry(rule.item_id)
    if entry is None:
        return entries
    if at is not None:
        entries = entries[:at] + entries[at + 1:]
    place = min(rule.position - 1, len(entries))
    notes.setdefault(rule.item_id, []).append(NOTES["pin"].format(rule.rule_id))
    return entries[:place] + [entry] + entries[place:]


def apply_rules(rules: Sequence[Rule], surface: str, page_item, ranked: list, catalog, accept=None,
                k: int | None = None, make_entry: Callable | None = None) -> list:
    """`ranked` (entries with .item and .score, best first) with the rules for `surface` applied, cut to `k`.

    `catalog` is the model the list came from; `accept(row)` its filters (pins must pass them);
    `make_entry(item_id)` builds the entry of a pinned item that is not in the list (default: a card on
    `page_item`'s similar panel; without a page item, pins only move listed items)."""
    return apply_chosen(applicable(rules, surface, page_item, catalog), page_item, ranked, catalog, accept, k,
                        make_entry)


def apply_chosen(chosen: list[Rule], page_item, ranked: list, catalog, accept=None, k: int | None = None,
                 make_entry: Callable | None = None) -> list:
    """apply_rules for rules already known to apply here (applicable)."""
    if not chosen:
        return ranked[:k]
    entries = list(ranked)
    rows = catalog.table.rows_of([e.item.item_id for e in entries])
    hiding = [rule for rule in chosen if rule.action == "hide"]
    if hiding and entries:
        categories = [tuple(e.item.categories) for e in entries]
        keep = np.ones(len(entries), dtype=bool)
        for rule in hiding:
            keep &= ~condition_mask(rule.where, catalog, rows, categories)
        entries, rows = [e for e, kept in zip(entries, keep.tolist()) if kept], rows[keep]
    notes: dict[str, list[str]] = {}  # item id -> what rules did to it, written into the kept cards' why
    weighing = [rule for rule in chosen if rule.action in ("boost", "bury")]
    if weighing and entries:
        entries = _reweighted(entries, rows, weighing, catalog, notes)
    if make_entry is None:
        make_entry = catalog.similar_items_to(page_item.item_id) if page_item else (lambda item_id: None)
    pins = sorted((r for r in chosen if r.action == "pin"), key=lambda r: r.position)
    for rule, _ in _pinnable(pins, page_item, catalog, accept, hiding) if pins else ():
        entries = _pinned(entries, rule, make_entry, notes)
    return [noted(entry, notes.get(entry.item.item_id)) for entry in entries[:k]]
