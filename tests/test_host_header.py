"""Issue 23 (high): a request's Host header never reaches what other clients get. Embed links in cached
answers come from LIKEWISE_PUBLIC_URL (required in production); development without it builds them from
the request's host, and such an answer is neither kept in the fragment cache nor shared (no ETag, no-store)."""

from __future__ import annotations

import re
import uuid

import pytest

from recommender.settings import ConfigError, settings_from_env
from tests.helpers.apps import make_app

EVIL_HOST = "evil.example"
PUBLIC_URL = "https://likewise.example"
POISONING_REQUESTS = 6
NORMAL_REQUESTS = 10
ORIGIN = re.compile(r'(?:href|src)="(https?://[^/"]+)/')


def embed_paths(item_id: str) -> list[str]:
    return [f"/embed/items/{item_id}/similar?x=1", f"/embed/items/{item_id}/similar?x=1&frame=1",
            "/embed/search?q=river"]


@pytest.fixture
def item_id(built_data_dir) -> str:
    holder = make_app(built_data_dir).extensions["model_holder"]
    return holder.model.popular(1)[0].item_id


def answers(app, path: str, host: str | None, count: int) -> list:
    client = app.test_client()
    headers = {"Host": host} if host else {}
    return [client.get(path, headers=headers) for _ in range(count)]


def link_origins(response) -> set[str]:
    return set(ORIGIN.findall(response.get_data(as_text=True)))


@pytest.mark.parametrize("tracking", [True, False], ids=["tracked", "untracked"])
@pytest.mark.parametrize("which", range(3), ids=["similar", "frame", "search"])
def test_a_poisoned_host_changes_nothing_a_normal_request_gets(built_data_dir, item_id, which, tracking):
    """Development without LIKEWISE_PUBLIC_URL: after poisoned requests, normal ones get the body and ETag of
    an app that never saw the poisoned Host, and no host-built answer is kept or offered to shared caches."""
    path = embed_paths(item_id)[which]
    clean = answers(make_app(built_data_dir, tracking=tracking), path, None, 1)[0]
    assert link_origins(clean) == {"http://localhost"}
    app = make_app(built_data_dir, tracking=tracking)
    for poisoned in answers(app, path, EVIL_HOST, POISONING_REQUESTS):
        assert poisoned.status_code == 200
        assert poisoned.headers["Cache-Control"] == "no-store" and "ETag" not in poisoned.headers
    for normal in answers(app, path, None, NORMAL_REQUESTS):
        assert EVIL_HOST not in normal.get_data(as_text=True)
        assert link_origins(normal) == link_origins(clean) and normal.headers.get("ETag") == clean.headers.get("ETag")
        if not tracking:  # tracked answers carry a new impression token each time
            assert normal.get_data() == clean.get_data()
        assert normal.headers["Cache-Control"] == "no-store"
    assert len(app.extensions["http_cache"]) == 0


def production_env(data_dir, **overrides) -> dict:
    env = {"LIKEWISE_ENV": "production", "LIKEWISE_DATA_DIR": str(data_dir), "SECRET_KEY": "s-" + uuid.uuid4().hex,
           "ADMIN_TOKEN": "t-" + uuid.uuid4().hex, "INGEST_TOKEN": "i-" + uuid.uuid4().hex,
           "LIKEWISE_PUBLIC_URL": PUBLIC_URL}
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


@pytest.mark.parametrize("value", [None, "", "  "], ids=["unset", "empty", "blank"])
def test_production_refuses_to_start_without_a_public_url(tmp_path, value):
    with pytest.raises(ConfigError) as raised:
        settings_from_env(production_env(tmp_path, LIKEWISE_PUBLIC_URL=value))
    assert "LIKEWISE_PUBLIC_URL" in str(raised.value) and "Host" in str(raised.value)
    assert settings_from_env(production_env(tmp_path)).public_url == PUBLIC_URL


def test_development_still_starts_without_a_public_url(tmp_path):
    settings = settings_from_env({"LIKEWISE_DATA_DIR": str(tmp_path)})
    assert not settings.production and settings.public_url == ""
