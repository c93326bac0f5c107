"""HTTP caching keyed on the served index version: strong ETags, 304s, Cache-Control, a per-process LRU.

An answer of a public read route is a function of the index version, the code and templates that render
it, and the request's parameters (path, query arguments, the headers it varies on). The ETag is a hash
of exactly those, so a client or proxy can revalidate for free (304 before any model work) and the
ETag changes the moment a new version is served. Rendered answers are also kept in a per-process LRU,
bounded in bytes, that is emptied whenever the ModelHolder swaps versions: no body of an old version is
served after a swap. Views opt in with `@cached_by_version()`; everything else gets a safe default
(`private, no-store` for admin and anything that touched the session, `no-store` for errors and for
answers whose links came from the request's Host header, which only development builds).
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, current_app, g, make_response, request
from flask.globals import _cv_request

from recommender.limits import CACHE_MAX_AGE_SECONDS, FRAGMENT_CACHE_MAX_BYTES, STALE_WHILE_REVALIDATE_SECONDS
from web.extensions import model_holder, rules_holder, served_model
from web.links import links_from_request_host

ENTRY_OVERHEAD_BYTES = 256  # the key, the headers and the bookkeeping of one entry, roughly
PUBLIC = f"public, max-age={CACHE_MAX_AGE_SECONDS}, stale-while-revalidate={STALE_WHILE_REVALIDATE_SECONDS}"
PRIVATE = "private, no-store"
ERROR = "no-store"
PRIVATE_BLUEPRINTS = frozenset({"admin", "admin_api"})
PRIVATE_PATHS = ("/admin", "/api/admin")  # and everything under them, errors included
PAGE_VARY = ("HX-Request", "HX-History-Restore-Request", "HX-Trigger")
JSON_VARY = ()
UNCACHED_HEADERS = frozenset({"date", "set-cookie", "content-length"})
CONFIG_MAX_BYTES = "HTTP_CACHE_MAX_BYTES"
ROOT = Path(__file__).resolve().parent.parent
CODE_DIRS = ("web", "recommender", "templates", "partials")


@dataclass(frozen=True)
class CachedAnswer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + ENTRY_OVERHEAD_BYTES


class FragmentCache:
    """Rendered answers of one index version, least recently used dropped first, at most `max_bytes`."""

    def __init__(self, max_bytes: int = FRAGMENT_CACHE_MAX_BYTES):
        self.max_bytes = max_bytes
        self.version: str | None = None
        self.bytes = 0
        self._entries: OrderedDict[str, CachedAnswer] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def swapped(self, version: str) -> None:
        """The holder now serves `version`: every answer of the old one goes."""
        with self._lock:
            self.version = version
            self._entries.clear()
            self.bytes = 0

    def get(self, version: str, key: str) -> CachedAnswer | None:
        with self._lock:
            if version != self.version or key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, version: str, key: str, answer: CachedAnswer) -> bool:
        """Keep an answer; one rendered from a version no longer served (a request that straddled a
        swap) or bigger than the whole cache is not kept."""
        with self._lock:
            if version != self.version or answer.size > self.max_bytes:
                return False
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old.size
            self._entries[key] = answer
            self.bytes += answer.size
            while self.bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self.bytes -= dropped.size
            return True


@functools.cache
def code_fingerprint() -> str:
    """A hash of the code and templates that render answers: a deploy that changes them changes every
    ETag, while every worker of one deploy agrees on it."""
    digest = hashlib.sha256()
    for directory in CODE_DIRS:
        for path in sorted((ROOT / directory).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".html", ".yaml", ".json"):
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def removed_revision() -> int | None:
    """The revision of the items removed from the store since the version was built: answers change
    with it at once (a deleted item leaves every answer without waiting for a rebuild)."""
    removed = model_holder().removed
    return removed.revision if removed is not None else None


def request_key(vary: tuple[str, ...]) -> str:
    """What the answer depends on besides the version: path, sorted query arguments, varying headers,
    the removed items' revision and the merchandising rules' revision."""
    args = sorted(request.args.items(multi=True))
    headers = [(name, request.headers.get(name, "")) for name in vary]
    return repr((request.path, args, headers, removed_revision(), rules_holder().current()[0]))


def etag_for(version: str, key: str) -> str:
    return hashlib.sha256(f"{code_fingerprint()}\n{version}\n{key}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


def fragment_cache() -> FragmentCache:
    return current_app.extensions["http_cache"]


def _public(response: Response, etag: str, version: str, vary: tuple[str, ...]) -> Response:
    response.set_etag(etag)
    response.headers["Cache-Control"] = PUBLIC
    response.headers["X-Index-Version"] = version
    response.vary.update(vary)  # one parse and one rewrite of the header, not one per name
    return response


def _not_modified(etag: str, version: str, vary: tuple[str, ...]) -> Response:
    return _public(Response(status=304), etag, version, vary)


def _remember(response: Response) -> CachedAnswer:
    headers = tuple((k, v) for k, v in response.headers.items() if k.lower() not in UNCACHED_HEADERS)
    return CachedAnswer(response.status_code, headers, response.get_data())


def session_used() -> bool:
    """Whether this request read or wrote the session (a personal answer). Read off the request context:
    asking the `session` proxy would itself mark the session as accessed."""
    opened = getattr(_cv_request.get(None), "_session", None)
    return bool(opened is not None and (opened.accessed or opened.modified))


def _personal(response: Response) -> bool:
    return session_used() or "Set-Cookie" in response.headers


def cached_by_version(vary: tuple[str, ...] = PAGE_VARY):
    """Decorate a GET view whose answer depends only on the served version and the request's path,
    query arguments and the `vary` headers. 304 and LRU hits are answered before the view runs."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if g.get("http_cache_off"):
                return view(*args, **kwargs)
            model = served_model()  # pinned in g: the view renders from the version the ETag names
            key = request_key(vary)
            etag = etag_for(model.version, key)
            any_etag = request.if_none_match.star_tag  # "*": 304 only once the answer is known to exist
            if not any_etag and request.if_none_match.contains_weak(etag):
                return _not_modified(etag, model.version, vary)
            cache = fragment_cache()
            hit = cache.get(model.version, key) if request.method == "GET" else None
            if hit is not None:
                g.http_cache_hit = True
                if any_etag:
                    return _not_modified(etag, model.version, vary)
                return _public(Response(hit.body, hit.status, list(hit.headers)), etag, model.version, vary)
            response = make_response(view(*args, **kwargs))
            if response.status_code != 200 or _personal(response) or links_from_request_host():
                return response
            if request.method == "GET":
                cache.put(model.version, key, _remember(response))
            if any_etag:
                return _not_modified(etag, model.version, vary)
            return _public(response, etag, model.version, vary)
        return wrapper
    return decorate


def is_admin_path() -> bool:
    """/admin and /api/admin and everything under them: every answer there is private, errors included."""
    return any(request.path == root or request.path.startswith(root + "/") for root in PRIVATE_PATHS)


def default_cache_control(response: Response) -> Response:
    """Answers that did not opt in: admin and personal ones are never stored, errors are not cached."""
    if is_admin_path() or request.blueprint in PRIVATE_BLUEPRINTS or (
            session_used() and "Cache-Control" not in response.headers):
        response.headers["Cache-Control"] = PRIVATE
        response.headers.pop("ETag", None)
    elif links_from_request_host():
        response.headers["Cache-Control"] = ERROR
        response.headers.pop("ETag", None)
    elif response.status_code >= 400 and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = ERROR
    return response


def init_app(app: Flask) -> None:
    """One fragment cache per process, emptied on every version swap; the default policy for all answers."""
    cache = FragmentCache(int(app.config.get(CONFIG_MAX_BYTES, FRAGMENT_CACHE_MAX_BYTES)))
    app.extensions["http_cache"] = cache
    app.extensions["model_holder"].on_swap(cache.swapped)
    app.after_request(default_cache_control)
