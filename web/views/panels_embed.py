"""For-you for other sites (GET /embed/for-you?visitor=V): the embed's fragment (or, with ?frame=1, its iframe
page), absolute links, the same CORS allowlist, framing rule and error pages as web/views/embed.py."""

from __future__ import annotations

from flask import Blueprint, make_response, request
from werkzeug.exceptions import HTTPException

from recommender.model import UnknownItem
from web.extensions import served_model
from web.services import personal_lists
from web.views import embed
from web.views.common import parse_filters, parse_k, versioned

bp = Blueprint("panels_embed", __name__, url_prefix="/embed")
bp.before_request(embed.answer_preflight)
bp.after_request(embed.cross_origin)
bp.register_error_handler(UnknownItem, embed.unknown_item)
bp.register_error_handler(HTTPException, embed.http_error)


@bp.get("/for-you")
def for_you():
    k = parse_k(request.args.get("k"))
    filters = parse_filters()
    who = personal_lists.asker(use_cookie=False)  # another site's page: the visitor is whom it names
    model = served_model()
    answer = personal_lists.for_you(k, filters, who)
    cards = [embed.card(model, r.item_id, why=r.why) for r in answer.results]
    html = embed.render_embed("partials/embed_for_you.html", answer=answer, k=k, cards=cards)
    return personal_lists.private(versioned(make_response(html), model))
