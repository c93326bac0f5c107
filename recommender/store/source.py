"""The store of record as a CatalogSource: a build reads visible items and per-pair interactions.

Events are aggregated in the database, never loaded one by one: for each (user, item) seen within
the horizon, weight = sum over its events of type_weight x 0.5 ** (age_days / half_life_days), with
the half-life a quarter of the horizon (an event a full horizon old counts 1/16). A rating event
weighs its own value. rating = the pair's latest explicit rating when it has one, else
min(5, the undecayed sum of its type weights within the horizon): a like (4) or a purchase (6 -> 5)
counts as liked (rating >= 4), a lone view (1) not. (With the decayed weight instead, a like would
fall below "liked" seconds after it was sent; the decayed `weight` is kept beside it.)
With horizon_days=None every event counts, undecayed.

Ratings are explicit feedback and never decay or fall out of the horizon: the horizon and the
half-life apply to implicit events (view, click, like, add_to_cart, purchase) only. So an imported
ratings file (the MovieLens demo's ratings are from 1996-2016) keeps counting at its full value.
"""

from __future__ import annotations

import hashlib
import json
import math
import time

import pandas as pd
from sqlalchemy import and_, case, func, literal, or_, select

from recommender.catalog.load import Catalog, CatalogError, Problem
from recommender.event_weights import DEFAULT_EVENT_WEIGHTS
from recommender.store.event_validation import RATING_TYPE
from recommender.store.items import items_frame
from recommender.store.state import read_state
from recommender.store.store_of_record import Store, guarded
from recommender.store.tables import STATE_REVISION, UPLOAD_ORIGIN, events, items

DEFAULT_HORIZON_DAYS = 365.0
HALF_LIFE_SHARE_OF_HORIZON = 0.25
RATING_CAP = 5.0
DAY_S = 86_400.0
SOURCE_NAME = "store"
BASKET_TYPES = ("purchase", "add_to_cart")
HASH_CHARS = 16


class DatabaseCatalogSource:
    """A CatalogSource reading the live catalog and behaviour from a Store."""

    def __init__(self, store: Store, weights: dict[str, float] | None = None,
                 horizon_days: float | None = DEFAULT_HORIZON_DAYS, now: float | None = None):
        self.store = store
        self.engine = store.engine
        self.weights = dict(DEFAULT_EVENT_WEIGHTS if weights is None else weights)
        self.horizon_days = horizon_days
        self.now = now
        self.revision_read: int | None = None  # the catalog revision the last load() read
        self.hidden_read: pd.DataFrame | None = None  # the hidden items it saw (kept with the version, not built)

    def describe(self) -> str:
        horizon = "all events" if self.horizon_days is None else f"events of the last {self.horizon_days:g} days"
        return f"the store of record ({horizon})"

    def _pairs_query(self, now: float):
        """Per (user, item) within the horizon, joined to visible items: weight, latest time, latest rating."""
        type_weight = case(self.weights, value=events.c.type, else_=events.c.value)
        explicit = events.c.type == RATING_TYPE
        in_window = ([or_(explicit, events.c.ts >= now - self.horizon_days * DAY_S)]
                     if self.horizon_days is not None else [])
        if self.horizon_days is None:
            contribution = type_weight
        else:
            rate = math.log(2) / (self.horizon_days * HALF_LIFE_SHARE_OF_HORIZON * DAY_S)
            age_s = case((events.c.ts > now, 0.0), else_=literal(now) - events.c.ts)
            contribution = case((explicit, events.c.value), else_=type_weight * func.exp(-rate * age_s))
        visible = events.join(items, and_(items.c.item_id == events.c.item_id, ~items.c.hidden))
        pairs = (select(events.c.user_id, events.c.item_id, func.sum(contribution).label("weight"),
                        func.sum(type_weight).label("strength"), func.max(events.c.ts).label("timestamp"))
                 .select_from(visible).where(*in_window).group_by(events.c.user_id, events.c.item_id).subquery())
        order = func.row_number().over(partition_by=[events.c.user_id, events.c.item_id],
                                       order_by=[events.c.ts.desc(), events.c.id.desc()])
        ranked = (select(events.c.user_id, events.c.item_id, events.c.value, order.label("position"))
                  .where(explicit).subquery())
        latest = select(ranked.c.user_id, ranked.c.item_id, ranked.c.value).where(ranked.c.position == 1).subquery()
        capped = case((pairs.c.strength > RATING_CAP, RATING_CAP), else_=pairs.c.strength)
        return (select(pairs.c.user_id, pairs.c.item_id, func.coalesce(latest.c.value, capped).label("rating"),
                       pairs.c.timestamp, pairs.c.weight)
                .select_from(pairs.outerjoin(latest, and_(latest.c.user_id == pairs.c.user_id,
                                                          latest.c.item_id == pairs.c.item_id)))
                .order_by(pairs.c.user_id, pairs.c.item_id))

    def _baskets_query(self, now: float):
        """(session_id, item_id) of the orders within the horizon: purchases and adds to cart sent with a
        session_id, and uploaded interactions rows that carry one (a file of orders), on visible items."""
        ordered = or_(events.c.type.in_(BASKET_TYPES), events.c.origin == UPLOAD_ORIGIN)
        in_window = [events.c.ts >= now - self.horizon_days * DAY_S] if self.horizon_days is not None else []
        visible = events.join(items, and_(items.c.item_id == events.c.item_id, ~items.c.hidden))
        return (select(events.c.session_id, events.c.item_id).select_from(visible)
                .where(events.c.session_id.is_not(None), ordered, *in_window)
                .group_by(events.c.session_id, events.c.item_id))

    def _source_hash(self, revision: str, high_water: int | None) -> str:
        key = json.dumps([revision, high_water, sorted(self.weights.items()), self.horizon_days])
        return hashlib.sha256(key.encode()).hexdigest()[:HASH_CHARS]

    @guarded
    def _read(self, now: float) -> Catalog:
        options = {"isolation_level": "REPEATABLE READ"} if self.engine.dialect.name == "postgresql" else {}
        with self.engine.connect().execution_options(**options) as connection, connection.begin():
            revision = read_state(connection).get(STATE_REVISION) or "0"
            high_water = connection.execute(select(func.max(events.c.id))).scalar()
            rows = connection.execute(select(items).where(~items.c.hidden).order_by(items.c.item_id)).mappings().all()
            hidden = connection.execute(select(items).where(items.c.hidden).order_by(items.c.item_id)).mappings().all()
            interactions = pd.read_sql(self._pairs_query(now), connection)
            baskets = pd.read_sql(self._baskets_query(now), connection)
        self.revision_read, self.hidden_read = int(revision), items_frame(hidden, typed=True) if hidden else None
        if not rows:
            raise CatalogError([Problem(SOURCE_NAME, "the catalog has no visible items")])
        interactions = interactions.astype({"user_id": str, "item_id": str, "rating": float, "timestamp": float,
                                            "weight": float})
        return Catalog(items=items_frame(rows, typed=True), interactions=interactions if len(interactions) else None,
                       source_hash=self._source_hash(revision, high_water),
                       baskets=baskets.astype(str) if len(baskets) else None)

    def load(self) -> Catalog:
        return self._read(time.time() if self.now is None else self.now)
