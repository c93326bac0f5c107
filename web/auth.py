"""Admin access: a login session for browsers, a Bearer token for scripts, both the one ADMIN_TOKEN.

A browser session carries only a random id. What it stands for is kept server-side (in Redis, shared
by every web process): a keyed fingerprint of the admin token it was opened with, so rotating the
token signs every browser out, and logging out deletes it, so a replayed cookie opens nothing.
Failed attempts (sign-in form and Bearer token alike) are counted per client in Redis too, one bucket
per token. The token is compared first: a correct one is always let in, whoever failed before from
the same address; only failures are counted and only failures are refused once a client has too
many. Guessing stays hopeless because the tokens are long (production refuses fewer than 32 characters).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets

from flask import jsonify, redirect, request, session, url_for

from recommender.limits import ADMIN_SESSION_SECONDS
from web.client_address import client_address
from web.extensions import settings
from web.throttle import ADMIN_BUCKET, INGEST_BUCKET, REDIS_ERRORS, AttemptLimiter, shared_redis

SESSION_KEY = "admin_session"
log = logging.getLogger(__name__)


def _matches(candidate: str, expected: str) -> bool:
    """Constant-time comparison, so response timing does not reveal how much of a guess was right."""
    return hmac.compare_digest(candidate.encode("utf-8", "surrogatepass"), expected.encode())


def token_matches(candidate: str) -> bool:
    return _matches(candidate, settings().admin_token)


def _fingerprint() -> str:
    """The admin token, keyed by the secret key: kept server-side only, never in a cookie."""
    return hmac.new(settings().secret_key.encode(), settings().admin_token.encode(), hashlib.sha256).hexdigest()


class SessionRegistry:
    """Open admin sessions by random id: in Redis when it is configured and up, else in this
    process's memory (so the admin page still opens while Redis is down)."""

    _local: dict[str, str] = {}

    def _key(self, session_id: str) -> str:
        return f"{settings().redis_prefix}admin-session:{session_id}"

    def open(self) -> str:
        session_id = secrets.token_urlsafe(32)
        client = shared_redis()
        try:
            if client is None:
                raise LookupError("no shared store configured")
            client.set(self._key(session_id), _fingerprint(), ex=ADMIN_SESSION_SECONDS)
        except (LookupError, *REDIS_ERRORS):
            self._local[session_id] = _fingerprint()
        return session_id

    def _stored(self, session_id: str) -> str | None:
        client = shared_redis()
        if client is not None:
            try:
                return client.get(self._key(session_id)) or self._local.get(session_id)
            except REDIS_ERRORS:
                pass
        return self._local.get(session_id)

    def valid(self, session_id: str) -> bool:
        stored = self._stored(session_id)
        return bool(stored) and hmac.compare_digest(stored, _fingerprint())

    def close(self, session_id: str) -> None:
        self._local.pop(session_id, None)
        client = shared_redis()
        if client is not None:
            try:
                client.delete(self._key(session_id))
            except REDIS_ERRORS:
                log.warning("Redis is down: session %s… ends when its key expires", session_id[:6])


sessions = SessionRegistry()
limiter = AttemptLimiter(ADMIN_BUCKET)
ingest_limiter = AttemptLimiter(INGEST_BUCKET)


def sign_in() -> None:
    session.clear()
    session[SESSION_KEY] = sessions.open()
    session.permanent = False


def sign_out() -> None:
    session_id = session.pop(SESSION_KEY, None)
    if session_id:
        sessions.close(session_id)
    session.clear()


def _bearer() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def bearer_ok(*accepted: str) -> bool:
    """A Bearer token equal to one of `accepted` (default: the admin token)."""
    token = _bearer()
    return token is not None and any(_matches(token, expected) for expected in (accepted or (settings().admin_token,)))


def session_ok() -> bool:
    session_id = session.get(SESSION_KEY)
    return isinstance(session_id, str) and sessions.valid(session_id)


def _too_many(attempts: AttemptLimiter):
    response = jsonify({"error": "too many failed attempts from this address: wait a minute and try again"})
    response.status_code = 429
    response.headers["Retry-After"] = str(attempts.window)
    return response


def refusal_message(realm: str) -> str:
    """Why a Bearer token was refused: none sent, the ingest token on an admin route, or a wrong one."""
    token = _bearer()
    if token is None:
        return f"token required: send 'Authorization: Bearer <token>' ({realm})"
    ingest = settings().ingest_token
    if ingest and _matches(token, ingest):
        return ("this token cannot be used here: it is the INGEST_TOKEN, which only sends events "
                "(POST /api/events); admin routes need the ADMIN_TOKEN as 'Authorization: Bearer <token>'")
    return (f"this token cannot be used here: it is not the one this route takes; send 'Authorization: Bearer "
            f"<token>' ({realm})")


def token_required(view, accepted=lambda: (settings().admin_token,), realm="likewise-admin", attempts=limiter):
    """JSON routes behind a Bearer token. The token is compared first, so a correct one always passes;
    failures are counted per client in `attempts`' bucket, across processes, and refused with 429 once
    the client has too many."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if bearer_ok(*accepted()):
            return view(*args, **kwargs)
        client = client_address()
        if attempts.blocked(client):
            return _too_many(attempts)
        attempts.failed(client)
        response = jsonify({"error": refusal_message(realm)})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = f'Bearer realm="{realm}"'
        return response
    return wrapped


def admin_api(view):
    """Admin JSON API: Bearer token only, so no cookie can be used to forge a request."""
    return token_required(view)


def admin_page(view):
    """Browser admin pages: a signed-in session (or a Bearer token), else the sign-in form."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if session_ok() or bearer_ok():
            return view(*args, **kwargs)
        if request.headers.get("HX-Request"):
            response = jsonify({"error": "sign in again"})
            response.status_code = 401
            response.headers["HX-Redirect"] = url_for("admin.login")
            return response
        return redirect(url_for("admin.login", next=request.path))
    return wrapped

