"""The items API (admin token): create, replace, read and delete catalog items one by one or in batches.

Every write is committed before it is answered; a batch is stored whole or not at all. A new or
changed item shows after the automatic rebuild; a deleted or hidden one leaves every answer at once.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.exceptions import BadRequest, NotFound

from recommender.limits import ITEMS_BODY_MAX_BYTES, ITEMS_PER_CALL_MAX
from web.auth import admin_api
from web.services import store_writes
from web.views.common import check_item_id, json_batch, json_body

bp = Blueprint("items_api", __name__, url_prefix="/api/admin/items")


@bp.put("/<item_id>")
@admin_api
def put_item(item_id: str):
    body = json_body(ITEMS_BODY_MAX_BYTES)
    if not isinstance(body, dict):
        raise BadRequest('send one item as a JSON object, e.g. {"title": "..."}')
    status = store_writes.put_item(check_item_id(item_id), body)
    return jsonify({"item_id": item_id, "status": status}), 201 if status == "created" else 200


@bp.post("")
@admin_api
def put_items():
    items = json_batch("items", ITEMS_BODY_MAX_BYTES, ITEMS_PER_CALL_MAX,
                       '{"items": [{"item_id": "...", "title": "..."}, ...]}')
    created, updated = store_writes.put_items(items)
    return jsonify({"created": created, "updated": updated}), 200


@bp.get("/<item_id>")
@admin_api
def get_item(item_id: str):
    found = store_writes.get_item(check_item_id(item_id))
    if found is None:
        raise NotFound(f"no item with id '{item_id}' is stored")
    return jsonify(found)


@bp.delete("/<item_id>")
@admin_api
def delete_item(item_id: str):
    if not store_writes.delete_item(check_item_id(item_id)):
        raise NotFound(f"no item with id '{item_id}' is stored")
    return "", 204
