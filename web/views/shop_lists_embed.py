"""Trending and frequently bought together for other sites (issue 24): fragments, or with ?frame=1 a page
for an iframe, under the same CORS allowlist, framing rule and error answers as web/views/embed.py."""

from __future__ import annotations

from flask import Blueprint, make_response, request
from werkzeug.exceptions import HTTPException

from recommender.model import UnknownItem
from web.extensions import served_model
from web.http_cache import cached_by_version
from web.services import list_answers
from web.views import embed
from web.views.common import check_item_id, parse_filters, parse_k, versioned
from web.views.shop_lists import fresh_for_seconds, rendered_trending

bp = Blueprint("shop_lists_embed", __name__, url_prefix="/embed")
bp.before_request(embed.answer_preflight)
bp.after_request(embed.cross_origin)
bp.register_error_handler(UnknownItem, embed.unknown_item)
bp.register_error_handler(HTTPException, embed.http_error)


def cards_of(answer: list_answers.ListAnswer) -> list[embed.EmbedCard]:
    model = served_model()
    return [embed.card(model, card.item_id, why=card.why.summary) for card in answer.cards]


@bp.get("/trending")
def trending():
    html, keep_seconds = rendered_trending(lambda answer: embed.render_embed(
        "partials/embed_trending.html", answer=answer, cards=cards_of(answer)), embed.EMBED_VARY)
    response = fresh_for_seconds(make_response(html), keep_seconds)
    response.vary.update(embed.EMBED_VARY)
    return response


@bp.get("/items/<item_id>/bought-together")
@cached_by_version(embed.EMBED_VARY)
def bought_together(item_id: str):
    answer = list_answers.bought_together(check_item_id(item_id), parse_k(request.args.get("k")), parse_filters())
    html = embed.render_embed("partials/embed_bought_together.html", answer=answer, cards=cards_of(answer))
    return versioned(make_response(html), served_model())
