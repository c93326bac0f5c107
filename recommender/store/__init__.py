"""The store of record: live catalog items and behaviour events in SQLite or PostgreSQL.

No Flask or Celery here: the web API and the worker call these functions.
"""

from recommender.event_weights import DEFAULT_EVENT_WEIGHTS, parse_event_weights
from recommender.store.engine import StoreUnavailable, make_engine, normalise_url
from recommender.store.event_validation import EVENT_TYPES, validate_events
from recommender.store.migrate import upgrade
from recommender.store.source import DatabaseCatalogSource
from recommender.store.store_of_record import InvalidInput, Store, validate_items
from recommender.store.validation import validate_item

__all__ = ["DEFAULT_EVENT_WEIGHTS", "EVENT_TYPES", "DatabaseCatalogSource", "InvalidInput", "Store",
           "StoreUnavailable", "make_engine", "normalise_url", "parse_event_weights", "upgrade",
           "validate_events", "validate_item", "validate_items"]
