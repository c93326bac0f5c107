"""Shared fixtures: small catalogs made here, real Annoy indexes built from them, the app and client."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import pandas as pd
import pytest

# Keep every generated secret and index of the test run out of the developer's ./var.
os.environ.setdefault("LIKEWISE_DATA_DIR", tempfile.mkdtemp(prefix="likewise-test-env-"))

from recommender.catalog_source import CatalogFiles  # noqa: E402
from recommender.index_store import IndexStore  # noqa: E402
from recommender.pipeline import build_and_publish  # noqa: E402
from web import create_app  # noqa: E402

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Animation", "Documentary"]
WORDS = ["river", "night", "garden", "storm", "city", "dragon", "winter", "island", "mirror", "engine",
         "shadow", "summer", "castle", "ocean", "forest", "rocket"]


def make_catalog(directory: Path, n_items: int = 80, n_users: int = 40, seed: int = 3,
                 with_interactions: bool = True, extra_items: int = 0) -> CatalogFiles:
    """A small catalog with structure: each item has a 'family' word, genre and decade that its
    neighbours share, and users who like one family. `extra_items` are added without interactions."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_items + extra_items):
        family = i % 8
        word = WORDS[family]
        genre = GENRES[family]
        second = GENRES[(family + 1 + rng.randrange(2)) % len(GENRES)]
        rows.append({
            "item_id": str(1000 + i),
            "title": f"The {word.title()} {rng.choice(WORDS).title()} {i}",
            "description": f"A story of the {word} and the {rng.choice(WORDS)}.",
            "categories": f"{genre}|{second}",
            "year": 1950 + family * 8 + rng.randrange(5),
            "studio": f"Studio {family}",
        })
    items = pd.DataFrame(rows)
    items_path = directory / "items.csv"
    items.to_csv(items_path, index=False)
    if not with_interactions:
        return CatalogFiles(items_path)
    interactions = []
    for user in range(n_users):
        family = user % 8
        liked = [i for i in range(n_items) if i % 8 == family]
        others = [i for i in range(n_items) if i % 8 != family]
        for t, i in enumerate(rng.sample(liked, min(6, len(liked))) + rng.sample(others, 2)):
            interactions.append({"user_id": f"u{user}", "item_id": str(1000 + i),
                                 "rating": 5.0 if i % 8 == family else 2.0, "timestamp": 1_600_000_000 + t})
    interactions_path = directory / "interactions.csv"
    pd.DataFrame(interactions).to_csv(interactions_path, index=False)
    return CatalogFiles(items_path, interactions_path)


@pytest.fixture(scope="session")
def small_catalog(tmp_path_factory) -> CatalogFiles:
    return make_catalog(tmp_path_factory.mktemp("catalog"))


@pytest.fixture(scope="session")
def built_data_dir(tmp_path_factory, small_catalog) -> Path:
    """A data dir with one published index of the small catalog, shared read-only by many tests."""
    data_dir = tmp_path_factory.mktemp("data")
    build_and_publish(IndexStore(data_dir / "indexes"), small_catalog)
    return data_dir


def make_app(data_dir: Path, **overrides):
    config = {"TESTING": True, "DATA_DIR": data_dir, "SECRET_KEY": "test-secret", "ADMIN_TOKEN": "test-admin-token",
              "RELOAD_INTERVAL_SECONDS": 0.05}
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app(built_data_dir):
    return make_app(built_data_dir)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def model(app):
    return app.extensions["model_holder"].model


@pytest.fixture(autouse=True)
def fresh_throttle():
    """The in-process fallback of the attempt limiter: no test may inherit another's failed attempts."""
    from web.auth import ingest_limiter, limiter

    for bucket in (limiter, ingest_limiter):
        bucket.local.clear()
    yield
    for bucket in (limiter, ingest_limiter):
        bucket.local.clear()


@pytest.fixture
def celery_app():
    """A Celery app on an in-memory broker and result store, for tests that queue without Redis."""
    import celery

    return celery.Celery("t", broker="memory://", backend="cache+memory://")


@pytest.fixture
def sent(celery_app, monkeypatch):
    """Every task sent, recorded on the way to the in-memory broker."""
    calls = []
    original = celery_app.send_task

    def record(name, *args, **kwargs):
        calls.append({"name": name, **kwargs})
        return original(name, *args, **kwargs)
    monkeypatch.setattr(celery_app, "send_task", record)
    return calls
