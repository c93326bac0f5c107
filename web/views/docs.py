"""The API's OpenAPI document, as JSON for tools and as a page for people (rendered here: no CDN, no JS)."""

from __future__ import annotations

from flask import Blueprint, jsonify, make_response, render_template, request

from recommender.limits import CACHE_MAX_AGE_SECONDS
from web.apidocs.reference import reference
from web.extensions import settings
from web.http_cache import code_fingerprint
from web.openapi import openapi_document

bp = Blueprint("docs", __name__, url_prefix="/api")
EXAMPLE_BASE_URL = "http://127.0.0.1:5000"  # curl examples on a deployment without LIKEWISE_PUBLIC_URL


def _public(response):
    response.set_etag(code_fingerprint())
    response.headers["Cache-Control"] = f"public, max-age={CACHE_MAX_AGE_SECONDS}"
    return response.make_conditional(request)


@bp.get("/openapi.json")
def openapi_json():
    return _public(jsonify(openapi_document()))


@bp.get("/docs")
def api_docs():
    """Readable sections per operation; the example requests name LIKEWISE_PUBLIC_URL, never the Host header
    (the page is cached publicly)."""
    document = openapi_document()
    html = render_template("api_docs.html", document=document,
                           reference=reference(document, settings().public_url or EXAMPLE_BASE_URL))
    return _public(make_response(html))
