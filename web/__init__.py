"""The Likewise web tier: an app factory in the style of Flask's tutorial."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_htmx import HTMX
from flask_wtf.csrf import CSRFProtect
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader

from recommender.index_store import IndexStore
from web.config import settings_from_env
from web.model_holder import ModelHolder
from worker import celery_init_app

ROOT = Path(__file__).resolve().parent.parent
HTMX_VERSION = "2.0.11"

htmx = HTMX()
csrf = CSRFProtect()


def create_app(config: dict | None = None) -> Flask:
    """Build the app from the environment, with `config` overriding (tests pass their own)."""
    app = Flask(__name__, static_folder="static")
    app.config.update(settings_from_env())
    if config:
        app.config.update(config)
    app.config["DATA_DIR"] = Path(app.config["DATA_DIR"])
    if app.config["LIKEWISE_ENV"] == "production":
        app.debug = False
    app.jinja_loader = ChoiceLoader([
        FileSystemLoader(ROOT / "templates"),
        PrefixLoader({"partials": FileSystemLoader(ROOT / "partials")}),
    ])
    app.jinja_env.globals["htmx_version"] = HTMX_VERSION

    htmx.init_app(app)
    csrf.init_app(app)
    celery_init_app(app)

    store = IndexStore(app.config["DATA_DIR"] / "indexes")
    app.extensions["index_store"] = store
    app.extensions["model_holder"] = ModelHolder(store, app.config.get("RELOAD_INTERVAL_SECONDS", 0.5))

    from web import errors, security
    from web.views import admin, api, health, pages

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(admin.api_bp)
    csrf.exempt(api.bp)
    csrf.exempt(admin.api_bp)
    if app.config.get("BENCH_ROUTES"):
        from web.views import bench

        app.register_blueprint(bench.bp)
    errors.register(app)
    security.register(app)

    from web.cli import register as register_cli

    register_cli(app)
    return app
