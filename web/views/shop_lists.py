"""Trending and frequently bought together as pages and htmx fragments (issue 24): a full page, or on
HX-Request only the panel, so the home page (and any page) can load them with one include."""

from __future__ import annotations

from flask import Blueprint, g, make_response, request
from werkzeug.exceptions import BadRequest

from recommender.panels.trending import Window, parse_window
from web.extensions import served_model, trending_counts
from web.http_cache import PAGE_VARY, cached_by_version, request_key
from web.services import list_answers
from web.views.common import check_item_id, page_or_fragment, parse_filters, parse_k, versioned

bp = Blueprint("shop_lists", __name__)


def window_arg() -> Window:
    try:
        return parse_window(request.args.get("window"))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def fresh_for_seconds(response, seconds: float):
    """Trending moves with every event: a client or shared cache may keep it only until the counts it was
    rendered from are due to be re-read (so what it shows stays within trending's 15 s)."""
    response.headers["Cache-Control"] = f"public, max-age={int(seconds)}"
    return response


def rendered_trending(render, vary: tuple[str, ...] = PAGE_VARY):
    """(render(answer), seconds it may be kept) for this request's window, k and filters, rendered once per
    refresh of the window's counts (per served version and request key); with ?track=1 (an impression counted)
    every time."""
    window, k, filters = window_arg(), parse_k(request.args.get("k")), parse_filters()
    counts = trending_counts()
    held = counts.held(window)

    def answer_from(trends):
        return render(list_answers.trending(window, k, filters, trends))
    if g.get("http_cache_off"):
        body = answer_from(held.trends)
    else:
        body = held.answer((served_model().version, request_key(vary)), answer_from)
    return body, counts.fresh_for(held)


@bp.get("/trending")
def trending():
    html, keep_seconds = rendered_trending(
        lambda answer: page_or_fragment("trending.html", "partials/trending_panel.html", answer=answer))
    return fresh_for_seconds(make_response(html), keep_seconds)


@bp.get("/items/<item_id>/bought-together")
@cached_by_version()
def bought_together(item_id: str):
    answer = list_answers.bought_together(check_item_id(item_id), parse_k(request.args.get("k")), parse_filters())
    html = page_or_fragment("bought_together.html", "partials/bought_together_panel.html", answer=answer)
    return versioned(make_response(html), served_model())
