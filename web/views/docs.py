"""The API's OpenAPI document, as JSON for tools and as a page for people (rendered here: no CDN, no JS)."""

from __future__ import annotations

import json

from flask import Blueprint, jsonify, make_response, render_template, request

from recommender.limits import CACHE_MAX_AGE_SECONDS
from web.http_cache import code_fingerprint
from web.openapi import openapi_document

bp = Blueprint("docs", __name__, url_prefix="/api")
METHODS = ("get", "put", "post", "delete", "patch")


def resolve(document: dict, node: dict) -> dict:
    """Follow a local `$ref` (one level: components never point at other components here)."""
    target = node.get("$ref") if isinstance(node, dict) else None
    if not target:
        return node
    found = document
    for part in target.removeprefix("#/").split("/"):
        found = found[part]
    return found


def schema_text(schema: dict | None) -> str:
    """A schema as a reader sees it: a component's name, or the schema itself as indented JSON."""
    if not schema:
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    return json.dumps(schema, indent=2, ensure_ascii=False)


def operations(document: dict) -> list[dict]:
    """Every path and method, with references resolved, in the document's order."""
    found = []
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            body = op.get("requestBody", {}).get("content", {})
            found.append({
                "path": path, "method": method.upper(), "summary": op.get("summary", ""),
                "security": [name for scheme in op.get("security", []) for name in scheme],
                "parameters": [resolve(document, p) for p in op.get("parameters", [])],
                "bodies": [(media, schema_text(spec.get("schema"))) for media, spec in body.items()],
                "responses": [(code, r.get("description", ""),
                               schema_text(next(iter(r.get("content", {}).values()), {}).get("schema")))
                              for code, r in op["responses"].items()],
            })
    return found


def _public(response):
    response.set_etag(code_fingerprint())
    response.headers["Cache-Control"] = f"public, max-age={CACHE_MAX_AGE_SECONDS}"
    return response.make_conditional(request)


@bp.get("/openapi.json")
def openapi_json():
    return _public(jsonify(openapi_document()))


@bp.get("/docs")
def api_docs():
    document = openapi_document()
    components = {name: json.dumps(schema, indent=2, ensure_ascii=False)
                  for name, schema in document["components"]["schemas"].items()}
    html = render_template("api_docs.html", document=document, operations=operations(document),
                           components=components)
    return _public(make_response(html))
