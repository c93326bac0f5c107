"""The API reference as people read it: sections per operation made from the OpenAPI document.

Each operation gets its method and path, summary, a parameters table, the request body's fields, one
example request (curl) and its answer (both from the document's examples) and the status codes; each
schema gets a fields table. Types are written in words, with links to the schemas they name, so the page
needs no JavaScript and holds no raw JSON schema.
"""

from __future__ import annotations

import json
import shlex
from urllib.parse import quote, urlencode

from markupsafe import Markup, escape

from web.apidocs.examples import JSON, resolve

METHODS = ("get", "put", "post", "delete", "patch")
TOKENS = {"adminToken": "$ADMIN_TOKEN", "ingestToken": "$INGEST_TOKEN"}
TAG_TITLES = {"public": "Public: items, similar items, search", "admin": "Admin (Bearer ADMIN_TOKEN)",
              "ingest": "Ingest (Bearer INGEST_TOKEN)"}


def schema_link(name: str) -> Markup:
    return Markup('<a href="#schema-{0}"><code>{0}</code></a>').format(name)


def _range(schema: dict, low_key: str, high_key: str, unit: str) -> str:
    low, high = schema.get(low_key), schema.get(high_key)
    if low is not None and high is not None:
        return f"{low} to {high}{unit}"
    if low is not None:
        return f"at least {low}{unit}"
    return f"at most {high}{unit}" if high is not None else ""


def _string_words(schema: dict) -> str:
    if schema.get("format") == "binary":
        return "a file"
    words = ["text"]
    if span := _range(schema, "minLength", "maxLength", " characters"):
        words.append(span)
    return ", ".join(words)


def _plain_type(schema: dict, kind: str) -> Markup | str:
    if kind == "string":
        return _string_words(schema)
    if kind in ("integer", "number"):
        span = _range(schema, "minimum", "maximum", "")
        return ("whole number" if kind == "integer" else "number") + (f", {span}" if span else "")
    if kind == "array":
        items = schema.get("prefixItems") or [schema.get("items", {})]
        limit = f" (at most {schema['maxItems']})" if "maxItems" in schema else ""
        return Markup("list of ") + Markup(", ").join(type_html(item) for item in items) + limit
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict) and "$ref" in \
            schema["additionalProperties"]:
        return Markup("object of ") + type_html(schema["additionalProperties"])
    return {"boolean": "true or false", "null": "null", "object": "object"}.get(kind, kind)


def type_html(schema: dict | None) -> Markup:
    """A schema's type in words, with links to the component schemas it names."""
    schema = schema or {}
    if "$ref" in schema:
        return schema_link(schema["$ref"].rsplit("/", 1)[-1])
    if "const" in schema:
        return Markup("<code>{}</code>").format(json.dumps(schema["const"]))
    if "enum" in schema:
        return Markup("one of ") + Markup(", ").join(Markup("<code>{}</code>").format(v) for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return Markup(" or ").join(type_html(option) for option in schema[key])
    kinds = schema.get("type", "object")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return Markup(" or ").join(escape(_plain_type(schema, kind)) for kind in kinds)


def field_rows(document: dict, schema: dict) -> list[dict]:
    """The top-level fields of an object schema (after `$ref`s), for a table."""
    schema = resolve(document, schema) or {}
    required = set(schema.get("required", []))
    rows = [{"name": name, "type": type_html(field), "required": name in required,
             "description": field.get("description", "")} for name, field in schema.get("properties", {}).items()]
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and rows:
        rows.append({"name": "(any other)", "type": type_html(extra), "required": False,
                     "description": schema.get("description", "")})
    return rows


def parameter_rows(document: dict, operation: dict) -> list[dict]:
    rows = []
    for parameter in (resolve(document, p) for p in operation.get("parameters", [])):
        rows.append({"name": parameter["name"], "where": parameter["in"], "required": parameter.get("required", False),
                     "type": type_html(parameter.get("schema")), "description": parameter.get("description", "")})
    return rows


def example_url(base: str, path: str, request: dict) -> str:
    for name, value in request.get("path", {}).items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    query = urlencode(request.get("query", {}), doseq=True)
    return base.rstrip("/") + path + (f"?{query}" if query else "")


def curl_text(base: str, method: str, path: str, operation: dict) -> str:
    """The example request as a curl command, one option a line."""
    request = operation.get("x-example-request", {})
    verb = "" if method == "GET" else f" -X {method}"
    lines = [f"curl{verb} {shlex.quote(example_url(base, path, request))}"]
    schemes = [name for scheme in operation.get("security", [])[:1] for name in scheme]
    lines += [f'-H "Authorization: Bearer {TOKENS[name]}"' for name in schemes]
    content = operation.get("requestBody", {}).get("content", {})
    body = request.get("body")
    if JSON in content and body is not None:
        lines += ["-H 'Content-Type: application/json'", "-d " + shlex.quote(json.dumps(body, indent=2))]
    elif "multipart/form-data" in content and body is not None:
        files = resolve_files(content["multipart/form-data"]["schema"])
        lines += [f"-F {name}=@{name}.csv" if name in files else f"-F {shlex.quote(f'{name}={value}')}"
                  for name, value in body.items()]
    return " \\\n  ".join(lines)


def resolve_files(schema: dict) -> set[str]:
    return {name for name, field in schema.get("properties", {}).items() if field.get("format") == "binary"}


def example_files(operation: dict) -> list[tuple[str, str]]:
    """(file name, text) of the files the example request uploads."""
    content = operation.get("requestBody", {}).get("content", {}).get("multipart/form-data")
    body = operation.get("x-example-request", {}).get("body") or {}
    return [(f"{name}.csv", body[name]) for name in sorted(resolve_files(content["schema"])) if name in body] \
        if content else []


def example_answer(document: dict, operation: dict) -> str | None:
    status = operation.get("x-example-status")
    response = resolve(document, operation["responses"].get(status, {}))
    example = response.get("content", {}).get(JSON, {}).get("example")
    return None if example is None else json.dumps(example, indent=2, ensure_ascii=False)


def status_rows(document: dict, operation: dict) -> list[dict]:
    rows = []
    for code in sorted(operation["responses"]):
        response = resolve(document, operation["responses"][code])
        schema = response.get("content", {}).get(JSON, {}).get("schema")
        rows.append({"code": code, "description": response.get("description", ""),
                     "body": type_html(schema) if schema else ""})
    return rows


def body_section(document: dict, operation: dict) -> dict | None:
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return None
    media, spec = next(iter(content.items()))
    schema = spec.get("schema", {})
    return {"media": media, "fields": field_rows(document, schema), "description":
            operation["requestBody"].get("description", ""),
            "schema": schema["$ref"].rsplit("/", 1)[-1] if "$ref" in schema else None}


def operation_section(document: dict, base: str, path: str, method: str, operation: dict) -> dict:
    return {"anchor": operation.get("operationId") or f"{method}-{path}", "method": method.upper(), "path": path,
            "summary": operation.get("summary", ""), "description": operation.get("description", ""),
            "tokens": [TOKENS[name].lstrip("$") for scheme in operation.get("security", []) for name in scheme],
            "parameters": parameter_rows(document, operation), "body": body_section(document, operation),
            "curl": curl_text(base, method.upper(), path, operation), "files": example_files(operation),
            "example_status": operation.get("x-example-status"), "answer": example_answer(document, operation),
            "needs": operation.get("x-example-needs"), "missing_status": operation.get("x-example-missing-status"),
            "statuses": status_rows(document, operation)}


def reference(document: dict, base: str) -> dict:
    """Sections grouped by tag, in the document's order, and the schemas as field tables."""
    groups: dict[str, list[dict]] = {}
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                tag = (item[method].get("tags") or ["other"])[0]
                groups.setdefault(tag, []).append(operation_section(document, base, path, method, item[method]))
    schemas = [{"name": name, "fields": field_rows(document, schema), "type": type_html(schema),
                "description": schema.get("description", "")}
               for name, schema in document["components"]["schemas"].items()]
    return {"groups": [(TAG_TITLES.get(tag, tag), sections) for tag, sections in groups.items()], "schemas": schemas}
