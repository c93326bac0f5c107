"""Similar-items panels and live search for other sites: self-contained fragments (or, with ?frame=1, a tiny
page for an iframe) whose links are absolute, so they work on any host page without custom JavaScript.

Who may read them cross-origin is web/cors.py; who may frame them is web/security.py's allow_framing.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, make_response, render_template, request
from werkzeug.exceptions import BadRequest, HTTPException

from recommender.limits import EMBED_HEADING_MAX_CHARS
from recommender.model import Item, SimilarItemsModel, UnknownItem
from recommender.search import Highlight
from web.cors import add_cors_headers, is_preflight, preflight_response
from web.errors import with_error_headers
from web.extensions import model_holder, settings
from web.http_cache import cached_by_version
from web.links import item_link, public_url_for
from web.security import allow_framing
from web.services.merchandising import search_with_rules
from web.views.common import parse_filters, query_arg, served_model, similar_answer, versioned

bp = Blueprint("embed", __name__, url_prefix="/embed")
EMBED_VARY = ("Origin", "HX-Request")

FRAME_PARAMETER = "frame"
HEADING_PARAMETER = "heading"
NO_HEADING = "0"
FRAME_PAGE = "embed_frame.html"
STYLESHEET = "embed.css"
ANY_ORIGIN_WARNING = ("LIKEWISE_EMBED_ORIGINS is '*': every site may show Likewise's panels and search "
                      "results (and frame them); list your sites' origins instead unless that is what you want")


@dataclass(frozen=True)
class EmbedCard:
    """One item as an embed shows it: the item (with its attributes), where it links, and why it is here."""

    item: Item
    link: str
    why: str | None = None
    highlights: tuple[Highlight, ...] = ()


@bp.record_once
def warn_about_any_origin(state) -> None:
    if state.app.extensions["settings"].embed_any_origin:
        state.app.logger.warning(ANY_ORIGIN_WARNING)


def card(model: SimilarItemsModel, item_id: str, **details) -> EmbedCard:
    item = model.get_item(item_id)  # with its attributes: the picture and the link live there
    return EmbedCard(item, item_link(item), **details)


def framed() -> bool:
    raw = request.args.get(FRAME_PARAMETER, "")
    if raw not in ("", "0", "1"):
        raise BadRequest(f"{FRAME_PARAMETER} must be 1 (a page for an iframe) or left out, got {raw[:20]!r}")
    return raw == "1"


def chosen_heading(title: str) -> str | None:
    """The panel's heading: "Similar to <title>", the host's own text (heading=...), or none (heading=0)."""
    raw = request.args.get(HEADING_PARAMETER)
    if raw is None or raw == "1":
        return f"Similar to {title}"
    if raw == NO_HEADING:
        return None
    if len(raw) > EMBED_HEADING_MAX_CHARS or not raw.strip() or any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise BadRequest(f"{HEADING_PARAMETER} must be 0 (no heading) or a text of 1 to {EMBED_HEADING_MAX_CHARS} "
                         "characters without control characters")
    return raw.strip()


def render_embed(fragment: str, **context) -> str:
    """The fragment alone, or inside the tiny page an iframe loads."""
    if framed():
        return render_template(FRAME_PAGE, fragment=fragment, **context)
    return render_template(fragment, **context)


@bp.get("/items/<item_id>/similar")
@cached_by_version(EMBED_VARY)
def similar(item_id: str):
    answer = similar_answer(item_id)
    heading = chosen_heading(answer.item.title)
    model = answer.model
    cards = [card(model, r.item_id, why=r.why.summary if r.why else None) for r in answer.results]
    html = render_embed("partials/embed_similar.html", item=answer.item, k=answer.k, filters=answer.filters,
                        cards=cards, results=answer.results, heading=heading, filtered_out=answer.filtered_out)
    return versioned(make_response(html), model)


@bp.get("/search")
@cached_by_version(EMBED_VARY)
def search():
    query = query_arg("q")
    model = served_model()
    answer = search_with_rules(model, query, parse_filters(model)) if query.strip() else None
    cards = [card(model, hit.item.item_id, highlights=hit.highlights) for hit in (answer.results if answer else [])]
    corrected = answer.corrected if answer else None
    corrected_link = None  # inside an iframe the link stays in the frame; on a host page it opens Likewise's search
    if corrected:
        corrected_link = (public_url_for("embed.search", q=corrected, frame=1) if framed()
                          else public_url_for("pages.search", q=corrected))
    return versioned(make_response(render_embed("partials/embed_search.html", query=query, cards=cards,
                                                corrected=corrected, corrected_link=corrected_link)), model)


@bp.get("/likewise.css")
def stylesheet():
    return current_app.send_static_file(STYLESHEET)


@bp.before_request
def answer_preflight():
    if is_preflight():
        return preflight_response(settings().embed_origins)
    return None


@bp.after_request
def cross_origin(response):
    origins = settings().embed_origins
    if request.method != "OPTIONS" and request.args.get(FRAME_PARAMETER) == "1":
        allow_framing(response, origins)
    return add_cors_headers(response, origins)


def _error(status: int, message: str):
    frame = request.args.get(FRAME_PARAMETER) == "1"
    template = FRAME_PAGE if frame else "partials/embed_error.html"
    return render_template(template, fragment="partials/embed_error.html", status=status, message=message), status


@bp.errorhandler(UnknownItem)
def unknown_item(error: UnknownItem):
    return _error(404, f"{error}.")


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    return with_error_headers(make_response(_error(error.code or 500, error.description or error.name)), error)


def snippet_urls() -> dict | None:
    """The absolute addresses the admin's copy-paste snippet needs, for the most popular item; None without an index."""
    model = model_holder().served()  # without the items removed since the build: the snippet shows one that exists
    if model is None or not len(model):
        return None
    popular = model.popular(1)
    if not popular:
        return None
    item_id = popular[0].item_id
    htmx_file = f"vendor/htmx-{current_app.jinja_env.globals['htmx_version']}.min.js"
    return {"item_id": item_id, "htmx": public_url_for("static", filename=htmx_file),
            "stylesheet": public_url_for("embed.stylesheet"),
            "similar": public_url_for("embed.similar", item_id=item_id),
            "item_page": public_url_for("pages.item_page", item_id=item_id),
            "search": public_url_for("embed.search"), "search_page": public_url_for("pages.search")}


bp.add_app_template_global(snippet_urls, "embed_snippet_urls")
