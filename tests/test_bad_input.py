"""Bad input through the Flask test client: hostile catalog uploads to the admin API, odd query strings
and item ids on every surface (page, htmx fragment, JSON), and catalog text with markup, which must be
shown as text everywhere. The job queue is fakeredis with an in-memory Celery, so no Redis is needed."""

from __future__ import annotations

import csv
import gzip
import html
import io
import re
import time
import zipfile
from urllib.parse import urlsplit

import celery
import fakeredis
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from markupsafe import escape

from recommender.catalog.csv_export import safe_csv_text
from recommender.catalog.load import load_items
from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.apps import make_app
from tests.helpers.catalogs import make_catalog
from worker.queue import JobQueue

HX = {"HX-Request": "true"}
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
RAW_MARKUP = ("<script>alert(1)", "<img src=x")


# -- fixtures and helpers -----------------------------------------------------------------------

@pytest.fixture
def data_dir(tmp_path, small_catalog):
    """A private data dir with one published version, so uploads cannot leak into other tests."""
    directory = tmp_path / "data"
    build_and_publish(IndexStore(directory / "indexes"), small_catalog)
    return directory


def with_fake_queue(app):
    celery_app = celery.Celery("t", broker="memory://", backend="cache+memory://")
    app.extensions["job_queue"] = JobQueue(fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True),
                                           celery_app, "t:")
    return app


@pytest.fixture
def upload_app(data_dir):
    return with_fake_queue(make_app(data_dir, REDIS_URL="redis://fake"))


def bearer(app) -> dict:
    return {"Authorization": f"Bearer {app.extensions['settings'].admin_token}"}


def upload(app, items: tuple[bytes, str], interactions: tuple[bytes, str] | None = None):
    data = {"items": (io.BytesIO(items[0]), items[1])}
    if interactions:
        data["interactions"] = (io.BytesIO(interactions[0]), interactions[1])
    return app.test_client().post("/api/admin/catalog", headers=bearer(app), content_type="multipart/form-data",
                                  data=data)


def store_state(app) -> tuple[str | None, list[str]]:
    store = app.extensions["index_store"]
    return store.current_version(), sorted(p.name for p in store.versions_dir.iterdir())


def uploads_left(app) -> list:
    uploads = app.extensions["settings"].data_dir / "uploads"
    return list(uploads.iterdir()) if uploads.exists() else []


def assert_refused_untouched(app, before):
    """A refused upload changes nothing: same served version, no saved files, no job."""
    assert store_state(app) == before
    assert uploads_left(app) == [], "the refused upload was left under DATA_DIR/uploads"
    assert app.extensions["job_queue"].recent() == []


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def zip_of_zeros(megabytes: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("items.csv", b"\0" * (megabytes * 2**20))
    return buffer.getvalue()


def binary_id_parquet() -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"item_id": pa.array([b"\x00\xff", b"2"], pa.binary()), "title": ["One", "Two"]}), buffer)
    return buffer.getvalue()


GOOD = b"item_id,title\n1,One\n2,Two\n"

# (uploaded name, content, pattern the problem text must match, column the problem must name)
BAD_FILES = {
    "exe": ("catalog.exe", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, r"'\.exe'", None),
    "xlsx": ("catalog.xlsx", zip_of_zeros(0), r"'\.xlsx'", None),
    "no extension": ("catalog", GOOD, r"'none'", None),
    "latin-1": ("export.csv", "item_id,title\n1,Caf\u00e9 cr\u00e8me\n".encode("latin-1"), r"UTF-8.*line 2", None),
    "empty": ("export.csv", b"", r"empty", None),
    "header only": ("export.csv", b"item_id,title\n", r"no rows", None),
    "missing column": ("export.csv", b"item_id,name\n1,One\n", r"missing", "title"),
    "duplicate column": ("export.csv", b"item_id,title,title\n1,One,Uno\n", r"more than once", "title"),
    "million columns": ("export.csv", (",".join(f"c{i}" for i in range(1_000_000)) + "\n1\n").encode(),
                        r"too many columns", None),
    "100,000 cells on a data line": ("export.csv", b"item_id,title\n1,One\n" + b",".join([b"x"] * 100_000) + b"\n",
                                     r"more cells than the header", None),
    "long line": ("export.csv", b"item_id,title\n1," + b"t" * (2**20 + 1) + b"\n", r"longer than", None),
    "binary id column": ("export.parquet", binary_id_parquet(), r"text or whole numbers", "item_id"),
    "zip bomb as csv": ("export.csv", zip_of_zeros(10), r"zip", None),
    "gzip as csv": ("export.csv", gzip.compress(GOOD * 50, mtime=0), r"binary|UTF-8|compressed|gzip", None),
    "csv as parquet": ("export.parquet", GOOD, r"Parquet", None),
}


# -- uploads -------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_upload_is_422_naming_file_and_column_and_changes_nothing(upload_app, case):
    """Each kind of bad file is refused before anything is queued, with an error an operator can act on."""
    name, content, pattern, column = BAD_FILES[case]
    before = store_state(upload_app)
    started = time.monotonic()
    response = upload(upload_app, (content, name))
    elapsed = time.monotonic() - started
    assert response.status_code == 422, (response.status_code, response.get_data(as_text=True)[:300])
    errors = response.get_json()["errors"]
    assert errors, "422 without a list of problems"
    texts = " | ".join(e["text"] for e in errors)
    assert all(e["file"] == name for e in errors) and name in texts, texts
    assert re.search(pattern, texts, re.I), texts
    if column:
        assert any(e["column"] == column for e in errors), errors
    assert elapsed < 10, f"refusing {case} took {elapsed:.1f} s"
    assert_refused_untouched(upload_app, before)


def test_bad_interactions_file_is_named_as_uploaded(upload_app):
    """Problems in the second file name that file, not the items file nor the saved copy's name."""
    before = store_state(upload_app)
    response = upload(upload_app, (GOOD, "items.csv"), ("user_id,item_id\nu1,1\n".encode("utf-16"), "likes.csv"))
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert errors and all(e["file"] == "likes.csv" for e in errors), errors
    assert_refused_untouched(upload_app, before)


FORMULAS = ["=cmd|' /C calc'!A0", "@SUM(1)", "+1+2", "=HYPERLINK(\"http://evil.example\",\"x\")",
            " =1+1", "\t@SUM(1)"]


@pytest.mark.parametrize("column", ["title", "studio"])
@pytest.mark.parametrize("value", FORMULAS, ids=repr)
def test_formula_like_cells_are_accepted_and_neutralised_on_export(upload_app, value, column):
    """Real catalogs have titles such as `-30-` and `+1 -1`, so formula-like text is accepted as it is,
    in a required column and in an extra attribute column; CSV injection is handled where Likewise writes
    CSV: write_safe_csv gives the cell a leading apostrophe so a spreadsheet shows it as text."""
    rows = [["item_id", "title", "studio"], ["1", "Alpha", "North"], ["2", "Beta", "South"]]
    rows[2][rows[0].index(column)] = value
    response = upload(upload_app, (csv_bytes(rows), "shop.csv"))
    assert response.status_code == 202, response.get_data(as_text=True)[:300]
    (saved,) = uploads_left(upload_app)
    items = load_items(saved / "items.csv")
    kept = value.strip() if column == "title" else value  # titles are stripped, extra columns kept verbatim
    assert items.loc[1, column] == kept
    exported = list(csv.reader(io.StringIO(safe_csv_text(items), newline="")))
    assert exported[2][exported[0].index(column)] == "'" + kept


def test_upload_limit_counts_both_files(data_dir):
    """MAX_CONTENT_LENGTH caps the whole request: a small items file with a big interactions file is 413."""
    app = with_fake_queue(make_app(data_dir, REDIS_URL="redis://fake", MAX_CONTENT_LENGTH=10_000))
    before = store_state(app)
    items = b"item_id,title\n" + b"".join(b"%d,Title %d\n" % (i, i) for i in range(100))
    interactions = b"user_id,item_id\n" + b"".join(b"u%d,%d\n" % (i, i % 100) for i in range(1500))
    assert len(items) < app.extensions["settings"].max_upload_bytes < len(items) + len(interactions)
    response = upload(app, (items, "items.csv"), (interactions, "interactions.csv"))
    assert response.status_code == 413 and response.is_json and response.get_json()["error"]
    assert_refused_untouched(app, before)


# -- odd queries and ids on every surface --------------------------------------------------------------

@pytest.fixture(scope="module")
def plain_app(tmp_path_factory):
    """TESTING off, so an unhandled error is answered as a 500 (as in production) instead of raised."""
    root = tmp_path_factory.mktemp("odd")
    build_and_publish(IndexStore(root / "data" / "indexes"), make_catalog(root / "catalog"))
    return make_app(root / "data", TESTING=False)


def assert_handled(client, response, path: str):
    """Never a 500, never a traceback, no markup echoed into HTML; a redirect (Werkzeug merging the
    slashes of `//..`) stays on this site and leads to an answer that obeys the same rules; /api answers JSON."""
    if 300 <= response.status_code < 400:
        target = urlsplit(response.headers["Location"])
        assert target.netloc in ("", "localhost"), response.headers["Location"]
        path = target.path
        response = client.get(target.path + ("?" + target.query if target.query else ""))
    body = response.get_data(as_text=True)
    assert response.status_code < 500, (path, response.status_code, body[:300])
    assert "Traceback" not in body, path
    if path.startswith("/api/"):
        assert response.is_json, path
    else:
        assert not any(raw in body for raw in RAW_MARKUP), f"markup reflected unescaped on {path}"


ODD_IDS = ["/..", "%2F..", "%00", "1000%00", "%2e%2e%2f", "..%2f..%2fetc%2fpasswd", "%ff%fe", "x" * 10_000,
           "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "%0d%0aSet-Cookie:%20a=1", "no-such-item", "%20", "1000%20"]
ITEM_SURFACES = [("/items/{id}", {}), ("/items/{id}/similar", {}), ("/items/{id}/similar", HX),
                 ("/api/items/{id}", {}), ("/api/items/{id}/similar", {})]
ITEM_SURFACE_IDS = ["page", "panel-page", "panel-fragment", "api-item", "api-similar"]


@pytest.mark.parametrize("surface,headers", ITEM_SURFACES, ids=ITEM_SURFACE_IDS)
@pytest.mark.parametrize("item_id", ODD_IDS, ids=lambda v: v[:20])
def test_odd_item_ids_are_answered_not_crashed(plain_app, surface, headers, item_id):
    path = surface.format(id=item_id)
    client = plain_app.test_client()
    assert_handled(client, client.get(path, headers=headers), path)


ODD_QUERIES = {
    "100 KB q": "q=" + "a" * 100_000,
    "percent-encoded non-UTF-8": "q=%ff%fe%00",
    "markup": "q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    "k=-1": "k=-1", "k=10**9": f"k={10**9}", "k=abc": "k=abc", "k=1.5": "k=1.5", "k=%ff": "k=%ff",
    "k=superscript two": "k=%C2%B2", "k=fullwidth nine": "k=%EF%BC%99", "k=arabic-indic ten": "k=%D9%A1%D9%A0",
    "k=0x10": "k=0x10", "k repeated": "k=5&k=abc",
    "year_min=superscript": "year_min=%C2%B2", "year_max=-1": "year_max=-1",
    "years reversed": "year_min=2000&year_max=1990",
    "10 KB category": "category=" + "c" * 10_000, "many excludes": "exclude=" + ",".join(map(str, range(500))),
    "exclude with NUL": "exclude=%00,1001", "category markup": "category=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
}
QUERY_SURFACES = [("/search", {}), ("/search", HX), ("/api/search", {}), ("/items/1000", {}),
                  ("/items/1000/similar", {}), ("/items/1000/similar", HX), ("/api/items/1000/similar", {})]
QUERY_SURFACE_IDS = ["search-page", "search-fragment", "api-search", "item-page", "panel-page", "panel-fragment",
                     "api-similar"]


@pytest.mark.parametrize("surface,headers", QUERY_SURFACES, ids=QUERY_SURFACE_IDS)
@pytest.mark.parametrize("case", list(ODD_QUERIES))
def test_odd_query_strings_are_answered_not_crashed(plain_app, surface, headers, case):
    path = f"{surface}?{ODD_QUERIES[case]}"
    client = plain_app.test_client()
    assert_handled(client, client.get(path, headers=headers), path)


@pytest.mark.parametrize("item_id,k", [("x" * 10_000, "5"), ("\x00", "5"), ("../..", "5"), ("1000", "\u00b2"),
                                       ("1000", "1" * 50), (SCRIPT, "5")], ids=repr)
def test_odd_form_posts_are_answered_not_crashed(plain_app, item_id, k):
    client = plain_app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/items/similar").get_data(as_text=True))
    assert token, "no csrf token on the form"
    for headers in ({}, HX):
        response = client.post("/items/similar", data={"item_id": item_id, "k": k, "csrf_token": token.group(1)},
                               headers=headers)
        assert_handled(client, response, "/items/similar")
        assert 400 <= response.status_code < 500


# -- catalog text with markup is text everywhere ------------------------------------------------------

@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """Family 0 of the generated catalog (ids 1000, 1008, ...) shares two categories made of markup and
    an extra column of markup; item 1000 also has markup in its title and description."""
    root = tmp_path_factory.mktemp("hostile")
    files = make_catalog(root / "catalog")
    items = pd.read_csv(files.items, dtype=str)
    family = items["item_id"].astype(int).sub(1000) % 8 == 0
    items.loc[family, "categories"] = f"{SCRIPT}|{IMG}|" + items.loc[family, "categories"]
    items.loc[family, "studio"] = f"{IMG} {SCRIPT}"
    items.loc[items["item_id"] == "1000", "title"] = f"{SCRIPT} River {IMG}"
    items.loc[items["item_id"] == "1000", "description"] = f"{IMG} & {SCRIPT}"
    items.to_csv(files.items, index=False)
    build_and_publish(IndexStore(root / "data" / "indexes"), files)
    app = make_app(root / "data")
    model = app.extensions["model_holder"].model
    seed = next(i for i in ("1008", "1016", "1024", "1032") if "1000" in
                [r.item_id for r in model.get_similar_items(i, 20)])
    return {"app": app, "model": model, "seed": seed}


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def assert_as_text(body: str, *values: str):
    """No markup got through, and each value is there in its escaped form (so it was really shown)."""
    for raw in RAW_MARKUP:
        assert raw not in body, f"unescaped {raw!r}"
    for value in values:
        assert str(escape(value)) in body, f"{value!r} is not shown (escaped) at all"


def test_item_page_shows_title_description_categories_and_attributes_as_text(hostile):
    item = hostile["model"].get_item("1000")
    body = text(hostile["app"].test_client().get("/items/1000"))
    assert_as_text(body, item.title, item.description, SCRIPT, IMG, item.attributes["studio"])


@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "fragment"])
def test_search_results_show_highlighted_title_and_categories_as_text(hostile, headers):
    body = text(hostile["app"].test_client().get("/search?q=river", headers=headers))
    assert_as_text(body, SCRIPT, IMG)
    plain = html.unescape(re.sub(r"</?mark>", "", body))
    assert hostile["model"].get_item("1000").title in plain, "the hostile title is not among the results"
    assert "<mark>" in body


@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "fragment"])
def test_similar_panel_cards_why_lines_and_filters_show_markup_as_text(hostile, headers):
    """Cards, their why lines (shared categories made of markup) and the category filter boxes."""
    seed, model = hostile["seed"], hostile["model"]
    body = text(hostile["app"].test_client().get(f"/items/{seed}/similar?k=20", headers=headers))
    results = model.get_similar_items(seed, 20)
    whys = [r.why.summary for r in results if r.why and SCRIPT in r.why.summary]
    assert whys, "no why line mentions the shared markup category: the fixture does not exercise why lines"
    assert_as_text(body, model.get_item("1000").title, SCRIPT, IMG, *whys)


def test_similar_panel_reflects_markup_filters_as_text(hostile):
    """Filter values typed into the URL are echoed into the form as text."""
    seed = hostile["seed"]
    query = {"category": SCRIPT, "exclude": IMG, "k": "20"}
    body = text(hostile["app"].test_client().get(f"/items/{seed}/similar", query_string=query, headers=HX))
    assert_as_text(body, SCRIPT, IMG)


def test_similar_by_id_table_shows_titles_as_text(hostile):
    client = hostile["app"].test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text(client.get("/items/similar"))).group(1)
    for item_id in ("1000", hostile["seed"]):
        for headers in ({}, HX):
            body = text(client.post("/items/similar", data={"item_id": item_id, "k": "20", "csrf_token": token},
                                    headers=headers))
            assert_as_text(body, hostile["model"].get_item("1000").title)


def test_json_carries_markup_as_plain_text(hostile):
    """JSON is data: the exact strings, never HTML-escaped, served as application/json with nosniff."""
    client = hostile["app"].test_client()
    item = client.get("/api/items/1000")
    assert item.mimetype == "application/json" and item.headers["X-Content-Type-Options"] == "nosniff"
    found = item.get_json()["item"]
    assert found["title"] == f"{SCRIPT} River {IMG}" and found["description"] == f"{IMG} & {SCRIPT}"
    assert SCRIPT in found["categories"] and IMG in found["categories"]
    assert found["attributes"]["studio"] == f"{IMG} {SCRIPT}"
    similar = client.get(f"/api/items/{hostile['seed']}/similar?k=20")
    results = similar.get_json()["results"]
    assert any(r["why"] and SCRIPT in r["why"]["categories"] and SCRIPT in r["why"]["summary"] for r in results)
    assert "&lt;" not in item.get_data(as_text=True) + similar.get_data(as_text=True)


def test_upload_errors_page_shows_hostile_file_and_column_names_as_text(data_dir):
    """A file name and a column name made of markup come back in the error list as text."""
    app = with_fake_queue(make_app(data_dir, REDIS_URL="redis://fake"))
    client = app.test_client()
    page = client.get("/admin", headers=bearer(app)).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    content = f"item_id,title,{SCRIPT},{SCRIPT}\n1,One,a,b\n".encode()
    for headers in ({}, HX):
        response = client.post("/admin/catalog", headers={**bearer(app), **headers},
                               content_type="multipart/form-data",
                               data={"csrf_token": token, "items": (io.BytesIO(content), f"{IMG}.csv")})
        assert response.status_code == 422
        assert_as_text(response.get_data(as_text=True), f"{IMG}.csv", SCRIPT)
    assert uploads_left(app) == []
