"""Where a link to an item goes: its own page on the shop's site (its `url` attribute, http(s) only), else its
page on Likewise, as an absolute address when the link is shown on another site.

Absolute addresses come from LIKEWISE_PUBLIC_URL (required in production), never from a request header: a
cached answer is shared by every client. Development may fall back to the request's host; an answer built
so is marked, and web/http_cache.py neither keeps nor shares it."""

from __future__ import annotations

from flask import g, url_for

from recommender.model import Item
from web.extensions import settings

LINK_ATTRIBUTE = "url"
LINK_SCHEMES = ("http://", "https://")
FROM_REQUEST_HOST = "links_from_request_host"


def public_url_for(endpoint: str, **values) -> str:
    """An absolute address on Likewise: LIKEWISE_PUBLIC_URL, else (development only) this request's host."""
    base = settings().public_url
    if base:
        return base + url_for(endpoint, **values)
    setattr(g, FROM_REQUEST_HOST, True)
    return url_for(endpoint, _external=True, **values)


def links_from_request_host() -> bool:
    """Whether this request's answer holds a link built from its Host header (never cached or shared)."""
    return bool(g.get(FROM_REQUEST_HOST))


def item_link(item: Item) -> str:
    """The item's own page on the host's site (its `url`, http(s) only), else its page on Likewise."""
    value = str(item.attributes.get(LINK_ATTRIBUTE) or "").strip()
    if value.lower().startswith(LINK_SCHEMES) and not any(c.isspace() or ord(c) < 32 for c in value):
        return value
    return public_url_for("pages.item_page", item_id=item.item_id)
