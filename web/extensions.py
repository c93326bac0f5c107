"""The Flask extensions and what the app holds for every request, in one place (as Superset's
`extensions`): htmx and CSRF, the settings, and typed accessors for what `app.extensions` holds, so no
module looks anything up by a string key or imports it back from the package.
"""

from __future__ import annotations

from flask import current_app, g
from flask_htmx import HTMX
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import ServiceUnavailable

from recommender.index_store import IndexStore
from recommender.model import SimilarItemsModel
from recommender.settings import Settings
from recommender.store.handle import StoreHandle
from web.state.events_watermark import EventsWatermark
from web.state.model_holder import ModelHolder
from web.state.rules_holder import RulesHolder
from web.state.serving_registry import ServingRegistry
from web.state.trending_counts import TrendingCounts

htmx = HTMX()
csrf = CSRFProtect()


class NoIndexYet(ServiceUnavailable):
    description = "No index has been built yet: run `flask --app web build-index` or start a rebuild in /admin."


def settings() -> Settings:
    """The settings of the app handling this request."""
    return current_app.extensions["settings"]


def model_holder() -> ModelHolder:
    """This process's holder of the served model (and its removed-items overlay)."""
    return current_app.extensions["model_holder"]


def serving_registry() -> ServingRegistry | None:
    """What every web process reports it serves (None without Redis)."""
    return current_app.extensions.get("serving_registry")
def rules_holder() -> RulesHolder:
    """This process's copy of the merchandising rules (web/state/rules_holder.py)."""
    return current_app.extensions["rules_holder"]


def index_store() -> IndexStore:
    """The published index versions under the data dir."""
    return current_app.extensions["index_store"]


def store_of_record() -> StoreHandle:
    """This process's handle on the store of record (SQLite under the data dir, or DATABASE_URL)."""
    return current_app.extensions["store_of_record"]


def trending_counts() -> TrendingCounts:
    """This process's recent event counts for trending (issue 24)."""
    return current_app.extensions["trending_counts"]


def events_watermark() -> EventsWatermark:
    """Whether any stored event changed, as this process last read it (its kept for-you answers depend on it)."""
    return current_app.extensions["events_watermark"]


def served_model() -> SimilarItemsModel:
    """The model this request uses from start to end, even if a newer one is swapped in meanwhile."""
    if "model" not in g:
        model = model_holder().served()
        if model is None:
            raise NoIndexYet()
        g.model = model
    return g.model


def wants_fragment() -> bool:
    """htmx asked for a piece of a page; a history restore gets the whole page."""
    return bool(htmx) and not htmx.history_restore_request
