"""The impression beacon (/i/<token>.gif) and the click redirect (/r/<token>); neither is ever cached.

Each token counts once per client address (web.services.tracking_guard), each address only so many a minute, HEAD
requests never, and a click on an item no longer in the catalog is a plain redirect to its page, not a click.
"""

from __future__ import annotations

import base64

from flask import Blueprint, make_response, redirect, request, url_for
from werkzeug.exceptions import BadRequest

from recommender.limits import BEACONS_PER_MINUTE, CLICKS_PER_MINUTE
from recommender.metrics.tokens import Click, TokenRefused
from recommender.model import Item, UnknownItem
from web.client_address import client_address
from web.extensions import model_holder
from web.links import item_link
from web.services.tracking import is_bot, record_click, record_impression, tracking

bp = Blueprint("tracking", __name__)

TRANSPARENT_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = "no-store"
TOKEN_MAX_CHARS = 8_000
BEACON, CLICK, BOT_CLICK = "beacon", "click", "bot-click"  # a bot's click never uses up a visitor's


def _no_store(response):
    response.headers["Cache-Control"] = NO_STORE
    return response


def _checked(token: str) -> str:
    if len(token) > TOKEN_MAX_CHARS:
        raise BadRequest("This link is not valid: its token is too long.")
    return token


def _read(read, token: str, what: str):
    """The signed token's content, or 400 saying why this beacon or link is refused."""
    try:
        return read(_checked(token))
    except TokenRefused as exc:
        raise BadRequest(f"This {what} is not valid: {exc}.") from None


def _counts(kind: str, token_key: str, per_minute: int) -> bool:
    """Whether this request is counted: tracking on, not a HEAD, the token's first, the client within its rate."""
    if not tracking().enabled or request.method == "HEAD":
        return False
    return tracking().guard.should_count(kind, token_key, client_address(), per_minute)


@bp.get("/i/<token>.gif")
def beacon(token: str):
    """Count one viewed panel; bots and bad tokens are answered but not counted."""
    impression = _read(tracking().signer.read_beacon, token, "beacon")
    if not is_bot(request.headers.get("User-Agent")) and _counts(BEACON, impression.impression_id,
                                                                  BEACONS_PER_MINUTE):
        record_impression(impression)
    return _no_store(make_response(TRANSPARENT_GIF, 200, {"Content-Type": "image/gif"}))


def _clicked_item(click: Click) -> Item | None:
    """The clicked item as served now (deleted and hidden items removed), or None when it is gone."""
    model = model_holder().served()
    try:
        return model.get_item(click.item_id) if model is not None else None
    except UnknownItem:
        return None


def _target(click: Click, item: Item | None) -> str:
    """Likewise's item page; embeds and API answers go to the item's own url when it is http(s)."""
    if item is None:
        return url_for("pages.item_page", item_id=click.item_id)
    if click.impression.surface != "page":
        return item_link(item)
    return url_for("pages.item_page", item_id=item.item_id)


@bp.get("/r/<token>")
def redirect_click(token: str):
    """Record a click, then send the visitor on; the target comes from the item, never from the link."""
    click = _read(tracking().signer.read_click, token, "link")
    item = _clicked_item(click)
    kind = BOT_CLICK if is_bot(request.headers.get("User-Agent")) else CLICK
    if item is not None and _counts(kind, f"{click.impression.impression_id}:{click.position}", CLICKS_PER_MINUTE):
        record_click(click)
    target = _target(click, item)
    return _no_store(redirect(target, 302))
