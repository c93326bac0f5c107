"""The personal lists as pages and htmx fragments: for-you (/for-you) and because-you-viewed
(/because-you-viewed), and the home page's sections for a visitor with history (lazy-loaded with htmx,
a plain link to the full page without JavaScript). Every answer is private: it changes with each event."""

from __future__ import annotations

from flask import Blueprint, make_response, render_template, request

from recommender.limits import BECAUSE_VIEWED_SHOWN, K_DEFAULT, POPULAR_SHOWN
from web.extensions import served_model, wants_fragment
from web.services import personal_lists
from web.views.common import parse_filters, parse_k, versioned

bp = Blueprint("panels", __name__)


def _answer(page: str, fragment: str, **context):
    model = served_model()
    html = render_template(fragment if wants_fragment() else page, index_version=model.version, **context)
    return personal_lists.private(versioned(make_response(html), model))


@bp.get("/for-you")
def for_you():
    who = personal_lists.asker()
    lookup = personal_lists.look_up(who)
    if lookup is not None and lookup.body is not None:  # kept only after these very arguments were accepted
        return personal_lists.private(versioned(make_response(lookup.body), served_model()))
    k = parse_k(request.args.get("k"))
    filters = parse_filters()
    answer = personal_lists.for_you(k, filters, who)
    response = _answer("for_you.html", "partials/for_you_panel.html", answer=answer, k=k, who=who)
    personal_lists.keep_answer(lookup, answer, response.get_data())
    return response


@bp.get("/because-you-viewed")
def because_you_viewed():
    filters = parse_filters()
    who = personal_lists.asker()
    rows = personal_lists.viewed_rows(filters, who)
    return _answer("because_viewed.html", "partials/because_viewed_panel.html", rows=rows,
                   shown=BECAUSE_VIEWED_SHOWN, who=who)


def personal_home():
    """The home page for a visitor with history, or None (then the public, cached home page answers)."""
    who = personal_lists.asker()
    if who is None or not personal_lists.history(who):
        return None
    model = served_model()
    html = render_template("search.html", popular=model.popular(POPULAR_SHOWN), query="", results=None,
                           index_version=model.version, personal=who, k=K_DEFAULT)
    return personal_lists.private(versioned(make_response(html), model))
