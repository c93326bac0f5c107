"""Admin access: a login session for browsers, a Bearer token for scripts, both the one ADMIN_TOKEN."""

from __future__ import annotations

import functools
import hashlib
import hmac
import threading
import time
from collections import defaultdict, deque

from flask import current_app, jsonify, redirect, request, session, url_for

LOGIN_ATTEMPTS = 5
LOGIN_WINDOW_SECONDS = 60


def token_matches(candidate: str) -> bool:
    """Constant-time comparison, so response timing does not reveal how much of a guess was right."""
    expected = current_app.config["ADMIN_TOKEN"].encode()
    return hmac.compare_digest(candidate.encode("utf-8", "surrogatepass"), expected)


def _token_fingerprint() -> str:
    """Stored in the session: changing ADMIN_TOKEN signs every browser out."""
    return hashlib.sha256(current_app.config["ADMIN_TOKEN"].encode()).hexdigest()[:16]


def sign_in() -> None:
    session.clear()
    session["admin"] = _token_fingerprint()
    session.permanent = False


def sign_out() -> None:
    session.pop("admin", None)


def bearer_ok() -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and bool(token) and token_matches(token.strip())


def session_ok() -> bool:
    return hmac.compare_digest(str(session.get("admin", "")), _token_fingerprint())


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


def admin_api(view):
    """Admin JSON API: Bearer token only, so no cookie can be used to forge a request."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if bearer_ok():
            return view(*args, **kwargs)
        response = jsonify({"error": "admin token required: send 'Authorization: Bearer <ADMIN_TOKEN>'"})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="likewise-admin"'
        return response
    return wrapped


class LoginThrottle:
    """At most LOGIN_ATTEMPTS failed sign-ins per client address per window, per process."""

    def __init__(self, attempts: int = LOGIN_ATTEMPTS, window: float = LOGIN_WINDOW_SECONDS):
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque:
        failures = self._failures[key]
        while failures and now - failures[0] > self.window:
            failures.popleft()
        return failures

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._prune(key, time.monotonic())) >= self.attempts

    def failed(self, key: str) -> None:
        with self._lock:
            self._prune(key, time.monotonic()).append(time.monotonic())

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
