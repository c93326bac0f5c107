"""The Likewise web tier: an app factory in the style of Flask's tutorial.

The web tier reads index versions and sends jobs by name; it never builds an index and never
imports the worker's tasks or the build stack (scikit-learn, SciPy).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import click
from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader

from recommender import limits
from recommender.index_store import IndexStore
from recommender.settings import ConfigError, Settings, settings_from_env
from recommender.store.handle import open_store_of_record
from web.extensions import csrf, htmx
from web.state.events_watermark import EventsWatermark
from web.state.model_holder import ModelHolder
from web.state.removed_items import RemovedItems
from web.state.rules_holder import RulesHolder
from web.state.serving_registry import ServingRegistry
from web.state.trending_counts import TrendingCounts
from worker.queue import celery_init_app, redis_client

ROOT = Path(__file__).resolve().parent.parent
HTMX_VERSION = "2.0.11"
log = logging.getLogger(__name__)

# Flask-style config keys that tests and callers may pass for Likewise settings.
SETTING_KEYS = {"LIKEWISE_ENV": "env", "DATA_DIR": "data_dir", "SECRET_KEY": "secret_key",
                "ADMIN_TOKEN": "admin_token", "REDIS_URL": "redis_url", "REDIS_PREFIX": "redis_prefix",
                "REBUILD_EVERY_SECONDS": "rebuild_every_seconds", "MAX_CONTENT_LENGTH": "max_upload_bytes",
                "RELOAD_INTERVAL_SECONDS": "reload_seconds", "FLOWER_URL": "flower_url",
                "BUILD_LOCK_SECONDS": "build_lock_seconds", "REDELIVER_SECONDS": "redeliver_seconds",
                "BENCH_ROUTES": "bench_routes", "DATABASE_URL": "database_url", "INGEST_TOKEN": "ingest_token",
                "TRACKING": "tracking"}


def resolve_settings(config: Settings | dict | None) -> tuple[Settings, dict]:
    """The settings object, and the plain Flask config keys left over (TESTING, CELERY, ...)."""
    if isinstance(config, Settings):
        return config, {}
    config = dict(config or {})
    overrides = {SETTING_KEYS.get(key, key): config.pop(key) for key in list(config)
                 if key in SETTING_KEYS or key in Settings.__dataclass_fields__}
    return settings_from_env().with_overrides(overrides), config


def flask_config(settings: Settings) -> dict:
    """The Flask config keys that follow from the settings."""
    return {"SECRET_KEY": settings.secret_key, "MAX_CONTENT_LENGTH": settings.max_upload_bytes,
            "SESSION_COOKIE_HTTPONLY": True, "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": settings.production}


def create_app(config: Settings | dict | None = None) -> Flask:
    """Build the app from the environment; `config` (a Settings, or overrides) wins (tests pass their own)."""
    try:
        app_settings, extra = resolve_settings(config)
    except ConfigError as exc:
        if click.get_current_context(silent=True) is not None:  # a `flask --app web …` command: no traceback
            raise click.ClickException(str(exc)) from None
        raise
    app = Flask(__name__, static_folder="static")
    app.config.update(flask_config(app_settings))
    app.config.update(extra)
    if app_settings.production:
        app.debug = False
    app.extensions["settings"] = app_settings
    _templates(app, app_settings)
    htmx.init_app(app)
    csrf.init_app(app)
    celery_init_app(app, app_settings)
    store = IndexStore(app_settings.index_dir)
    app.extensions["index_store"] = store
    handle = open_store_of_record(app_settings.database_url, app_settings.data_dir, app_settings.catalog_dir, log)
    app.extensions["store_of_record"] = handle
    registry = (ServingRegistry(redis_client(app_settings.redis_url), app_settings.redis_prefix)
                if app_settings.redis_url else None)
    app.extensions["serving_registry"] = registry
    app.extensions["model_holder"] = ModelHolder(store, app_settings.reload_seconds, RemovedItems(handle), registry)
    app.extensions["rules_holder"] = RulesHolder(handle)
    app.extensions["trending_counts"] = TrendingCounts(handle, app_settings.trending_refresh_seconds)
    app.extensions["events_watermark"] = EventsWatermark(handle, limits.EVENTS_WATERMARK_RECHECK_SECONDS)
    _blueprints(app, app_settings)
    from web import cli

    cli.init_app(app)
    return app


def format_timestamp(seconds: float | None) -> str:
    """Unix seconds as UTC text for the admin page ("—" when there is none)."""
    if seconds is None:
        return "—"
    return datetime.fromtimestamp(float(seconds), timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _templates(app: Flask, app_settings: Settings) -> None:
    app.jinja_loader = ChoiceLoader([
        FileSystemLoader(ROOT / "templates"),
        PrefixLoader({"partials": FileSystemLoader(ROOT / "partials")}),
    ])
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True  # no blank lines where tags were: smaller HTML
    app.jinja_env.globals.update(htmx_version=HTMX_VERSION, limits=limits, settings=app_settings)
    app.jinja_env.filters["timestamp"] = format_timestamp


def _blueprints(app: Flask, app_settings: Settings) -> None:
    from web import errors, http_cache, security
    from web.services import personal_lists, tracking
    from web.views import (
        admin,
        admin_api,
        api,
        docs,
        embed,
        events_api,
        health,
        held_upload,
        items_api,
        metrics,
        pages,
        rules_api,
        shop_lists,
        shop_lists_api,
        shop_lists_embed,
    )
    from web.views import beacons as tracking_views
    from web.views import panels as panel_pages
    from web.views import panels_api as panel_api
    from web.views import panels_embed as panel_embeds

    for blueprint in (pages.bp, api.bp, docs.bp, embed.bp, health.bp, admin.bp, admin_api.bp, items_api.bp,
                      events_api.bp, tracking_views.bp, metrics.bp, metrics.api_bp, held_upload.bp, rules_api.bp,
                      rules_api.admin_bp, shop_lists.bp, shop_lists_api.bp, shop_lists_embed.bp):
        app.register_blueprint(blueprint)
    for blueprint in (panel_pages.bp, panel_api.bp, panel_embeds.bp):
        app.register_blueprint(blueprint)
    for blueprint in (api.bp, admin_api.bp, items_api.bp, events_api.bp, metrics.api_bp, panel_api.bp, rules_api.bp,
                      shop_lists_api.bp):
        csrf.exempt(blueprint)
    tracking.init_app(app)
    personal_lists.init_app(app)
    if app_settings.bench_routes:
        from web.views import bench

        app.register_blueprint(bench.bp)
    errors.init_app(app)
    security.init_app(app)
    http_cache.init_app(app)
