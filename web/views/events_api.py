"""The events API: behaviour (views, clicks, likes, carts, purchases, ratings) from a site or app.

Authorised by INGEST_TOKEN (or the admin token). 202 means committed: an accepted event survives a
worker or database restart. A batch is stored whole or not at all.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from recommender.limits import EVENTS_BODY_MAX_BYTES, EVENTS_PER_CALL_MAX
from web.auth import ingest_limiter, token_required
from web.extensions import settings
from web.services import store_writes
from web.views.common import json_batch

bp = Blueprint("events_api", __name__, url_prefix="/api")


def ingest_tokens() -> tuple[str, ...]:
    return tuple(token for token in (settings().ingest_token, settings().admin_token) if token)


def ingest_api(view):
    return token_required(view, accepted=ingest_tokens, realm="likewise-ingest", attempts=ingest_limiter)


@bp.post("/events")
@ingest_api
def add_events():
    events = json_batch("events", EVENTS_BODY_MAX_BYTES, EVENTS_PER_CALL_MAX,
                        '{"events": [{"user_id": "...", "item_id": "...", "type": "view"}, ...]}')
    return jsonify(store_writes.add_events(events)), 202
