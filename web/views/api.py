"""JSON API: the same answers as the pages, for scripts and other sites."""

from __future__ import annotations

from flask import Blueprint, jsonify

from web.http_cache import JSON_VARY, cached_by_version
from web.services.merchandising import search_with_rules
from web.services.tracking import track_api_answer
from web.views.common import check_item_id, parse_filters, query_arg, served_model, similar_answer, versioned

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/items/<item_id>")
@cached_by_version(JSON_VARY)
def item(item_id: str):
    model = served_model()
    found = model.get_item(check_item_id(item_id))
    return versioned(jsonify({"item": found.as_dict(), "index_version": model.version}), model)


@bp.get("/items/<item_id>/similar")
@cached_by_version(JSON_VARY)
def similar(item_id: str):
    answer = similar_answer(item_id)
    model, results = answer.model, answer.results
    body = {"item": answer.item.as_dict(), "k": answer.k, "results": [r.as_dict() for r in results],
            "index_version": model.version, "filtered_out": answer.filtered_out}
    if len(results) < answer.k:
        body["note"] = (f"only {len(results)} items match these filters among the most similar ones"
                        if answer.filters else f"the catalog has only {len(results)} other items")
    return versioned(jsonify(track_api_answer(body, answer.item, answer.k, results)), model)


@bp.get("/search")
@cached_by_version(JSON_VARY)
def search():
    model = served_model()
    query = query_arg("q")
    answer = search_with_rules(model, query, parse_filters(model)) if query.strip() else None
    results = answer.results if answer else []
    return jsonify({"query": query, "corrected": answer.corrected if answer else None,
                    "results": [r.as_dict() for r in results], "index_version": model.version})
