"""This web process's copy of the merchandising rules, fresh within RULES_RECHECK_SECONDS of any change.

A request re-reads the store's rules_revision counter (one row) when this process last did more than
RULES_RECHECK_SECONDS ago, and the rules themselves only when it moved; one thread reads while the others
answer with the rules already known (they never wait on the database). With the database down the
process keeps the rules it has. Rules are compiled once per (revision, model): typed against that index
version's attributes; a rule naming an attribute the version lacks is left out of that version's list.
"""

from __future__ import annotations

import logging
import threading
import time

from recommender.limits import RULES_RECHECK_SECONDS
from recommender.rules.rule_schema import Rule, RuleProblem, parse_rule
from recommender.store.engine import StoreUnavailable
from recommender.store.handle import StoreHandle
from recommender.store.rule_store import RuleBook

log = logging.getLogger(__name__)

COMPILED_KEPT = 4  # the served model, both arms of an experiment, and one being swapped in


class RulesHolder:
    """The stored rules (as rows) and, per model, the rules compiled against it."""

    def __init__(self, handle: StoreHandle, recheck: float = RULES_RECHECK_SECONDS):
        self.handle = handle
        self.recheck = recheck
        self.revision: int | None = None
        self.rows: list[dict] = []
        self.failure: str | None = None
        self._fresh_until = float("-inf")
        self._compiled: dict[int, tuple] = {}  # id(model) -> (model, revision, rules)
        self._lock = threading.Lock()

    def book(self) -> RuleBook:
        return RuleBook(self.handle.get())

    def current(self) -> tuple[int | None, list[dict]]:
        """(revision, stored rule rows), re-read when older than `recheck`."""
        if time.monotonic() >= self._fresh_until and self._lock.acquire(blocking=self.revision is None):
            try:
                if time.monotonic() >= self._fresh_until:
                    self._refresh_locked()
            finally:
                self._lock.release()
        return self.revision, self.rows

    def refresh(self) -> None:
        """Re-read now (a change made by this process calls it after its commit)."""
        with self._lock:
            self._refresh_locked()

    def _refresh_locked(self) -> None:
        started = time.monotonic()
        try:
            book = self.book()
            if self.revision is None or book.revision() != self.revision:
                self.revision, self.rows = book.read()
            self.failure = None
        except StoreUnavailable as exc:
            if self.failure is None:
                log.warning("rules not re-read, keeping %d known: %s", len(self.rows), exc)
            self.failure = str(exc)
        self._fresh_until = started + self.recheck

    def rules_for(self, model) -> list[Rule]:
        """The rules in force, compiled against `model`'s attributes."""
        revision, rows = self.current()
        if not rows:
            return []
        kept = self._compiled.get(id(model))
        if kept is None or kept[0] is not model or kept[1] != revision:
            kept = (model, revision, _compiled(rows, model))
            self._compiled.pop(id(model), None)
            self._compiled[id(model)] = kept
            while len(self._compiled) > COMPILED_KEPT:
                self._compiled.pop(next(iter(self._compiled)))
        return kept[2]


def _compiled(rows: list[dict], model) -> list[Rule]:
    rules = []
    for row in rows:
        try:
            rules.append(parse_rule(row["rule_id"], row["body"], model.attribute_columns))
        except RuleProblem as problem:
            log.warning("rule %s left out for version %s: %s", row["rule_id"], model.version, problem)
    return rules
