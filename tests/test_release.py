"""A release is an index version plus the catalog state it was built from (issue 22, problem 1).

A rollback after a replace upload used to serve an empty site: the store still listed every item of
the older version as removed, so every answer hid them. Here the worker's tasks run eagerly in the
worker's own app and a web app on the same data dir and database answers, as two processes would.
"""

from __future__ import annotations

import time
import uuid

import fakeredis
import pandas as pd
import pytest

import worker.tasks
from recommender.catalog.sources import ActiveCatalog, CatalogFiles, UploadStore
from recommender.index_store import IndexStore
from recommender.layout import CATALOG_SNAPSHOT_FILE
from recommender.settings import Settings
from recommender.store import Store, StoreUnavailable
from recommender.store.release import serve_release
from tests.helpers.apps import make_app
from tests.helpers.catalogs import make_catalog
from tests.helpers.live_app import ADMIN_HEADERS
from tests.helpers.store_databases import database_url
from tests.test_admin import sign_in
from worker.app import create_worker_app
from worker.queue import REBUILD_TASK, RESTORE_CATALOG_TASK, ROLLBACK_TASK, JobQueue

SERVED_WITHIN_S = 5.0
HIDDEN_ID = "1003"  # hidden in the store before the first version is built


def other_catalog(directory, source: CatalogFiles) -> CatalogFiles:
    """A replacement catalog sharing no item id (and no title) with `source`."""
    directory.mkdir(parents=True, exist_ok=True)
    items = pd.read_csv(source.items).assign(item_id=lambda f: "b" + f.item_id.astype(str),
                                             title=lambda f: "Zebra " + f.title)
    interactions = pd.read_csv(source.interactions).assign(item_id=lambda f: "b" + f.item_id.astype(str))
    items.to_csv(directory / "items.csv", index=False)
    interactions.to_csv(directory / "interactions.csv", index=False)
    return CatalogFiles(directory / "items.csv", directory / "interactions.csv")


@pytest.fixture(params=("sqlite", "postgresql"))
def deployment(request, tmp_path, celery_app):
    """A worker app and a web app over one data dir and one store, the store holding catalog A."""
    with database_url(request.param, tmp_path) as (url, _):
        url = url or f"sqlite:///{tmp_path / 'store.db'}"
        data_dir = tmp_path / "data"
        files = make_catalog(tmp_path / "a", n_items=60)
        ActiveCatalog(data_dir / "catalog").replace_with(files)
        settings = Settings(data_dir=data_dir, redis_url="redis://unused", secret_key="s", admin_token="t",
                            database_url=url)
        worker_app = create_worker_app(settings, {"task_always_eager": True, "result_backend": "cache+memory://"})
        queue = JobQueue(fakeredis.FakeRedis(decode_responses=True), worker_app.extensions["celery"], "t:")
        store = Store.open(url, data_dir)

        def run(name: str, **kwargs):
            with worker_app.app_context():
                result = worker_app.extensions["celery"].tasks[name].apply(kwargs=kwargs, task_id=str(uuid.uuid4()))
            assert result.successful(), result.result
            return result.result
        webs = []

        def web():
            webs.append(make_app(data_dir, DATABASE_URL=url))
            return webs[-1]
        run.data_dir, run.files, run.store, run.url, run.web = data_dir, files, store, url, web
        original = worker.tasks.job_queue
        worker.tasks.job_queue = lambda: queue
        try:
            yield run
        finally:
            worker.tasks.job_queue = original
            store.engine.dispose()
            worker_app.extensions["store_of_record"].close()
            for app in webs:
                app.extensions["store_of_record"].close()


def upload(run, files: CatalogFiles) -> str:
    upload_id, directory = UploadStore(run.data_dir / "uploads").new()
    for path in (files.items, files.interactions):
        (directory / path.name).write_bytes(path.read_bytes())
    return run(REBUILD_TASK, upload_id=upload_id, mode="replace")["index_version"]


def served_again(web, item_id: str, deadline: float) -> dict:
    """Poll as the web process's watcher does until item_id is answered everywhere; returns the answers."""
    client, holder = web.test_client(), web.extensions["model_holder"]
    while True:
        holder.watch_once()
        similar = client.get(f"/api/items/{item_id}/similar?k=5")
        page, search = client.get(f"/items/{item_id}"), client.get("/api/search?q=river")
        answers = {"similar": similar.status_code, "page": page.status_code,
                   "search": [r["item_id"] for r in search.get_json()["results"]] if search.status_code == 200 else []}
        if (answers["similar"], answers["page"]) == (200, 200) and answers["search"] or time.monotonic() > deadline:
            return answers | {"panel": similar.get_json()}
        time.sleep(0.05)


def test_rollback_after_a_replace_upload_serves_that_versions_catalog_again(deployment, tmp_path):
    run, store = deployment, deployment.store
    store.import_files_once(run.files.items.parent)
    store.put_item(HIDDEN_ID, {"title": "The River Hidden", "hidden": True})
    first = run(REBUILD_TASK)["index_version"]
    web = run.web()
    upload(run, other_catalog(tmp_path / "b", run.files))
    web.extensions["model_holder"].watch_once()
    assert web.test_client().get("/api/items/1000/similar").status_code == 404, "catalog A is still served"
    served = web.test_client().get("/api/admin/index", headers=ADMIN_HEADERS).get_json()["catalog"]
    assert served["version"] != first and served["store_matches"] is True, "the upload's version and store disagree"

    started = time.monotonic()
    restored = run(ROLLBACK_TASK, version=first)
    answers = served_again(web, "1000", started + SERVED_WITHIN_S)
    elapsed = time.monotonic() - started

    assert (answers["similar"], answers["page"]) == (200, 200), answers
    assert answers["search"] and all(not i.startswith("b") for i in answers["search"]), answers
    assert len(answers["panel"]["results"]) == 5 and answers["panel"]["index_version"] == first
    assert elapsed < SERVED_WITHIN_S, elapsed
    assert IndexStore(run.data_dir / "indexes").current_version() == first
    assert restored["catalog"]["restored_from"] == first and restored["catalog"]["removed"] == 60
    hidden = store.get_item(HIDDEN_ID)
    assert hidden is not None and hidden["hidden"], "the item hidden when the version was built is hidden again"
    assert store.get_item("b1000") is None, "the replacement's items are gone with it"
    assert store.get_item("1001")["studio"] == "Studio 1", "attributes come back as they were"
    _, removed = store.removed_ids()
    assert HIDDEN_ID in removed and not any(str(1000 + i) in removed for i in range(60) if str(1000 + i) != HIDDEN_ID)
    summary = web.test_client().get("/api/admin/index", headers=ADMIN_HEADERS).get_json()
    assert summary["catalog"]["version"] == first and summary["catalog"]["store_matches"] is True, summary["catalog"]
    assert (summary["catalog"]["item_count"], summary["catalog"]["hidden_items"]) == (59, 1), summary["catalog"]
    browser = web.test_client()
    sign_in(browser, web)
    card = " ".join(browser.get("/admin/index-card").get_data(as_text=True).split())
    assert f"version <code>{first}</code>'s own: 59 items, 1 more hidden; the store holds this catalog" in card
    assert "(the same catalog)" in card and "Restore this version" not in card


def test_a_rollback_the_store_refuses_changes_neither_what_is_served_nor_what_is_stored(deployment, tmp_path,
                                                                                           monkeypatch):
    run, store = deployment, deployment.store
    store.import_files_once(run.files.items.parent)
    first = run(REBUILD_TASK)["index_version"]
    second = upload(run, other_catalog(tmp_path / "b", run.files))
    index = IndexStore(run.data_dir / "indexes")

    def refuse(*args, **kwargs):
        raise OSError("disk trouble while switching")
    monkeypatch.setattr(worker.tasks.IndexStore, "rollback", refuse)
    with pytest.raises(AssertionError):
        run(ROLLBACK_TASK, version=first)
    assert index.current_version() == second
    assert store.get_item("b1000") is not None and store.get_item("1000") is None, "the store was written anyway"


class CommitFails:
    """A store whose restore writes and lets the switch run, then cannot commit."""

    def restore_release(self, frame, version, switch):
        switch()
        raise StoreUnavailable("the database went away before the commit")


def test_a_commit_that_fails_after_the_switch_switches_current_back(deployment, tmp_path):
    run = deployment
    run.store.import_files_once(run.files.items.parent)
    first = run(REBUILD_TASK)["index_version"]
    second = upload(run, other_catalog(tmp_path / "b", run.files))
    index = IndexStore(run.data_dir / "indexes")
    with pytest.raises(StoreUnavailable):
        serve_release(index, CommitFails(), first)
    assert index.current_version() == second, "served a version whose catalog was never stored"


def test_restoring_only_the_catalog_leaves_the_served_version(deployment, tmp_path):
    run, store = deployment, deployment.store
    store.import_files_once(run.files.items.parent)
    first = run(REBUILD_TASK)["index_version"]
    second = upload(run, other_catalog(tmp_path / "b", run.files))
    written = run(RESTORE_CATALOG_TASK, version=first)["written"]
    assert written["created"] == 60 and written["removed"] == 60
    assert IndexStore(run.data_dir / "indexes").current_version() == second
    assert store.get_item("1000") is not None and store.get_item("b1000") is None


def test_a_version_kept_without_its_catalog_rolls_back_the_index_and_says_so(deployment, tmp_path):
    run, store = deployment, deployment.store
    store.import_files_once(run.files.items.parent)
    first = run(REBUILD_TASK)["index_version"]
    upload(run, other_catalog(tmp_path / "b", run.files))
    index = IndexStore(run.data_dir / "indexes")
    (index.version_path(first) / CATALOG_SNAPSHOT_FILE).unlink()
    restored = run(ROLLBACK_TASK, version=first)
    assert index.current_version() == first and restored["catalog"] is None
    assert "before catalogs were kept" in restored["catalog_not_restored"]
    assert store.get_item("b1000") is not None, "the store was changed without a catalog to restore"
