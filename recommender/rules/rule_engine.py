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

from recommender.rules.rule_schema import Condition, Rule
from recommender.similarity.explain import Why

NOTES = {"pin": "pinned by rule {}", "boost": "boosted by rule {}", "bury": "buried by rule {}"}


def condition_mask(condition: Condition, catalog, rows: np.ndarray, categories: list[tuple[str, ...]]) -> np.ndarray:
    """Which of `rows` (with their items' categories) meet `condition`; unknown rows (-1) never do."""
    keep = rows >= 0
    safe = np.where(keep, rows, 0)
    for wanted in condition.attributes:
        if wanted.name not in catalog.attribute_columns:
            return np.zeros(len(rows), dtype=bool)
        keep &= wanted.mask(catalog.attribute_columns, safe)
    if condition.categories:
        keep &= np.array([bool(condition.categories.intersection(c)) for c in categories], dtype=bool)
    return keep


def applicable(rules: Sequence[Rule], surface: str, page_item, catalog) -> list[Rule]:
    """The enabled rules for this surface whose `when` holds for the page's item (none hold without one)."""
    chosen = [rule for rule in rules if rule.enabled and rule.surface in (surface, "*")]
    if not any(rule.when for rule in chosen):
        return chosen
    page_row = np.array([catalog.table.row_of(page_item.item_id) if page_item is not None else -1], dtype=np.int64)
    page_categories = [tuple(page_item.categories) if page_item is not None else ()]
    return [rule for rule in chosen if rule.when is None
            or bool(condition_mask(rule.when, catalog, page_row, page_categories)[0])]


def noted(entry, note: str):
    """The entry with `note` in its why (entries without a why, such as search results, stay as they are)."""
    if not hasattr(entry, "why"):
        return entry
    why = entry.why or Why()
    return replace(entry, why=replace(why, rules=(*why.rules, note)))


def _adjusted(score: float, factor: float) -> float:
    return score * factor if score >= 0 else score / factor


def _reweighted(entries: list, rows: np.ndarray, weighing: list[Rule], catalog) -> tuple[list, np.ndarray]:
    categories = [tuple(e.item.categories) for e in entries]
    factors = np.ones(len(entries))
    notes: list[list[str]] = [[] for _ in entries]
    for rule in weighing:
        hit = condition_mask(rule.where, catalog, rows, categories)
        factors[hit] *= rule.factor if rule.action == "boost" else 1.0 / rule.factor
        for i in np.flatnonzero(hit):
            notes[i].append(NOTES[rule.action].format(rule.rule_id))
    keys = [_adjusted(float(e.score), f) for e, f in zip(entries, factors)]
    order = sorted(range(len(entries)), key=lambda i: -keys[i])
    moved = [entries[i] for i in order]
    for position, i in enumerate(order):
        for note in notes[i]:
            moved[position] = noted(moved[position], note)
    return moved, rows[order]


def _pinned(entries: list, rows: list[int], rule: Rule, page_item, catalog, accept, hiding: list[Rule],
            make_entry) -> tuple[list, list[int]]:
    if page_item is not None and rule.item_id == page_item.item_id:
        return entries, rows
    row = catalog.table.row_of(rule.item_id)
    if row < 0 or (accept is not None and not accept(row)):
        return entries, rows
    at = next((i for i, e in enumerate(entries) if e.item.item_id == rule.item_id), None)
    entry = entries[at] if at is not None else make_entry(rule.item_id)
    if entry is None:
        return entries, rows
    if at is None and any(condition_mask(h.where, catalog, np.array([row]), [tuple(entry.item.categories)])[0]
                          for h in hiding):
        return entries, rows
    if at is not None:
        entries, rows = entries[:at] + entries[at + 1:], rows[:at] + rows[at + 1:]
    place = min(rule.position - 1, len(entries))
    note = NOTES["pin"].format(rule.rule_id)
    return entries[:place] + [noted(entry, note)] + entries[place:], rows[:place] + [row] + rows[place:]


def apply_rules(rules: Sequence[Rule], surface: str, page_item, ranked: list, catalog, accept=None,
                k: int | None = None, make_entry: Callable | None = None) -> list:
    """`ranked` (entries with .item and .score, best first) with the rules for `surface` applied, cut to `k`.

    `catalog` is the model the list came from; `accept(row)` its filters (pins must pass them);
    `make_entry(item_id)` builds the entry of a pinned item that is not in the list (default: a card on
    `page_item`'s similar panel; without a page item, pins only move listed items)."""
    chosen = applicable(rules, surface, page_item, catalog)
    if not chosen:
        return ranked[:k]
    entries = list(ranked)
    rows = np.array([catalog.table.row_of(e.item.item_id) for e in entries], dtype=np.int64)
    hiding = [rule for rule in chosen if rule.action == "hide"]
    for rule in hiding:
        keep = ~condition_mask(rule.where, catalog, rows, [tuple(e.item.categories) for e in entries])
        entries, rows = [e for e, kept in zip(entries, keep.tolist()) if kept], rows[keep]
    weighing = [rule for rule in chosen if rule.action in ("boost", "bury")]
    if weighing and entries:
        entries, rows = _reweighted(entries, rows, weighing, catalog)
    if make_entry is None:
        make_entry = (lambda item_id: catalog.similar_item(page_item.item_id, item_id)) if page_item else (
            lambda item_id: None)
    listed = rows.tolist()
    for rule in sorted((r for r in chosen if r.action == "pin"), key=lambda r: r.position):
        entries, listed = _pinned(entries, listed, rule, page_item, catalog, accept, hiding, make_entry)
    return entries[:k]
