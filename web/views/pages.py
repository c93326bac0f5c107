"""HTML pages and the HTMX fragments they are made of."""

from __future__ import annotations

from flask import Blueprint, make_response, redirect, render_template, request, url_for

from recommender.limits import K_CHOICES, K_DEFAULT, POPULAR_SHOWN
from recommender.model import UnknownItem
from web.http_cache import cached_by_version
from web.services.catalog_wording import catalog_wording
from web.services.merchandising import search_with_rules
from web.views import panels
from web.views.common import (
    FilterError,
    check_item_id,
    page_or_fragment,
    parse_filters,
    parse_k,
    query_arg,
    served_model,
    similar_answer,
    versioned,
    wants_fragment,
)
from web.views.forms import SimilarItemForm

bp = Blueprint("pages", __name__)


@bp.app_template_global("catalog_wording")
def served_catalog_wording():
    """Examples and labels from the served catalog (web/services/catalog_wording.py), for the templates."""
    return catalog_wording(served_model())


@bp.get("/")
def home():
    """A visitor with history gets their lists (a private page); everyone else the shared, cached one."""
    return panels.personal_home() or public_home()


@cached_by_version()
def public_home():
    model = served_model()
    return render_template("search.html", popular=model.popular(POPULAR_SHOWN), query="", results=None,
                           index_version=model.version)


@bp.get("/search")
@cached_by_version()
def search():
    query = query_arg("q")
    model = served_model()
    answer = search_with_rules(model, query, parse_filters(model)) if query.strip() else None
    results = answer.results if answer else None
    return page_or_fragment("search.html", "partials/search_results.html", query=query, results=results,
                            corrected=answer.corrected if answer else None,
                            popular=model.popular(POPULAR_SHOWN) if results is None else [])


@bp.get("/items/<item_id>")
@cached_by_version()
def item_page(item_id: str):
    model = served_model()
    item = model.get_item(check_item_id(item_id))
    k = parse_k(request.args.get("k"))
    try:
        filters = parse_filters()
    except FilterError:
        filters = None  # the panel, loaded next, says what is wrong beside the field
    return render_template("item.html", item=item, k=k, k_choices=K_CHOICES, filters=filters,
                           index_version=model.version)


@bp.get("/items/<item_id>/similar")
@cached_by_version()
def similar_panel(item_id: str):
    try:
        answer = similar_answer(item_id)
    except FilterError as exc:
        return _panel_with_filter_error(item_id, exc)
    model, item = answer.model, answer.item
    html = page_or_fragment("item.html", "partials/similar_panel.html", item=item, k=answer.k, k_choices=K_CHOICES,
                            results=answer.results, filters=answer.filters, all_categories=model.all_categories,
                            index_version=model.version, filtered_out=answer.filtered_out,
                            attribute_summaries=model.attribute_columns.summaries())
    response = versioned(make_response(html), model)
    if wants_fragment() and request.headers.get("HX-Trigger") != "similar-panel":
        # The panel's own form and links push history; this keeps empty filter fields out of the address.
        asked = {name: [v for v in values if v] for name, values in request.args.lists()}
        response.headers["HX-Push-Url"] = url_for("pages.similar_panel", item_id=item.item_id,
                                                  **{name: values for name, values in asked.items() if values})
    return response


def _panel_with_filter_error(item_id: str, error: FilterError):
    """A filter that cannot be used: the panel with its form kept as sent and the field marked (400; the
    htmx-config in base.html swaps 4xx answers in, so the fragment replaces the panel like any other)."""
    model = served_model()
    item = model.get_item(check_item_id(item_id))
    k = parse_k(request.args.get("k"))
    html = page_or_fragment("item.html", "partials/similar_panel.html", item=item, k=k, k_choices=K_CHOICES,
                            results=[], filters=None, filter_error=error, asked=request.args,
                            all_categories=model.all_categories, index_version=model.version)
    return versioned(make_response(html, 400), model)


@bp.route("/items/similar", methods=["GET", "POST"])
def similar_item_form():
    """The similar-items form: an item id in, that item's similar items out."""
    form = SimilarItemForm(k=K_DEFAULT)
    if request.method == "GET" and request.args.get("item_id"):
        return redirect(url_for("pages.item_page", item_id=request.args["item_id"]))
    results, item, status = None, None, 200
    model = served_model()
    if form.validate_on_submit():
        try:
            item = model.get_item(form.item_id.data)
            results = model.get_similar_items(item.item_id, form.k.data)
        except UnknownItem as exc:
            form.item_id.errors.append(f"{exc}: check the id, or find the item with the search box.")
            status = 404
    elif request.method == "POST":
        status = 400
    template = "partials/similar_results.html" if wants_fragment() and request.method == "POST" else "similar.html"
    response = make_response(render_template(template, form=form, item=item, results=results,
                                             index_version=model.version), status)
    return versioned(response, model) if results is not None else response
