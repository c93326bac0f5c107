"""Upload modes say what happens to events (issue 22, problem 7): a replace upload with an interactions
file replaces the interactions of earlier uploads (the held-out ratings of an evaluation split too);
events from the events API stay unless the admin asks to clear them too; a merge adds."""

from __future__ import annotations

import pandas as pd
from alembic import command
from sqlalchemy import case, func, select, text

from recommender.catalog.sources import UploadStore
from recommender.store import Store, make_engine
from recommender.store.engine import writer
from recommender.store.migrate import _config, upgrade
from recommender.store.tables import events
from tests import test_admin, test_release
from tests.helpers import store_databases
from tests.helpers.catalogs import make_catalog
from tests.test_admin import bearer, sign_in, upload_data
from tests.test_release import other_catalog
from worker.queue import REBUILD_TASK

# fixtures shared with the admin and release tests
backend, db_url = store_databases.backend, store_databases.db_url
admin_app, browser, data_dir, queue = test_admin.admin_app, test_admin.browser, test_admin.data_dir, test_admin.queue
deployment = test_release.deployment

API_EVENTS = [{"event_id": f"api-{n}", "user_id": "visitor", "item_id": "1001", "type": "view"} for n in range(3)]


def events_by_origin(store: Store) -> dict[str, int]:
    """Stored events counted by where they came from, told by their ids (uploads hash theirs as import-...)."""
    origin = case((events.c.event_id.like("import-%"), "upload"), else_="api")
    with store.engine.connect() as connection:
        return dict(connection.execute(select(origin, func.count()).group_by(origin)).all())


def replace_upload(run, files, clear_events: bool = False) -> dict:
    """Upload `files` (items and interactions) in replace mode through the worker's rebuild task."""
    upload_id, directory = UploadStore(run.data_dir / "uploads").new()
    for path in (files.items, files.interactions):
        (directory / path.name).write_bytes(path.read_bytes())
    return run(REBUILD_TASK, upload_id=upload_id, mode="replace", **({"clear_events": True} if clear_events else {}))


def test_a_replace_upload_replaces_earlier_uploads_interactions_and_keeps_api_events(deployment, tmp_path):
    run, store = deployment, deployment.store
    store.import_files_once(run.files.items.parent)
    earlier = len(pd.read_csv(run.files.interactions))
    store.add_events(API_EVENTS)
    assert events_by_origin(store) == {"upload": earlier, "api": 3}

    replacement = other_catalog(tmp_path / "b", run.files)
    written = replace_upload(run, replacement)["written"]
    new = len(pd.read_csv(replacement.interactions))
    assert events_by_origin(store) == {"upload": new, "api": 3}, "earlier uploads' ratings survived a replace"
    assert written["events_removed"] == earlier and written["events_added"] == new

    written = replace_upload(run, run.files, clear_events=True)["written"]
    assert written["events_removed"] == new + 3
    assert events_by_origin(store) == {"upload": earlier}, "'also clear events' kept the API's events"


def test_a_merge_adds_the_files_interactions_and_removes_none(deployment, tmp_path):
    run, store = deployment, deployment.store
    store.import_files_once(run.files.items.parent)
    store.add_events(API_EVENTS)
    catalog = other_catalog(tmp_path / "b", run.files)
    written = store.merge_catalog(pd.read_csv(catalog.items), pd.read_csv(catalog.interactions))
    assert written["events_removed"] == 0
    assert events_by_origin(store)["api"] == 3
    assert events_by_origin(store)["upload"] == 2 * len(pd.read_csv(run.files.interactions))


def test_the_migration_tells_uploaded_events_from_api_events(db_url):
    engine = make_engine(*db_url)
    config = _config()
    with writer(engine).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    with writer(engine).begin() as connection:
        connection.execute(text("INSERT INTO events (event_id, user_id, item_id, type, value, ts, received_at) "
                                "VALUES ('import-abc', 'u', 'i', 'rating', 4, 1, 1), "
                                "('e-1', 'u', 'i', 'view', NULL, 1, 1), (NULL, 'u', 'i', 'click', NULL, 1, 1)"))
    upgrade(engine)
    with engine.connect() as connection:
        origins = dict(connection.execute(select(events.c.type, events.c.origin)).all())
    assert origins == {"rating": "upload", "view": "api", "click": "api"}
    engine.dispose()


def test_the_api_sends_clear_events_and_refuses_it_with_merge_or_a_bad_value(browser, admin_app, queue, sent,
                                                                              tmp_path):
    files = make_catalog(tmp_path / "good", n_items=24, n_users=8, with_interactions=False)

    def post(**fields):
        data = upload_data(None, items=(files.items.read_bytes(), "items.csv")) | fields
        return browser.post("/api/admin/catalog", headers=bearer(admin_app), content_type="multipart/form-data",
                            data=data)
    assert post(clear_events="true").status_code == 202
    assert sent[-1]["kwargs"]["clear_events"] is True and sent[-1]["kwargs"]["mode"] == "replace"
    assert post().status_code == 202 and "clear_events" not in sent[-1]["kwargs"]
    sent_before = len(sent)
    for fields in ({"clear_events": "true", "mode": "merge"}, {"clear_events": "maybe"}):
        response = post(**fields)
        assert response.status_code == 400 and "clear_events" in response.get_data(as_text=True), fields
    assert len(sent) == sent_before, "a refused upload was queued"


def test_the_upload_form_says_what_happens_to_events(browser, admin_app):
    sign_in(browser, admin_app)
    page = browser.get("/admin").get_data(as_text=True)
    assert 'name="clear_events"' in page and "keeps the events sent through the events API" in " ".join(page.split())
