"""The impression beacon (/i/<token>.gif) and the click redirect (/r/<token>); neither is ever cached."""

from __future__ import annotations

import base64

from flask import Blueprint, make_response, redirect, request, url_for
from werkzeug.exceptions import BadRequest, NotFound

from recommender.metrics.tokens import Click, TokenRefused
from recommender.model import UnknownItem
from web.extensions import model_holder
from web.links import item_link
from web.services.tracking import is_bot, record_click, record_impression, tracking

bp = Blueprint("tracking", __name__)

TRANSPARENT_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = "no-store"
TOKEN_MAX_CHARS = 8_000


def _no_store(response):
    response.headers["Cache-Control"] = NO_STORE
    return response


def _checked(token: str) -> str:
    if len(token) > TOKEN_MAX_CHARS:
        raise BadRequest("This link is not valid: its token is too long.")
    return token


@bp.get("/i/<token>.gif")
def beacon(token: str):
    """Count one viewed panel; bots and bad tokens are answered but not counted."""
    try:
        impression = tracking().signer.read_beacon(_checked(token))
    except TokenRefused as exc:
        raise BadRequest(f"This beacon is not valid: {exc}.") from None
    if tracking().enabled and not is_bot(request.headers.get("User-Agent")):
        record_impression(impression)
    return _no_store(make_response(TRANSPARENT_GIF, 200, {"Content-Type": "image/gif"}))


def _target(click: Click) -> str:
    """Likewise's item page; embeds and API answers go to the item's own url when it is http(s)."""
    model = model_holder().model
    try:
        item = model.get_item(click.item_id) if model is not None else None
    except UnknownItem:
        item = None
    if item is None:
        raise NotFound(f"Item {click.item_id} is no longer in the catalog.")
    if click.impression.surface != "page":
        return item_link(item)
    return url_for("pages.item_page", item_id=item.item_id)


@bp.get("/r/<token>")
def redirect_click(token: str):
    """Record a click, then send the visitor on; the target comes from the item, never from the link."""
    try:
        click = tracking().signer.read_click(_checked(token))
    except TokenRefused as exc:
        raise BadRequest(f"This link is not valid: {exc}.") from None
    target = _target(click)
    if tracking().enabled:
        record_click(click)
    return _no_store(redirect(target, 302))
