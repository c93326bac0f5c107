"""Trending and frequently bought together as JSON (issue 24), with ?track=1 counted as impressions."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from web.extensions import served_model
from web.http_cache import JSON_VARY, cached_by_version
from web.services import list_answers
from web.services.tracking import track_api_answer
from web.views.common import check_item_id, parse_filters, parse_k, versioned
from web.views.shop_lists import fresh_for_seconds, rendered_trending

bp = Blueprint("shop_lists_api", __name__, url_prefix="/api")


def body_of(answer: list_answers.ListAnswer) -> dict:
    body = {"k": answer.k, "results": [card.as_dict() for card in answer.cards],
            "index_version": served_model().version}
    if answer.reason:
        body["reason"] = answer.reason
    return body


def trending_body(answer: list_answers.ListAnswer) -> dict:
    body = {"window": answer.window.text, "basis": "trending", **body_of(answer)}
    return track_api_answer(body, None, answer.k, answer.cards, panel=list_answers.TRENDING_PANEL)


@bp.get("/trending")
def trending():
    body, keep_seconds = rendered_trending(trending_body, JSON_VARY)
    return fresh_for_seconds(versioned(jsonify(body), served_model()), keep_seconds)


@bp.get("/items/<item_id>/bought-together")
@cached_by_version(JSON_VARY)
def bought_together(item_id: str):
    answer = list_answers.bought_together(check_item_id(item_id), parse_k(request.args.get("k")), parse_filters())
    body = {"item": answer.item.as_dict(), **body_of(answer)}
    body = track_api_answer(body, answer.item, answer.k, answer.cards, panel=list_answers.BOUGHT_TOGETHER_PANEL)
    return versioned(jsonify(body), served_model())
