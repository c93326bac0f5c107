"""Tracking in the web tier: the visitor cookie, bot markers, the experiment arm of a request, and the
template helpers that put signed click links and the impression beacon into similar-items panels.

Impressions of HTML panels (pages, embeds) are counted by the beacon image, so HTTP caching of the
panel never hides one; API answers count when the caller asks (?track=1).
"""

from __future__ import annotations

import re
import secrets
import time

from flask import Flask, current_app, g, request, url_for
from markupsafe import Markup, escape

from recommender.metrics.database import MetricsDatabase
from recommender.metrics.rows import click_event, click_row, impression_row
from recommender.metrics.tokens import DEFAULT_PANEL, Click, Impression, TokenSigner
from recommender.store.store_of_record import MAX_EVENTS_PER_CALL
from web.extensions import model_holder
from web.links import public_url_for
from web.services.tracking_guard import TrackingGuard, redis_for
from web.state.experiment_holder import ExperimentHolder
from web.state.tracking_buffer import TrackingBuffer

VISITOR_COOKIE = "lw_visitor"
VISITOR_COOKIE_MAX_AGE = 365 * 86_400
VISITOR_PARAM = "visitor"
VISITOR_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
VISITOR_BYTES = 16
TRACK_PARAM = "track"
# A user agent containing one of these (case-insensitive), or none at all, is a bot: its clicks are stored
# flagged and never counted, its beacons are ignored. Link previewers (Slack, Facebook, ...) say "preview",
# "bot" or "facebookexternalhit"; command-line and library clients are counted as bots too.
BOT_MARKERS = ("bot", "crawler", "spider", "slurp", "preview", "facebookexternalhit", "embedly", "curl/", "wget/",
               "python-requests", "python-urllib", "httpx", "go-http-client", "libwww", "scrapy")
ARM_BLUEPRINTS = ("pages", "api", "embed", "panels", "panels_api", "panels_embed", "shop_lists", "shop_lists_api",
                  "shop_lists_embed")
COOKIE_BLUEPRINTS = ("pages", "tracking")
ARM_CACHE_CONTROL = "private, no-cache"  # revalidated every time (a 304 while the arm's version answers)
EXTENSION = "tracking"


class Tracking:
    """Per app: the token signer, the database, the write buffer, the once-per-token-and-address guard and the
    experiment holder."""

    def __init__(self, app: Flask, secret_key: str, database: MetricsDatabase, enabled: bool = True):
        self.enabled = enabled
        self.signer = TokenSigner(secret_key)
        self.database = database
        self.buffer = TrackingBuffer(self.write)
        shared = redis_for(app.extensions["settings"].redis_url)
        self.guard = TrackingGuard(lambda: shared, lambda: app.extensions["settings"].redis_prefix)
        holder = app.extensions["model_holder"]
        self.experiments = ExperimentHolder(app.extensions["index_store"], lambda: holder.model,
                                            lambda: self._running_experiment(), view=holder.without_removed)

    def _running_experiment(self):
        metrics = self.database.metrics(create=False)
        return metrics.running_experiment() if metrics is not None else None

    def write(self, impressions: list[dict], clicks: list[dict]) -> None:
        """One batch: the metrics rows, then the human clicks as `click` events for the next rebuild
        (at most one a visitor, item and day: the event id says which)."""
        store, metrics = self.database.open()
        metrics.write(impressions, clicks)
        events = [click_event(row) for row in clicks if not row["bot"] and row["visitor"]]
        for start in range(0, len(events), MAX_EVENTS_PER_CALL):
            store.add_events(events[start:start + MAX_EVENTS_PER_CALL])


def tracking() -> Tracking:
    return current_app.extensions[EXTENSION]


def is_bot(user_agent: str | None) -> bool:
    agent = (user_agent or "").lower()
    return not agent.strip() or any(marker in agent for marker in BOT_MARKERS)


def _valid_visitor(raw: str | None) -> str | None:
    return raw if raw and VISITOR_PATTERN.fullmatch(raw) else None


def visitor() -> str | None:
    """The visitor= parameter (embeds, API), else the lw_visitor cookie; a page visit without either gets one."""
    if "visitor" not in g:
        g.visitor = _valid_visitor(request.args.get(VISITOR_PARAM)) or _valid_visitor(
            request.cookies.get(VISITOR_COOKIE))
        if g.visitor is None and request.blueprint in COOKIE_BLUEPRINTS:
            g.visitor, g.new_visitor = secrets.token_urlsafe(VISITOR_BYTES), True
    return g.visitor


def _choose_arm() -> None:
    """During an experiment, the arm's model becomes the model this request is answered from."""
    if wants_tracking():
        g.http_cache_off = True  # an answer that records an impression must run every time
    if request.blueprint not in ARM_BLUEPRINTS or "model" in g:
        return
    experiments = tracking().experiments
    if not experiments.running():
        return  # no arm to pick: no visitor cookie, so the answer stays cacheable for everyone
    choice = experiments.choose(visitor())
    if choice is not None:
        g.model, g.arm, g.experiment_id = choice.model, choice.arm, choice.experiment_id


def _set_visitor_cookie(response):
    if g.get("new_visitor"):
        response.set_cookie(VISITOR_COOKIE, g.visitor, max_age=VISITOR_COOKIE_MAX_AGE, httponly=True,
                            samesite="Lax", secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    if g.get("arm"):
        response.vary.add("Cookie")  # the arm depends on the visitor cookie: no shared cache may mix arms
        if response.cache_control.public:  # and no cache may answer for it once the experiment stops
            response.headers["Cache-Control"] = ARM_CACHE_CONTROL
    return response


def track_impression(source, results, k: int, surface: str = "page",
                     panel: str = DEFAULT_PANEL) -> Impression | None:
    """The impression a panel is about to show (template global); None when tracking is off.

    `source` is the item a similar panel is about, or None for lists about no item (for-you, trending)."""
    if not tracking().enabled:
        return None
    model = g.get("model") or model_holder().model
    if model is None:
        return None
    return Impression.new(model.version, source.item_id if source is not None else "", k,
                          [r.item_id for r in results], surface, g.get("arm"), g.get("experiment_id"), panel)


def _visitor_args() -> dict:
    given = _valid_visitor(request.args.get(VISITOR_PARAM))
    return {VISITOR_PARAM: given} if given else {}


def _tracking_url(impression: Impression, endpoint: str, **values) -> str:
    """Relative on Likewise's own pages; absolute (on LIKEWISE_PUBLIC_URL when set) on other sites."""
    if impression.surface == "page":
        return url_for(endpoint, **values, **_visitor_args())
    return public_url_for(endpoint, **values, **_visitor_args())


def track_link(impression: Impression | None, position: int, item) -> str:
    """The card's link: through /r/<token> when tracked, else straight to the item page (template global)."""
    if impression is None:
        return url_for("pages.item_page", item_id=item.item_id)
    token = tracking().signer.click_token(impression, position, item.item_id)
    return _tracking_url(impression, "tracking.redirect_click", token=token)


def impression_beacon(impression: Impression | None) -> Markup:
    """The lazy 1×1 image that counts a viewed panel, even inside a cached fragment (template global)."""
    if impression is None:
        return Markup("")
    src = _tracking_url(impression, "tracking.beacon", token=tracking().signer.beacon_token(impression))
    return Markup(f'<img class="likewise-beacon" src="{escape(src)}" loading="lazy" width="1" height="1" alt="">')


def record_impression(impression: Impression) -> None:
    tracking().buffer.add_impression(impression_row(impression, visitor() or "", time.time()))


def record_click(click: Click) -> None:
    bot = is_bot(request.headers.get("User-Agent"))
    tracking().buffer.add_click(click_row(click, visitor() or "", time.time(), bot))


def wants_tracking() -> bool:
    return request.args.get(TRACK_PARAM, "") in ("1", "true", "yes")


def track_api_answer(body: dict, source, k: int, results, panel: str = DEFAULT_PANEL) -> dict:
    """With ?track=1, count the answer as an impression and give each result its click_url."""
    if not wants_tracking() or not tracking().enabled:
        return body
    impression = track_impression(source, results, k, surface="api", panel=panel)
    if impression is None:
        return body
    record_impression(impression)
    for position, (entry, result) in enumerate(zip(body["results"], results), start=1):
        entry["click_url"] = track_link(impression, position, result)
    return body | {"impression_id": impression.impression_id}


def init_app(app: Flask) -> None:
    """Register the tracking object, request hooks and template helpers on the app."""
    settings = app.extensions["settings"]
    database = MetricsDatabase(app.extensions["store_of_record"])
    app.extensions[EXTENSION] = Tracking(app, settings.secret_key, database, enabled=settings.tracking)
    app.before_request(_choose_arm)
    app.after_request(_set_visitor_cookie)
    app.jinja_env.globals.update(track_impression=track_impression, track_link=track_link,
                                 impression_beacon=impression_beacon)
