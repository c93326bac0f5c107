"""HTML pages and HTMX fragments through the Flask test client."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pandas as pd
import pytest

from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from tests.helpers.apps import make_app
from tests.helpers.catalogs import make_catalog

HX = {"HX-Request": "true"}
HX_RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
HOSTILE_TITLE = "<script>alert(1)</script> River <img src=x onerror=alert(2)>"
HOSTILE_ID = "1000"


def text(response) -> str:
    return response.get_data(as_text=True)


def current_version(app) -> str:
    version = IndexStore(app.extensions["settings"].data_dir / "indexes").current_version()
    assert version
    return version


def panel_cards(body: str) -> list[str]:
    """The item links inside the similar panel's list of cards."""
    match = re.search(r'<ol class="cards similar">(.*?)</ol>', body, re.S)
    assert match, "no list of similar items in the response"
    return re.findall(r'<h3><a href="/(?:items|r)/[^"]+" data-item-id="([^"]+)">', match.group(1))


def assert_full_page(body: str):
    assert "<html" in body and "</html>" in body


def assert_fragment(body: str):
    assert "<html" not in body and "<head" not in body


# -- home and search --------------------------------------------------------------------------------

def test_home_has_live_search_box(client):
    """The search box asks the server as you type, debounced, and drops stale requests."""
    response = client.get("/")
    assert response.status_code == 200
    body = text(response)
    assert_full_page(body)
    box = re.search(r'<input[^>]*name="q"[^>]*>', body, re.S)
    assert box, "no input named q"
    tag = box.group(0)
    assert 'hx-get="/search"' in tag
    trigger = re.search(r'hx-trigger="([^"]*)"', tag).group(1)
    assert "delay:300ms" in trigger
    assert "hx-sync=" in tag
    assert 'hx-target="#results"' in tag and 'id="results"' in body


def test_home_lists_popular_items(client, model):
    """The home page shows the most popular items as links to their pages."""
    body = text(client.get("/"))
    popular = model.popular(12)
    assert len(popular) == 12
    for item in popular:
        assert f'href="/items/{item.item_id}"' in body
        assert html.escape(item.title) in body


def test_search_full_page_and_fragment(client):
    """A plain request gets the whole page; htmx gets only the results; both say they vary on HX-Request."""
    full = client.get("/search?q=river")
    fragment = client.get("/search?q=river", headers=HX)
    assert full.status_code == fragment.status_code == 200
    assert_full_page(text(full))
    assert_fragment(text(fragment))
    for response in (full, fragment):
        assert "HX-Request" in response.headers.get("Vary", "")
        assert "<mark>River</mark>" in text(response)
    hits = re.findall(r'<li>\s*<a href="/items/', text(fragment))
    assert hits and len(hits) <= 20


def test_search_results_match_model(client, model):
    """The fragment lists the same items, in the same order, as the model's search."""
    expected = [r.item.item_id for r in model.search("river", 20)]
    body = text(client.get("/search?q=river", headers=HX))
    assert re.findall(r'<a href="/items/([^"]+)">\s*<span class="hit-title">', body) == expected


def test_history_restore_gets_full_page(client):
    """When htmx restores history it needs the whole page, not a fragment."""
    body = text(client.get("/search?q=river", headers=HX_RESTORE))
    assert_full_page(body)


def test_search_no_match(client):
    """A query that matches nothing says so, with the query shown back."""
    body = text(client.get("/search?q=zzzzqqq", headers=HX))
    assert "No titles match" in body and "zzzzqqq" in body


def test_query_cut_at_200_chars(client):
    """A very long query is cut to 200 characters before it is used or shown."""
    body = text(client.get("/search", query_string={"q": "a" * 250}))
    assert 'value="' + "a" * 200 + '"' in body
    assert "a" * 201 not in body


@pytest.mark.parametrize("query", ["%", '"', "'", "<script>alert(1)</script>", "東京物語", "x" * 5000, "\x00",
                                   "a\x00b", "{{7*7}}", "../../etc/passwd", "\ud7ff", " "])
@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "fragment"])
def test_hostile_queries_never_500(client, query, headers):
    """Odd or hostile queries get an ordinary answer."""
    response = client.get("/search", query_string={"q": query}, headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    body = text(response)
    assert "<script>alert(1)" not in body
    (assert_fragment if headers else assert_full_page)(body)


@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "fragment"])
def test_script_query_is_escaped(client, headers):
    """A query with markup is shown back as text, never as markup."""
    body = text(client.get("/search", query_string={"q": "<script>alert(1)</script>"}, headers=headers))
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_template_syntax_in_query_is_not_evaluated(client):
    """Jinja syntax typed into the box is text, not a template."""
    body = text(client.get("/search", query_string={"q": "{{7*7}}"}, headers=HX))
    assert "{{7*7}}" in body and ">49<" not in body


# -- item page and similar panel ------------------------------------------------------------------------

def test_item_page_has_lazy_panel_with_fallback(client, model):
    """The item page loads its similar items with htmx, with a plain link for browsers without it."""
    item = model.get_item("1000")
    response = client.get("/items/1000")
    assert response.status_code == 200
    body = text(response)
    assert_full_page(body)
    assert html.escape(item.title) in body
    panel = re.search(r'<section id="similar-panel"[^>]*>', body, re.S).group(0)
    assert re.search(r'hx-get="/items/1000/similar(\?[^"]*)?"', panel)
    assert re.search(r'<a href="/items/1000/similar(\?[^"]*)?">', body)


def test_similar_fragment_has_k_cards_and_version(app, client, model):
    """The panel fragment lists the model's k most similar items and names the index version."""
    response = client.get("/items/1000/similar", headers=HX)
    assert response.status_code == 200
    body = text(response)
    assert_fragment(body)
    assert body.lstrip().startswith('<section id="similar-panel"')
    expected = [r.item_id for r in model.get_similar_items("1000", 10)]
    assert panel_cards(body) == expected
    assert response.headers["X-Index-Version"] == current_version(app)
    assert "HX-Request" in response.headers.get("Vary", "")


@pytest.mark.parametrize("k", [5, 10, 20])
def test_similar_k_respected(client, k):
    """The k chosen in the panel's select is the number of cards shown."""
    body = text(client.get(f"/items/1000/similar?k={k}", headers=HX))
    cards = panel_cards(body)
    assert len(cards) == k and "1000" not in cards
    assert re.search(rf'<option value="{k}"\s+selected>', body)


def test_similar_without_htmx_is_full_page(app, client, model):
    """Without htmx (the fallback link) the whole item page comes back, results included."""
    response = client.get("/items/1000/similar?k=5")
    assert response.status_code == 200
    body = text(response)
    assert_full_page(body)
    assert html.escape(model.get_item("1000").title) in body
    assert len(panel_cards(body)) == 5
    assert response.headers["X-Index-Version"] == current_version(app)


def test_similar_history_restore_is_full_page(client):
    """History restore of a panel URL gets the whole page."""
    body = text(client.get("/items/1000/similar?k=5", headers=HX_RESTORE))
    assert_full_page(body)
    assert len(panel_cards(body)) == 5


@pytest.mark.parametrize("k", ["abc", "0", "101", "-1", str(10**9), "1.5", "1e3"])
@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "fragment"])
def test_bad_k_is_400(client, k, headers):
    """k outside 1..100 or not a number is a 400 that says what is wrong with k."""
    response = client.get("/items/1000/similar", query_string={"k": k}, headers=headers)
    assert response.status_code == 400
    body = text(response)
    assert re.search(r"\bk\b", body.split("<body>")[-1])
    (assert_fragment if headers else assert_full_page)(body)


def test_bad_k_on_item_page_is_400(client):
    """The item page validates k too."""
    assert client.get("/items/1000?k=abc").status_code == 400


def test_unknown_item_page_404(client):
    """An unknown item is a 404 page that names the id."""
    response = client.get("/items/no-such-item")
    assert response.status_code == 404
    body = text(response)
    assert_full_page(body)
    assert "no-such-item" in body


def test_unknown_item_fragment_404(client):
    """htmx asking for an unknown item's panel gets a 404 fragment it can show in place."""
    response = client.get("/items/no-such-item/similar", headers=HX)
    assert response.status_code == 404
    body = text(response)
    assert_fragment(body)
    assert "no-such-item" in body and 'role="alert"' in body


@pytest.mark.parametrize("path", ["/items/%00", "/items/..%2F", "/items/..%2F..%2Fetc%2Fpasswd",
                                  "/items/%00/similar", "/items/..%2F/similar", "/items/" + "x" * 5000,
                                  "/items/%2e%2e", "/items/%E2%80%AE"])
def test_odd_item_ids_are_4xx(client, path):
    """Control characters, traversal attempts and huge ids are client errors, never a 500.

    Werkzeug may first redirect a path with a doubled slash to its merged form; that redirect must
    stay on this site and lead to a client error too."""
    response = client.get(path)
    if 300 <= response.status_code < 400:
        target = urlsplit(response.headers["Location"])
        assert target.netloc in ("", "localhost")
        response = client.get(target.path)
    assert 400 <= response.status_code < 500, response.status_code


# -- the id form (CSRF protected) ----------------------------------------------------------------------

def csrf_token(client) -> str:
    body = text(client.get("/items/similar"))
    match = re.search(r'<input[^>]*name="csrf_token"[^>]*>', body)
    assert match, "no csrf_token input on the form"
    return re.search(r'value="([^"]+)"', match.group(0)).group(1)


def test_form_page_has_csrf_token(client):
    """The form carries a hidden CSRF token."""
    response = client.get("/items/similar")
    assert response.status_code == 200
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', text(response)).group(0)
    assert 'type="hidden"' in tag and re.search(r'value="[^"]{20,}"', tag)
    assert 'name="item_id"' in text(response)


def test_post_without_csrf_is_400(client):
    """A cross-site post without the token is refused."""
    response = client.post("/items/similar", data={"item_id": "1000", "k": "5"})
    assert response.status_code == 400


def test_post_with_wrong_csrf_is_400(client):
    """A made-up token is refused too."""
    csrf_token(client)
    response = client.post("/items/similar", data={"item_id": "1000", "k": "5", "csrf_token": "forged"})
    assert response.status_code == 400


def test_post_lists_similar_items(app, client, model):
    """Posting an id lists the similar items' ids and titles, as the model ranks them."""
    token = csrf_token(client)
    response = client.post("/items/similar", data={"item_id": "1000", "k": "7", "csrf_token": token})
    assert response.status_code == 200
    body = text(response)
    assert_full_page(body)
    expected = model.get_similar_items("1000", 7)
    rows = re.findall(r"<tr><td><code>([^<]+)</code></td>\s*<td><a [^>]*>([^<]*)</a>", body)
    assert rows == [(r.item_id, html.escape(r.title)) for r in expected]
    assert response.headers["X-Index-Version"] == current_version(app)


def test_post_with_htmx_returns_results_fragment(client, model):
    """The htmx form post swaps in only the results section."""
    token = csrf_token(client)
    response = client.post("/items/similar", data={"item_id": "1000", "k": "3", "csrf_token": token},
                           headers=HX)
    assert response.status_code == 200
    body = text(response)
    assert_fragment(body)
    assert body.lstrip().startswith('<section id="similar-results"')
    assert len(re.findall(r"<tr><td><code>", body)) == 3
    assert "X-Index-Version" in response.headers


def test_post_strips_spaces_around_id(client):
    """' 1000 ' typed with stray spaces is the item 1000."""
    token = csrf_token(client)
    response = client.post("/items/similar", data={"item_id": "  1000 ", "k": "3", "csrf_token": token})
    assert response.status_code == 200
    assert len(re.findall(r"<tr><td><code>", text(response))) == 3


def test_post_unknown_id_is_404_with_message(client):
    """An unknown id re-shows the form with a message that names it."""
    token = csrf_token(client)
    response = client.post("/items/similar", data={"item_id": "nope-404", "k": "5", "csrf_token": token})
    assert response.status_code == 404
    body = text(response)
    assert "nope-404" in body and 'role="alert"' in body
    assert 'name="item_id"' in body


@pytest.mark.parametrize("item_id", ["", "   "])
def test_post_empty_id_is_400(client, item_id):
    """An empty id is a 400 asking for one."""
    token = csrf_token(client)
    response = client.post("/items/similar", data={"item_id": item_id, "k": "5", "csrf_token": token})
    assert response.status_code == 400
    assert "item id" in text(response).lower()


@pytest.mark.parametrize("k", ["0", "101", "abc"])
def test_post_bad_k_is_400(client, k):
    """The form validates k like the panel does."""
    token = csrf_token(client)
    response = client.post("/items/similar", data={"item_id": "1000", "k": k, "csrf_token": token})
    assert response.status_code == 400
    assert "X-Index-Version" not in response.headers


def test_get_form_with_id_redirects_to_item_page(client):
    """GET /items/similar?item_id=… is a shareable link: it redirects to the item's page."""
    response = client.get("/items/similar?item_id=1000")
    assert response.status_code in (301, 302, 303, 307, 308)
    assert response.headers["Location"].endswith("/items/1000")
    assert client.get(response.headers["Location"]).status_code == 200


# -- health and no-index -------------------------------------------------------------------------------

def test_healthz(client):
    """Liveness answers without needing the index."""
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["status"] == "ok"


def test_readyz_with_index(app, client):
    """Readiness reports the served version."""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["index_version"] == current_version(app)


@pytest.fixture
def empty_app(tmp_path):
    return make_app(tmp_path)


def test_readyz_without_index_is_503(empty_app):
    """A process with nothing to serve is not ready."""
    response = empty_app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["ready"] is False


def test_healthz_without_index(empty_app):
    """Liveness does not depend on the index."""
    assert empty_app.test_client().get("/healthz").status_code == 200


@pytest.mark.parametrize("path", ["/", "/search?q=river", "/items/1000", "/items/1000/similar", "/items/similar"])
@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "fragment"])
def test_pages_without_index_are_503_with_help(empty_app, path, headers):
    """Before the first build, pages say an index is needed (503), rather than crashing (500)."""
    response = empty_app.test_client().get(path, headers=headers)
    assert response.status_code == 503
    body = text(response)
    assert "build-index" in body or "No index" in body


# -- security headers -------------------------------------------------------------------------------

@pytest.mark.parametrize("path,headers", [("/", {}), ("/search?q=river", HX), ("/items/1000", {}),
                                          ("/items/nope", {}), ("/items/1000/similar?k=0", HX),
                                          ("/healthz", {}), ("/api/items/1000", {})])
def test_security_headers(client, path, headers):
    """Every response restricts scripts to this site, forbids framing and MIME sniffing."""
    response = client.get(path, headers=headers)
    csp = response.headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


def test_no_inline_scripts(client):
    """The CSP forbids inline scripts, so pages must not rely on any."""
    body = text(client.get("/items/1000"))
    for tag in re.findall(r"<script\b[^>]*>", body):
        assert "src=" in tag
    assert not re.search(r"\son[a-z]+=", body), "inline event handler attributes would be blocked by the CSP"


# -- a catalog with markup in its titles ------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    """An index whose item 1000 has a title with a script tag and an onerror attribute."""
    root = tmp_path_factory.mktemp("hostile")
    files = make_catalog(root / "catalog")
    items = pd.read_csv(files.items, dtype=str)
    items.loc[items["item_id"] == HOSTILE_ID, "title"] = HOSTILE_TITLE
    items.loc[items["item_id"] == HOSTILE_ID, "description"] = "<b>bold</b> & more"
    items.loc[items["item_id"] == HOSTILE_ID, "studio"] = '"><svg onload=alert(3)>'
    items.to_csv(files.items, index=False)
    build_and_publish(IndexStore(root / "data" / "indexes"), files)
    return make_app(root / "data")


def assert_escaped(body: str):
    assert "<script>alert(1)" not in body
    assert "<img src=x" not in body
    assert "<svg" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body or "&lt;" in body


def test_hostile_title_escaped_on_item_page(hostile_app):
    """The item page shows the title, description and attributes as text."""
    body = text(hostile_app.test_client().get(f"/items/{HOSTILE_ID}"))
    assert_escaped(body)
    assert html.escape(HOSTILE_TITLE) in body
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in body


def test_hostile_title_escaped_in_highlighted_search(hostile_app):
    """Highlighting marks matched words without letting the title's markup through."""
    body = text(hostile_app.test_client().get("/search?q=script", headers=HX))
    assert_escaped(body)
    spans = re.findall(r'<span class="hit-title">(.*?)</span>', body, re.S)
    assert spans
    assert "<mark>" in spans[0]
    plain = html.unescape(spans[0].replace("<mark>", "").replace("</mark>", ""))
    assert plain == HOSTILE_TITLE


def test_hostile_title_escaped_in_full_search_page(hostile_app):
    """The same holds for the full search page."""
    body = text(hostile_app.test_client().get("/search?q=alert"))
    assert_escaped(body)
    assert "<mark>" in body


def test_hostile_title_escaped_in_similar_panel(hostile_app):
    """The hostile item shown as someone else's neighbour, and as the panel's heading, is escaped."""
    client = hostile_app.test_client()
    model = hostile_app.extensions["model_holder"].model
    neighbour = next(i for i in model.items["item_id"] if i != HOSTILE_ID and
                     HOSTILE_ID in [r.item_id for r in model.get_similar_items(i, 20)])
    body = text(client.get(f"/items/{neighbour}/similar?k=20", headers=HX))
    assert HOSTILE_ID in panel_cards(body)
    assert_escaped(body)
    own = text(client.get(f"/items/{HOSTILE_ID}/similar", headers=HX))
    assert_escaped(own)
    assert html.escape(HOSTILE_TITLE) in own
