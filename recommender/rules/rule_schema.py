"""What a rule is, and every reason one is refused (RuleProblem naming the field, answered 422).

A rule: {"surface": "similar" | "search" | "for-you" | "trending" | "bought-together" | "*",
"when": <optional condition on the page's item>, "where": <condition on the candidates>,
"action": "pin" | "boost" | "bury" | "hide", "factor": <boost and bury: more than 0, at most 100>,
"position": <pin: 1 = first>, "item_id": <pin>, "enabled": true}. A condition is an object whose keys are
attributes (or "category"), each with a value, a list of values (any of) or {"min": …, "max": …}; every key
must hold.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from recommender.attributes.attribute_columns import AttributeColumns
from recommender.attributes.attribute_filters import AttributeCondition, AttributeProblem, condition, parse_number
from recommender.limits import ITEM_ID_MAX_CHARS, K_MAX, RULE_CONDITIONS_MAX, RULE_FACTOR_MAX, RULE_ID_MAX_CHARS

SURFACES = ("similar", "search", "for-you", "trending", "bought-together", "*")
ACTIONS = ("pin", "boost", "bury", "hide")
FIELDS = ("surface", "when", "where", "action", "factor", "position", "item_id", "enabled")
CATEGORY = "category"
RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class RuleProblem(ValueError):
    """A rule that cannot be stored; `field` names what is wrong (e.g. "where.Price", "factor")."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message

    def as_dict(self) -> dict:
        return {"field": self.field, "message": self.message}


@dataclass(frozen=True)
class Condition:
    """Every attribute condition holds and, when `categories` is set, the item has one of them."""

    attributes: tuple[AttributeCondition, ...] = ()
    categories: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Rule:
    rule_id: str
    surface: str
    action: str
    where: Condition | None = None
    when: Condition | None = None
    factor: float = 1.0
    position: int = 1
    item_id: str | None = None
    enabled: bool = True


def check_rule_id(rule_id) -> str:
    if not isinstance(rule_id, str) or len(rule_id) > RULE_ID_MAX_CHARS or not RULE_ID.fullmatch(rule_id):
        raise RuleProblem("rule_id", f"1 to {RULE_ID_MAX_CHARS} letters, digits, '.', '_' or '-', "
                                     "starting with a letter or digit")
    return rule_id


def _values(raw, field: str) -> list:
    values = raw if isinstance(raw, list) else [raw]
    if not values or any(isinstance(v, (dict, list)) or v is None for v in values):
        raise RuleProblem(field, 'a value, a list of values or {"min": …, "max": …}')
    return values


def _attribute(columns: AttributeColumns | None, name: str, raw, field: str) -> AttributeCondition | None:
    ranged = isinstance(raw, dict)
    if ranged and (not raw or set(raw) - {"min", "max"}):
        raise RuleProblem(field, 'a range is {"min": …, "max": …} (either may be left out)')
    if columns is None:  # no index to check names against: syntax only
        for bound in ("min", "max") if ranged else ():
            if raw.get(bound) is not None:
                parse_number(raw[bound], field)
        return None
    values = [] if ranged else _values(raw, field)
    return condition(columns, name, values, raw.get("min") if ranged else None,
                     raw.get("max") if ranged else None, field=field)


def parse_condition(raw, field: str, columns: AttributeColumns | None) -> Condition | None:
    """A condition checked against `columns` (None: no index yet, attribute names are not checked)."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        raise RuleProblem(field, 'a condition is an object such as {"Manufacturer": "Honda"} or '
                                 '{"Price": {"max": 20}}')
    if len(raw) > RULE_CONDITIONS_MAX:
        raise RuleProblem(field, f"at most {RULE_CONDITIONS_MAX} attributes per condition")
    attributes, categories = [], frozenset()
    for name, value in raw.items():
        where = f"{field}.{name}"
        if name == CATEGORY:
            categories = frozenset(str(v) for v in _values(value, where))
            continue
        try:
            found = _attribute(columns, name, value, where)
        except AttributeProblem as problem:
            raise RuleProblem(problem.field, problem.message) from None
        if found is not None:
            attributes.append(found)
    return Condition(tuple(attributes), categories)


def _choice(body: dict, field: str, choices: tuple[str, ...]) -> str:
    value = body.get(field)
    if value not in choices:
        raise RuleProblem(field, f"must be one of {', '.join(choices)}, got {str(value)[:40]!r}")
    return value


def _factor(body: dict, action: str) -> float:
    if action not in ("boost", "bury"):
        return 1.0
    if "factor" not in body:
        raise RuleProblem("factor", f"{action} needs a factor (more than 0, at most {RULE_FACTOR_MAX:g})")
    raw = body["factor"]
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise RuleProblem("factor", f"must be a number, got {str(raw)[:40]!r}")
    if not 0 < raw <= RULE_FACTOR_MAX:
        raise RuleProblem("factor", f"must be more than 0 and at most {RULE_FACTOR_MAX:g}, got {raw:g}")
    return float(raw)


def _pin(body: dict, action: str) -> tuple[str | None, int]:
    if action != "pin":
        return None, 1
    item_id, position = body.get("item_id"), body.get("position", 1)
    if not isinstance(item_id, str) or not item_id.strip() or len(item_id) > ITEM_ID_MAX_CHARS:
        raise RuleProblem("item_id", "pin needs the item_id of the item it pins")
    if isinstance(position, bool) or not isinstance(position, int) or not 1 <= position <= K_MAX:
        raise RuleProblem("position", f"a whole number from 1 (first) to {K_MAX}, got {str(position)[:40]!r}")
    return item_id.strip(), position


def parse_rule(rule_id, body, columns: AttributeColumns | None) -> Rule:
    """The rule `body` says, checked (RuleProblem naming the first bad field)."""
    check_rule_id(rule_id)
    if not isinstance(body, dict):
        raise RuleProblem("rule", "a rule is a JSON object")
    unknown = sorted(set(body) - set(FIELDS) - {"rule_id"})
    if unknown:
        raise RuleProblem(unknown[0], f"unknown field; a rule has {', '.join(FIELDS)}")
    if "rule_id" in body and body["rule_id"] != rule_id:
        raise RuleProblem("rule_id", "differs from the rule id in the address")
    surface, action = _choice(body, "surface", SURFACES), _choice(body, "action", ACTIONS)
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleProblem("enabled", "must be true or false")
    where = parse_condition(body.get("where"), "where", columns)
    if where is None and action != "pin":
        raise RuleProblem("where", f"{action} needs a condition on the candidates it applies to")
    item_id, position = _pin(body, action)
    return Rule(rule_id, surface, action, where, parse_condition(body.get("when"), "when", columns),
                _factor(body, action), position, item_id, enabled)
