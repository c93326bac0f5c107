"""Merchandising rules for the web tier: the one call a list makes after ranking (`ranked_with_rules`), the
similar-items answer with rules applied, and storing rules (checked first: a refused rule changes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from werkzeug.exceptions import Conflict, NotFound, UnprocessableEntity

from recommender.limits import K_MAX, SEARCH_LIMIT
from recommender.model import Filters, SearchAnswer, SimilarItem
from recommender.rules.rule_engine import applicable, apply_chosen
from recommender.rules.rule_schema import RuleProblem, check_rule_id, parse_rule
from recommender.store.rule_store import RuleBook, TooManyRules
from web.extensions import model_holder, rules_holder
from web.services.store_writes import stored

RULE_HISTORY_SHOWN = 20


def ranked_with_rules(surface: str, page_item, ranked: list, model, filters: Filters | None = None,
                      k: int | None = None, make_entry=None) -> list:
    """`ranked` with the rules in force for `surface` applied (recommender/rules/rule_engine.py), cut to k.
    Lists with no page item (trending, for-you, search) pass None."""
    chosen = rules_here(surface, page_item, model)
    return _applied(chosen, page_item, ranked, model, filters, k, make_entry)


def rules_here(surface: str, page_item, model) -> list:
    """The rules in force that apply to `surface` on this page."""
    rules = rules_holder().rules_for(model)
    return applicable(rules, surface, page_item, model) if rules else []


def _applied(chosen: list, page_item, ranked: list, model, filters, k, make_entry=None) -> list:
    if not chosen:
        return ranked[:k]
    return apply_chosen(chosen, page_item, ranked, model, accept=model._filter(filters or Filters()), k=k,
                        make_entry=make_entry)


def rules_widen(chosen: list) -> bool:
    """Whether hide, boost or bury rules apply, so a list should rank more candidates than it shows (hidden
    items leave room, boosted ones may come from further down); pins need no more."""
    return any(rule.action != "pin" for rule in chosen)


@dataclass(frozen=True)
class RankedSimilar:
    results: list
    filtered_out: int


def similar_with_rules(model, item, k: int, filters: Filters) -> RankedSimilar:
    """The similar panel's k cards: filters first, then the rules, from twice as many neighbours when hide, boost
    or bury rules apply (only the k shown are explained)."""
    chosen = rules_here("similar", item, model)
    widen = rules_widen(chosen)
    page = model.similar_page(item.item_id, min(K_MAX, 2 * k) if widen else k, filters, explain=not widen)
    ranked = _applied(chosen, item, page.results, model, filters, k)
    if widen:
        ranked = _explained(model, item, ranked, {entry.item_id for entry in page.results})
    return RankedSimilar(ranked, page.filtered_out)


def _explained(model, item, ranked: list, unexplained: set[str]) -> list:
    """Why for the cards kept from an unexplained page, keeping what the rules noted."""
    why = model.explainer.for_item(model.table.row_of(item.item_id))
    explained = []
    for entry in ranked:
        if entry.item_id in unexplained:
            found = why(model.table.row_of(entry.item_id))
            entry = SimilarItem(entry.item, entry.score, replace(found, rules=entry.why.rules) if entry.why else found)
        explained.append(entry)
    return explained


def search_with_rules(model, query: str, filters: Filters, limit: int = SEARCH_LIMIT) -> SearchAnswer:
    """Search hits with the filters and the search rules (pins place listed hits only), and what the query
    was read as."""
    chosen = rules_here("search", None, model)
    wide = 2 * limit if rules_widen(chosen) else limit
    found = model.search_answer(query, wide, filters)
    return SearchAnswer(_applied(chosen, None, found.results, model, filters, limit), found.corrected)


def _columns():
    model = model_holder().model
    return model.attribute_columns if model is not None else None


def check_rule(rule_id: str, body) -> None:
    """422 naming the field when the rule cannot be stored (checked against the served version's attributes)."""
    try:
        parse_rule(rule_id, body, _columns())
    except RuleProblem as problem:
        raise RuleRefused(problem) from None


class RuleRefused(UnprocessableEntity):
    def __init__(self, problem: RuleProblem):
        super().__init__(str(problem))
        self.problem = problem


def put_rule(rule_id: str, body: dict, by: str) -> str:
    check_rule(rule_id, body)
    stored_body = {key: value for key, value in body.items() if key != "rule_id"}
    try:
        outcome = stored(lambda store: RuleBook(store).put(rule_id, stored_body, by))
    except TooManyRules as exc:
        raise Conflict(str(exc)) from None
    rules_holder().refresh()
    return outcome


def delete_rule(rule_id: str, by: str) -> None:
    try:
        check_rule_id(rule_id)
    except RuleProblem:
        raise NotFound(f"no rule '{rule_id[:80]}'") from None
    if not stored(lambda store: RuleBook(store).delete(rule_id, by)):
        raise NotFound(f"no rule '{rule_id}'")
    rules_holder().refresh()


def listed_rules() -> list[dict]:
    _, rows = stored(lambda store: RuleBook(store).read())
    return [{"rule_id": row["rule_id"], **row["body"], "updated_at": row["updated_at"],
             "updated_by": row["updated_by"], "created_at": row["created_at"]} for row in rows]


def rule_history() -> list[dict]:
    return stored(lambda store: RuleBook(store).history(RULE_HISTORY_SHOWN))
