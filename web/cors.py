"""Cross-origin reads of the embed routes, for the origins in LIKEWISE_EMBED_ORIGINS and nobody else.

No credentials are ever allowed (embeds are public, cookie-less reads), so an allowed origin is echoed
with `Vary: Origin`, and every other origin gets no CORS header at all: its browser then refuses to hand
the answer to the page. Preflights admit exactly the request headers htmx 2 sends, and the response headers
htmx 2 reads are exposed (else the browser logs a "Refused to get unsafe header" error for each, on every swap).
"""

from __future__ import annotations

from flask import Response, request

from recommender.settings import ANY_ORIGIN

HTMX_REQUEST_HEADERS = ("HX-Request", "HX-Current-URL", "HX-Target", "HX-Trigger", "HX-Trigger-Name")
HTMX_RESPONSE_HEADERS = ("HX-Trigger", "HX-Trigger-After-Swap", "HX-Trigger-After-Settle", "HX-Location",
                         "HX-Redirect", "HX-Refresh", "HX-Push", "HX-Push-Url", "HX-Replace-Url", "HX-Retarget",
                         "HX-Reswap", "HX-Reselect")
ALLOWED_METHODS = "GET"
PREFLIGHT_MAX_AGE_SECONDS = 600
PREFLIGHT_STATUS = 204


def allowed_origin(origins: tuple[str, ...]) -> str | None:
    """The request's Origin when it may read the answer, else None."""
    origin = request.headers.get("Origin", "").strip()
    if not origin:
        return None
    if ANY_ORIGIN in origins or origin.lower() in origins:
        return origin
    return None


def add_cors_headers(response: Response, origins: tuple[str, ...]) -> Response:
    """Echo an allowed origin; the answer depends on Origin either way, so caches must key on it."""
    response.vary.add("Origin")
    origin = allowed_origin(origins)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        if response.status_code != PREFLIGHT_STATUS:
            response.headers["Access-Control-Expose-Headers"] = ", ".join(HTMX_RESPONSE_HEADERS)
    return response


def is_preflight() -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def preflight_response(origins: tuple[str, ...]) -> Response:
    """204; for an allowed origin, the methods and htmx headers it may use and how long to remember that."""
    response = Response(status=PREFLIGHT_STATUS)
    if allowed_origin(origins) is not None:
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ", ".join(HTMX_REQUEST_HEADERS)
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
    return add_cors_headers(response, origins)
