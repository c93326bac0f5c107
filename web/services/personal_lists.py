"""What the for-you and because-you-viewed routes share: who is asking (visitor= or user_id=, else the visitor
cookie), their recent events read from the store of record on every request (bounded by FOR_YOU_EVENTS_READ,
so a new event changes the next answer without a rebuild), and the lists scored from them by recommender.panels.

A visitor nobody knows, or a database that cannot be read, gets the cold answer, never an error.

Rendered for-you answers are kept per process (bounded in bytes, emptied on a version swap), keyed on the request,
the version, the removed items' revision and the rules, and stamped with the store's events watermark and the id
of the visitor's newest event. While the watermark (re-read at most every EVENTS_WATERMARK_RECHECK_SECONDS for all
visitors at once, web/state/events_watermark.py) has not moved, the kept answer is served without a query; when
events were added, one indexed query asks whether any of them is the visitor's; when events were deleted, every
kept answer is rendered again. A new (or forgotten) event thus changes the answer within half a second.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from flask import Flask, current_app, g, request
from werkzeug.exceptions import BadRequest

from recommender.limits import FOR_YOU_EVENTS_READ, ITEM_ID_MAX_CHARS, K_MAX, PERSONAL_CACHE_MAX_BYTES
from recommender.panels.because_viewed import ViewedRow, because_viewed
from recommender.panels.for_you import TRENDING, ForYou, PanelItem, recommend
from recommender.panels.trending import parse_window
from recommender.store import StoreUnavailable
from recommender.store.events import Watermark
from recommender.store.user_data import HistoryEvent, UserData
from web.extensions import events_watermark, rules_holder, served_model, settings, store_of_record
from web.http_cache import ENTRY_OVERHEAD_BYTES, FragmentCache, removed_revision
from web.services import list_answers
from web.services.merchandising import ranked_with_rules, rules_here, rules_widen
from web.services.tracking import VISITOR_COOKIE, VISITOR_PARAM, VISITOR_PATTERN

log = logging.getLogger(__name__)

USER_PARAM = "user_id"
INCLUDE_SEEN_PARAM = "include_seen"
CACHE = "personal_cache"
PRIVATE_ANSWER = "private, no-store"  # a personal list is never kept by a shared cache (nor by the browser)


@dataclass(frozen=True)
class Asker:
    """Whose list: `kind` is visitor (Likewise's cookie or visitor=) or user_id (a site's own id)."""

    kind: str
    id: str

    def as_dict(self) -> dict:
        return {self.kind: self.id}


def checked(name: str, raw: str) -> str:
    """A user id or visitor id as given: a 400 naming it when it is malformed."""
    if name == VISITOR_PARAM and not VISITOR_PATTERN.fullmatch(raw):
        raise BadRequest(f"{VISITOR_PARAM} must be 1 to 100 letters, digits or . _ : - characters")
    if not raw or len(raw) > ITEM_ID_MAX_CHARS or any(ord(c) < 32 for c in raw):
        raise BadRequest(f"{name} must be 1 to {ITEM_ID_MAX_CHARS} characters without control characters")
    return raw


def asker(use_cookie: bool = True) -> Asker | None:
    """user_id= or visitor= (not both), else the visitor cookie; None for a first-time visitor.
    A malformed parameter is a 400 naming it; a malformed cookie is ignored."""
    given = [name for name in (USER_PARAM, VISITOR_PARAM) if name in request.args]
    if len(given) == 2:
        raise BadRequest(f"give {USER_PARAM} or {VISITOR_PARAM}, not both")
    if given:
        return Asker(given[0], checked(given[0], request.args[given[0]]))
    cookie = request.cookies.get(VISITOR_COOKIE) if use_cookie else None
    if cookie and VISITOR_PATTERN.fullmatch(cookie):
        return Asker(VISITOR_PARAM, cookie)
    return None


def include_seen() -> bool:
    raw = request.args.get(INCLUDE_SEEN_PARAM, "")
    if raw not in ("", "0", "1", "true", "false"):
        raise BadRequest(f"{INCLUDE_SEEN_PARAM} must be 1 or 0, got {raw[:20]!r}")
    return raw in ("1", "true")


def history(who: Asker | None) -> list[HistoryEvent]:
    """Their newest events (at most FOR_YOU_EVENTS_READ), read once per request; [] when the database is down."""
    if who is None:
        return []
    if "personal_history" not in g:
        try:
            g.personal_history = UserData(store_of_record().get().engine).recent(who.id, FOR_YOU_EVENTS_READ)
        except StoreUnavailable as exc:
            log.warning("history of a visitor not read, answering the cold list: %s", exc)
            g.personal_history = []
    return g.personal_history


def for_you(k: int, filters, who: Asker | None) -> ForYou:
    """The visitor's list with the for-you rules in force applied (more candidates ranked when they hide,
    boost or bury)."""
    model = served_model()
    chosen = rules_here("for-you", None, model)
    wide = min(2 * k, K_MAX) if rules_widen(chosen) else k
    answer = recommend(model, history(who), wide, settings().event_weight_table, time.time(), filters,
                       include_seen())
    if answer.basis == TRENDING:
        answer = trending_answer(k, filters, who) or answer
    if not chosen:
        return answer
    return replace(answer, results=ranked_with_rules("for-you", None, answer.results, model, filters, k))


def trending_answer(k: int, filters, who: Asker | None) -> ForYou | None:
    """The cold answer: the trending list (its default window, popular items after the trending ones), the
    visitor's own items left out unless include_seen; None when it has nothing."""
    seen = set() if include_seen() else {event.item_id for event in history(who)}
    listed = list_answers.trending(parse_window(None), min(k + len(seen), K_MAX), filters)
    cards = [PanelItem(card.item, card.score, cold_why=card.why.summary) for card in listed.cards
             if card.item_id not in seen][:k]
    return ForYou(cards, TRENDING) if cards else None


def viewed_rows(filters, who: Asker | None) -> list[ViewedRow]:
    return because_viewed(served_model(), history(who), filters, include_seen=include_seen())


def private(response):
    """Personal answers: no shared cache, no ETag; they change with every event the visitor sends."""
    g.http_cache_off = True
    response.headers["Cache-Control"] = PRIVATE_ANSWER
    response.vary.add("Cookie")
    return response


@dataclass(frozen=True)
class KeptAnswer:
    """A rendered personal answer, the watermark it was last known good at and the visitor's newest event id."""

    body: bytes
    watermark: Watermark
    newest: int | None

    @property
    def size(self) -> int:
        return len(self.body) + ENTRY_OVERHEAD_BYTES


@dataclass(frozen=True)
class Lookup:
    """What keeping an answer of this request needs; `body` is the kept answer when it is still good."""

    key: str
    watermark: Watermark
    newest: int | None
    body: bytes | None = None


def request_key(who: Asker | None) -> str:
    """What a personal answer depends on besides the version and the visitor's events."""
    args = sorted(request.args.items(multi=True))
    headers = [request.headers.get(name, "") for name in ("HX-Request", "HX-History-Restore-Request")]
    return repr((request.path, args, headers, who, removed_revision(), rules_holder().current()[0], g.get("arm")))


def newest_event(who: Asker | None) -> int | None:
    return None if who is None else UserData(store_of_record().get().engine).newest(who.id)


def look_up(who: Asker | None) -> Lookup | None:
    """The kept answer for this request if no event of the visitor's changed since it was rendered; None when
    the store cannot say (nothing is then served from or kept in the cache)."""
    watermark = events_watermark().current()
    if watermark is None:
        return None
    key, cache = request_key(who), current_app.extensions[CACHE]
    version = served_model().version
    kept = cache.get(version, key)
    if kept is not None and kept.watermark == watermark:
        return Lookup(key, watermark, kept.newest, kept.body)
    try:
        newest = newest_event(who)
    except StoreUnavailable:
        return None
    if kept is not None and kept.watermark.deletions == watermark.deletions and kept.newest == newest:
        cache.put(version, key, replace(kept, watermark=watermark))  # events came, none of theirs
        return Lookup(key, watermark, newest, kept.body)
    return Lookup(key, watermark, newest)


def keep_answer(lookup: Lookup | None, answer: ForYou, body: bytes) -> None:
    """Keep a history-based answer; the cold one is trending's list, which moves with everyone's events (and is
    kept per refresh of its counts by trending itself)."""
    if lookup is not None and answer.basis != TRENDING:
        current_app.extensions[CACHE].put(served_model().version, lookup.key,
                                          KeptAnswer(body, lookup.watermark, lookup.newest))


def init_app(app: Flask) -> None:
    """The per-process cache of rendered personal answers, emptied whenever the served version changes."""
    cache = FragmentCache(PERSONAL_CACHE_MAX_BYTES)
    app.extensions[CACHE] = cache
    app.extensions["model_holder"].on_swap(cache.swapped)
