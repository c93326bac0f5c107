"""Merchandising rules in the store of record: the rules in force, each change logged with who made it and
when, and the rules as they stood at a moment (what a rollback restores when the admin asks).

Every write bumps store_state.rules_revision first, in the same transaction: that takes the row lock on
PostgreSQL (and SQLite's write lock), so the RULES_MAX check cannot race, and web processes re-read the
rules only when the counter moved.
"""

from __future__ import annotations

import time

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from recommender.limits import RULES_MAX
from recommender.store.state import bump_counter
from recommender.store.store_of_record import Store, guarded
from recommender.store.tables import CHANGED_BY_LENGTH, STATE_RULES_REVISION, rule_changes, rules, store_state
from recommender.store.upsert import dialect_insert


class TooManyRules(ValueError):
    """Storing this rule would make more than RULES_MAX."""



def _revision(connection: Connection) -> int:
    value = connection.execute(select(store_state.c.value).where(store_state.c.key == STATE_RULES_REVISION)).scalar()
    return int(value or 0)


def _log(connection: Connection, rule_id: str, body: dict | None, by: str, now: float) -> None:
    connection.execute(rule_changes.insert().values(rule_id=rule_id, body=body, changed_at=now,
                                                    changed_by=by[:CHANGED_BY_LENGTH]))


def _write(connection: Connection, rule_id: str, body: dict, by: str, now: float) -> None:
    statement = dialect_insert(connection, rules).values(rule_id=rule_id, body=body, created_at=now, updated_at=now,
                                                         updated_by=by[:CHANGED_BY_LENGTH])
    connection.execute(statement.on_conflict_do_update(index_elements=[rules.c.rule_id], set_={
        "body": statement.excluded.body, "updated_at": now, "updated_by": statement.excluded.updated_by}))
    _log(connection, rule_id, body, by, now)


class RuleBook:
    """The rules of one store (the Store's engine and writer; StoreUnavailable when it cannot be reached)."""

    def __init__(self, store: Store):
        self.store = store
        self.engine, self.writer = store.engine, store.writer

    @guarded
    def revision(self) -> int:
        with self.engine.connect() as connection:
            return _revision(connection)

    @guarded
    def read(self) -> tuple[int, list[dict]]:
        """(revision, rules in rule_id order, each {rule_id, body, created_at, updated_at, updated_by})."""
        with self.engine.connect() as connection, connection.begin():
            found = [dict(row) for row in connection.execute(select(rules).order_by(rules.c.rule_id)).mappings()]
            return _revision(connection), found

    @guarded
    def put(self, rule_id: str, body: dict, by: str) -> str:
        """Create or replace a rule (already validated); "created" or "updated". TooManyRules past RULES_MAX."""
        now = time.time()
        with self.writer.begin() as connection:
            bump_counter(connection, STATE_RULES_REVISION)
            exists = connection.execute(select(rules.c.rule_id).where(rules.c.rule_id == rule_id)).first()
            if exists is None and connection.execute(select(func.count()).select_from(rules)).scalar() >= RULES_MAX:
                raise TooManyRules(f"at most {RULES_MAX} rules: delete one first")
            _write(connection, rule_id, body, by, now)
        return "updated" if exists else "created"

    @guarded
    def delete(self, rule_id: str, by: str) -> bool:
        now = time.time()
        with self.writer.begin() as connection:
            bump_counter(connection, STATE_RULES_REVISION)
            gone = connection.execute(delete(rules).where(rules.c.rule_id == rule_id)).rowcount > 0
            if gone:
                _log(connection, rule_id, None, by, now)
        return gone

    @guarded
    def history(self, limit: int) -> list[dict]:
        """The newest `limit` changes, newest first."""
        query = select(rule_changes).order_by(rule_changes.c.id.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    @guarded
    def restore_as_of(self, moment: float, by: str) -> int:
        """Make the rules what they were at `moment` (each rule's last change before it), logging each change;
        returns how many rules are in force afterwards."""
        now = time.time()
        with self.writer.begin() as connection:
            bump_counter(connection, STATE_RULES_REVISION)
            then: dict[str, dict | None] = {}
            for change in connection.execute(select(rule_changes).where(rule_changes.c.changed_at <= moment)
                                             .order_by(rule_changes.c.id)).mappings():
                then[change["rule_id"]] = change["body"]
            wanted = {rule_id: body for rule_id, body in then.items() if body is not None}
            present = {row["rule_id"]: row["body"] for row in connection.execute(select(rules)).mappings()}
            for rule_id in present.keys() - wanted.keys():
                connection.execute(delete(rules).where(rules.c.rule_id == rule_id))
                _log(connection, rule_id, None, by, now)
            for rule_id, body in wanted.items():
                if present.get(rule_id) != body:
                    _write(connection, rule_id, body, by, now)
        return len(wanted)
