"""Response headers every page needs: scripts only from this site, no framing, no sniffing.

The one exception is `allow_framing`: the embed iframe variant may be framed by the configured embed
origins (CSP frame-ancestors), and by nobody else.
"""

from __future__ import annotations

from flask import Flask, Response

FRAME_ANCESTORS_NONE = "'none'"
POLICY_WITHOUT_FRAMING = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: https:",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "object-src 'none'",
]
CONTENT_SECURITY_POLICY = "; ".join([*POLICY_WITHOUT_FRAMING, f"frame-ancestors {FRAME_ANCESTORS_NONE}"])
FRAMABLE = "likewise_framable"


def content_security_policy(frame_ancestors: tuple[str, ...] = ()) -> str:
    """The site's policy; framing only by the given origins (none when empty)."""
    ancestors = " ".join(frame_ancestors) or FRAME_ANCESTORS_NONE
    return "; ".join([*POLICY_WITHOUT_FRAMING, f"frame-ancestors {ancestors}"])


def allow_framing(response: Response, origins: tuple[str, ...]) -> Response:
    """Let these origins (and only these) frame this response: CSP frame-ancestors, no X-Frame-Options DENY."""
    if origins:
        response.headers["Content-Security-Policy"] = content_security_policy(origins)
        setattr(response, FRAMABLE, True)
    return response


def init_app(app: Flask) -> None:
    @app.after_request
    def add_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not getattr(response, FRAMABLE, False):
            response.headers.setdefault("X-Frame-Options", "DENY")
        response.vary.add("HX-Request")
        return response
