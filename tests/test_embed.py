"""The embed routes: fragments for other sites, who may read them cross-origin (CORS), who may frame the iframe
variant, where their links go, escaping, bad parameters, the origins setting and the admin's snippet."""

from __future__ import annotations

import html
import logging
import re
import time
import urllib.parse
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest

from recommender.catalog.sources import CatalogFiles
from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from recommender.settings import ConfigError, settings_from_env
from tests.helpers.apps import make_app
from tests.helpers.catalogs import make_catalog
from web.cors import HTMX_REQUEST_HEADERS, HTMX_RESPONSE_HEADERS, PREFLIGHT_MAX_AGE_SECONDS

SHOP = "http://shop.example"
BLOG = "https://blog.example:8443"
EVIL = "http://evil.example"
HOSTILE_TITLE = '<script>alert("t")</script><img src=x onerror=alert(1)> & "quotes"'
HOSTILE_URL = 'https://shop.example/item?a=1&b="><script>alert(2)</script>'
ITEM_WITH_URL, ITEM_WITH_JS_URL, HOSTILE_ITEM, ITEM_WITH_IMAGE = "1000", "1008", "1016", "1024"
EMBED_PATHS = ["/embed/items/1000/similar", "/embed/items/1000/similar?frame=1", "/embed/search?q=river",
               "/embed/search?q=river&frame=1", "/embed/likewise.css", "/embed/items/no-such-item/similar",
               "/embed/items/1000/similar?k=0"]
OTHER_PATHS = ["/", "/search?q=river", "/items/1000", "/items/1000/similar", "/api/items/1000/similar",
               "/api/search?q=river", "/healthz", "/readyz", "/admin/login", "/static/likewise.css",
               "/items/no-such-item"]
BAD_PARAMETERS = ["k=0", "k=101", "k=abc", "year_min=abc", "year_min=2000&year_max=1990", "year_max=99999",
                  "exclude=" + ",".join(str(i) for i in range(60)), "category=" + "x" * 300]


@pytest.fixture(scope="module")
def embed_catalog(tmp_path_factory) -> CatalogFiles:
    """The generated catalog, with a `url` on some items (one of them javascript:), a hostile title and a picture."""
    files = make_catalog(tmp_path_factory.mktemp("embed-catalog"))
    items = pd.read_csv(files.items, dtype={"item_id": str})
    items["url"] = ""
    items["image_url"] = ""
    for i in range(0, len(items), 2):
        items.loc[i, "url"] = f"https://shop.example/products/{items.loc[i, 'item_id']}"
    by_id = {item_id: i for i, item_id in enumerate(items["item_id"])}
    items.loc[by_id[ITEM_WITH_JS_URL], "url"] = "javascript:alert(document.cookie)"
    items.loc[by_id[HOSTILE_ITEM], ["title", "url"]] = [HOSTILE_TITLE, HOSTILE_URL]
    items.loc[by_id[ITEM_WITH_IMAGE], "image_url"] = "https://img.example/poster.jpg"
    items.loc[by_id["1032"], "image_url"] = "javascript:alert(3)"
    items.to_csv(files.items, index=False)
    return files


@pytest.fixture(scope="module")
def embed_data_dir(tmp_path_factory, embed_catalog) -> Path:
    data_dir = tmp_path_factory.mktemp("embed-data")
    build_and_publish(IndexStore(data_dir / "indexes"), embed_catalog)
    return data_dir


def ready(app):
    holder = app.extensions["model_holder"]
    deadline = time.monotonic() + 10
    while holder.model is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert holder.model is not None, "the index did not load"
    return app


@pytest.fixture
def embed_app(embed_data_dir):
    return ready(make_app(embed_data_dir, embed_origins=(SHOP, BLOG)))


@pytest.fixture
def client(embed_app):
    return embed_app.test_client()


def from_origin(origin: str | None, **headers) -> dict:
    return ({"Origin": origin} if origin else {}) | headers


def preflight(client, path: str, origin: str, headers=("HX-Request", "HX-Current-URL", "HX-Target")):
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                                         "Access-Control-Request-Headers": ",".join(h.lower() for h in headers)})


def links(body: str, css_class: str = "likewise-link") -> dict[str, str]:
    """Title text -> href of every card link in an embed fragment."""
    found = re.findall(rf'<a class="{css_class}" href="([^"]*)">\s*(?:<img[^>]*>\s*)?<span class="likewise-title">'
                       r"(.*?)</span>", body, re.S)
    return {html.unescape(re.sub(r"<[^>]+>", "", title)): html.unescape(href) for href, title in found}


# -- cross-origin reads ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", EMBED_PATHS)
@pytest.mark.parametrize("origin", [SHOP, BLOG])
def test_allowed_origin_is_echoed_with_vary_origin(client, path, origin):
    """Answers and errors alike, so a host page sees why a panel is empty."""
    response = client.get(path, headers=from_origin(origin, **{"HX-Request": "true"}))
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "Origin" in response.vary
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == set(HTMX_RESPONSE_HEADERS), "htmx reads these; unexposed, the browser logs an error for each"


@pytest.mark.parametrize("path", EMBED_PATHS)
@pytest.mark.parametrize("origin", [EVIL, "http://shop.example:8080", "https://shop.example", "null",
                                    "http://shop.example.evil.example", None])
def test_other_origins_get_no_cors_headers(client, path, origin):
    response = client.get(path, headers=from_origin(origin))
    assert not [h for h in response.headers.keys() if h.lower().startswith("access-control-")]
    assert "Origin" in response.vary, "the answer differs by Origin, so caches must key on it"


def test_preflight_admits_htmx_headers_for_an_allowed_origin(client):
    response = preflight(client, "/embed/items/1000/similar", SHOP, HTMX_REQUEST_HEADERS)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert response.headers["Access-Control-Allow-Methods"] == "GET"
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {h.lower() for h in HTMX_REQUEST_HEADERS}
    assert int(response.headers["Access-Control-Max-Age"]) == PREFLIGHT_MAX_AGE_SECONDS > 0
    assert "Origin" in response.vary
    assert response.get_data() == b""


@pytest.mark.parametrize("path", ["/embed/search?q=x", "/embed/items/1000/similar?k=3"])
def test_preflight_for_another_origin_answers_nothing_it_could_use(client, path):
    response = preflight(client, path, EVIL)
    assert response.status_code == 204
    assert not [h for h in response.headers.keys() if h.lower().startswith("access-control-")]


def test_no_answer_ever_allows_credentials(embed_data_dir):
    """Embeds are cookie-less public reads, for listed origins and for `*` alike."""
    for origins in ((SHOP, BLOG), ("*",), ()):
        client = ready(make_app(embed_data_dir, embed_origins=origins)).test_client()
        for origin in (SHOP, EVIL, None):
            answers = [client.get(path, headers=from_origin(origin)) for path in EMBED_PATHS + OTHER_PATHS]
            answers += [preflight(client, path, origin or SHOP) for path in EMBED_PATHS + OTHER_PATHS]
            for response in answers:
                assert "Access-Control-Allow-Credentials" not in response.headers, (origins, origin)


@pytest.mark.parametrize("path", OTHER_PATHS)
def test_other_routes_never_get_cors_and_keep_refusing_to_be_framed(client, path):
    for response in (client.get(path, headers=from_origin(SHOP, **{"HX-Request": "true"})),
                     client.get(path + ("&" if "?" in path else "?") + "frame=1", headers=from_origin(SHOP)),
                     preflight(client, path, SHOP)):
        assert not [h for h in response.headers.keys() if h.lower().startswith("access-control-")], path
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_any_origin_is_echoed_and_warned_about_at_start(embed_data_dir, caplog):
    with caplog.at_level(logging.WARNING):
        app = ready(make_app(embed_data_dir, embed_origins=("*",)))
    assert any("LIKEWISE_EMBED_ORIGINS is '*'" in r.getMessage() for r in caplog.records)
    response = app.test_client().get("/embed/search?q=river", headers={"Origin": EVIL})
    assert response.headers["Access-Control-Allow-Origin"] == EVIL


def test_listed_origins_are_not_warned_about(embed_data_dir, caplog):
    with caplog.at_level(logging.WARNING):
        ready(make_app(embed_data_dir, embed_origins=(SHOP,)))
    assert not any("LIKEWISE_EMBED_ORIGINS" in r.getMessage() for r in caplog.records)


# -- framing ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/embed/items/1000/similar?frame=1", "/embed/search?q=river&frame=1",
                                  "/embed/items/no-such-item/similar?frame=1", "/embed/items/1000/similar?k=0&frame=1"])
def test_frame_variant_may_be_framed_by_the_listed_origins_only(client, path):
    response = client.get(path)
    policy = response.headers["Content-Security-Policy"]
    assert re.search(r"frame-ancestors ([^;]*)", policy).group(1).split() == [SHOP, BLOG]
    assert "X-Frame-Options" not in response.headers
    assert response.get_data(as_text=True).lstrip().startswith("<!doctype html>")
    assert "default-src 'self'" in policy and "script-src 'self'" in policy


@pytest.mark.parametrize("path", ["/embed/items/1000/similar", "/embed/search?q=river", "/embed/likewise.css"])
def test_fragments_are_not_framable(client, path):
    response = client.get(path, headers=from_origin(SHOP))
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_frame_variant_without_embed_origins_refuses_framing(embed_data_dir):
    response = ready(make_app(embed_data_dir, embed_origins=())).test_client().get("/embed/items/1000/similar?frame=1")
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_frame_variant_with_any_origin_allows_any_ancestor(embed_data_dir):
    client = ready(make_app(embed_data_dir, embed_origins=("*",))).test_client()
    policy = client.get("/embed/items/1000/similar?frame=1").headers["Content-Security-Policy"]
    assert re.search(r"frame-ancestors ([^;]*)", policy).group(1) == "*"


def test_frame_variant_opens_links_in_the_host_window(client):
    body = client.get("/embed/items/1000/similar?frame=1").get_data(as_text=True)
    assert '<base target="_top">' in body
    assert 'href="/embed/likewise.css"' in body


# -- what the fragments show, and where they link ---------------------------------------------------------

def catalog_rows(embed_catalog) -> dict[str, dict]:
    items = pd.read_csv(embed_catalog.items, dtype={"item_id": str}, keep_default_na=False)
    return {row["item_id"]: row for row in items.to_dict("records")}


def destination(client, href: str) -> str:
    """Where a card's link ends up: a tracked link is a redirect through /r/<token>."""
    if "/r/" not in href:
        return href
    parts = urllib.parse.urlsplit(href)
    response = client.get(f"{parts.path}?{parts.query}", headers={"User-Agent": "Mozilla/5.0 test"})
    assert response.status_code == 302, href
    return urllib.parse.unquote(response.headers["Location"])


def expected_link(row: dict, base: str = "http://localhost") -> str:
    if row["url"].startswith(("http://", "https://")):
        return row["url"]
    return f"{base}/items/{row['item_id']}"


@pytest.mark.parametrize("path", ["/embed/items/1000/similar?k=30", "/embed/items/1016/similar?k=30",
                                  "/embed/search?q=river", "/embed/search?q=the"])
def test_links_go_to_the_items_url_else_to_its_absolute_likewise_page(client, embed_catalog, path):
    rows = catalog_rows(embed_catalog)
    by_title = {row["title"]: row for row in rows.values()}
    found = links(client.get(path).get_data(as_text=True))
    assert len(found) >= 5
    kinds = set()
    for title, href in found.items():
        target = destination(client, href)
        assert target == expected_link(by_title[title]), title
        kinds.add(target.startswith("https://shop.example/"))
    assert kinds == {True, False}, "both kinds of link should be on this page"


def test_javascript_urls_never_become_links(client, embed_catalog):
    body = client.get("/embed/items/1000/similar?k=100").get_data(as_text=True)
    assert "javascript:" not in body
    title = catalog_rows(embed_catalog)[ITEM_WITH_JS_URL]["title"]
    assert destination(client, links(body)[title]) == f"http://localhost/items/{ITEM_WITH_JS_URL}"


def test_public_url_replaces_the_request_host(embed_data_dir, embed_catalog):
    client = ready(make_app(embed_data_dir, embed_origins=(SHOP,), public_url="https://likewise.example")).test_client()
    rows = catalog_rows(embed_catalog)
    by_title = {row["title"]: row for row in rows.values()}
    found = links(client.get("/embed/items/1001/similar?k=20").get_data(as_text=True))
    assert all(href.startswith("https://likewise.example/") for href in found.values()), found
    assert any(destination(client, href).startswith("https://likewise.example/items/") for href in found.values())
    for title, href in found.items():
        assert destination(client, href) == expected_link(by_title[title], "https://likewise.example")


def test_only_http_pictures_are_shown(client):
    body = client.get("/embed/items/1000/similar?k=100").get_data(as_text=True)
    assert body.count('<img class="likewise-image" src="https://img.example/poster.jpg"') == 1
    assert body.count("<img") - body.count('class="likewise-beacon"') == 1


def test_cards_show_title_year_and_why(client, embed_app):
    model = embed_app.extensions["model_holder"].model
    body = client.get("/embed/items/1000/similar?k=5").get_data(as_text=True)
    expected = model.get_similar_items("1000", 5)
    assert body.count('class="likewise-card"') == 5
    for result in expected:
        assert f'<span class="likewise-year">{result.item.year}</span>' in body
        assert html.escape(result.why.summary, quote=False) in body.replace("&#34;", '"').replace("&#39;", "'")
    assert all(c.startswith("likewise-") for c in re.findall(r'class="([^"]+)"', body) for c in c.split())


def test_filters_apply_as_on_the_page(client, embed_app):
    model = embed_app.extensions["model_holder"].model
    body = client.get("/embed/items/1000/similar?k=10&year_min=1960&exclude=1001").get_data(as_text=True)
    titles = set(links(body))
    assert titles
    for title in titles:
        item = next(r.item for r in model.get_similar_items("1000", 100) if r.item.title == title)
        assert item.year >= 1960 and item.item_id != "1001"


def test_hostile_titles_and_urls_are_escaped(client, embed_catalog):
    similar = client.get(f"/embed/items/{HOSTILE_ITEM}/similar?k=3").get_data(as_text=True)
    neighbour = client.get("/embed/items/1000/similar?k=100").get_data(as_text=True)
    search = client.get("/embed/search?q=script").get_data(as_text=True)
    framed = client.get("/embed/search?q=script&frame=1").get_data(as_text=True)
    for body in (similar, neighbour, search, framed):
        assert "<script" not in body and "onerror=" not in body.replace("onerror=alert", "")
        assert "<img src=x" not in body
    assert "&lt;script&gt;" in similar and "&lt;script&gt;" in neighbour
    assert destination(client, links(neighbour)[HOSTILE_TITLE]) == HOSTILE_URL, "the url is kept as the target"
    assert links(search)[HOSTILE_TITLE] == HOSTILE_URL, "the hostile title is found by search, shown as text"


def test_empty_search_answers_nothing_so_a_cleared_box_clears_its_results(client):
    response = client.get("/embed/search?q=", headers=from_origin(SHOP))
    assert response.status_code == 200 and response.get_data(as_text=True).strip() == ""


def test_stylesheet_is_css_for_likewise_classes_only(client):
    response = client.get("/embed/likewise.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    css = re.sub(r"/\*.*?\*/", "", response.get_data(as_text=True), flags=re.S)
    selectors = re.findall(r"(^|})\s*([^{}@/]+?)\s*{", css)
    classes = {c for _, selector in selectors for c in re.findall(r"\.([a-z-]+)", selector)}
    assert classes and all(c.startswith("likewise-") for c in classes), classes


# -- bad input: the same answers as the pages ------------------------------------------------------------

@pytest.mark.parametrize("query", BAD_PARAMETERS)
def test_bad_parameters_answer_400_as_the_page_does(client, query):
    page = client.get(f"/items/1000/similar?{query}")
    for frame in ("", "&frame=1"):
        embed = client.get(f"/embed/items/1000/similar?{query}{frame}", headers=from_origin(SHOP))
        assert embed.status_code == page.status_code == 400, query
        message = re.search(r'role="alert">([^<]+)<', embed.get_data(as_text=True)).group(1)
        assert html.unescape(message).strip() in html.unescape(page.get_data(as_text=True))


@pytest.mark.parametrize("item_id", ["no-such-item", "x" * 250])
def test_unknown_or_bad_items_answer_as_the_page_does(client, item_id):
    page = client.get(f"/items/{item_id}/similar")
    embed = client.get(f"/embed/items/{item_id}/similar")
    assert embed.status_code == page.status_code and page.status_code in (400, 404)
    assert 'class="likewise-panel likewise-error"' in embed.get_data(as_text=True)


def test_frame_must_be_1_or_left_out(client):
    response = client.get("/embed/items/1000/similar?frame=yes")
    assert response.status_code == 400 and "frame must be 1" in response.get_data(as_text=True)


def test_without_an_index_embeds_answer_503(tmp_path):
    app = make_app(tmp_path / "empty", embed_origins=(SHOP,))
    response = app.test_client().get("/embed/items/1000/similar", headers=from_origin(SHOP))
    assert response.status_code == 503
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert "likewise-error" in response.get_data(as_text=True)


# -- the origins setting ---------------------------------------------------------------------------------

def test_embed_origins_are_read_and_normalised_as_browsers_send_them(tmp_path):
    raw = " https://Shop.Example:443, http://127.0.0.1:8080 ,http://blog.example:80,http://[::1]:9000,"
    settings = settings_from_env({"LIKEWISE_DATA_DIR": str(tmp_path), "LIKEWISE_EMBED_ORIGINS": raw,
                                  "LIKEWISE_PUBLIC_URL": "HTTPS://likewise.example"})
    assert settings.embed_origins == ("https://shop.example", "http://127.0.0.1:8080", "http://blog.example",
                                      "http://[::1]:9000")
    assert settings.public_url == "https://likewise.example"
    assert settings_from_env({"LIKEWISE_DATA_DIR": str(tmp_path)}).embed_origins == ()
    assert settings_from_env({"LIKEWISE_DATA_DIR": str(tmp_path), "LIKEWISE_EMBED_ORIGINS": "*"}).embed_any_origin


@pytest.mark.parametrize("variable", ["LIKEWISE_EMBED_ORIGINS", "LIKEWISE_PUBLIC_URL"])
@pytest.mark.parametrize("value", ["shop.example", "https://shop.example/", "https://shop.example/path",
                                   "ftp://shop.example", "https://user@shop.example", "https://shop.example:99999",
                                   "https://shop.example?x=1", "https://", "https://shop example"])
def test_a_bad_origin_is_a_clear_error_naming_the_variable(tmp_path, variable, value):
    with pytest.raises(ConfigError) as error:
        settings_from_env({"LIKEWISE_DATA_DIR": str(tmp_path), variable: f"https://ok.example,{value}"
                           if variable == "LIKEWISE_EMBED_ORIGINS" else value})
    assert variable in str(error.value) and value in str(error.value) and "scheme://host[:port]" in str(error.value)


def test_any_origin_must_stand_alone(tmp_path):
    with pytest.raises(ConfigError, match="LIKEWISE_EMBED_ORIGINS"):
        settings_from_env({"LIKEWISE_DATA_DIR": str(tmp_path), "LIKEWISE_EMBED_ORIGINS": "*,https://shop.example"})


# -- the admin's snippet ---------------------------------------------------------------------------------

def admin_snippet(client, embed_app, box: str = "embed-snippet") -> str:
    token = embed_app.extensions["settings"].admin_token
    body = client.get("/admin", headers={"Authorization": f"Bearer {token}"}).get_data(as_text=True)
    match = re.search(rf'<pre id="{box}"[^>]*>(.*?)</pre>', body, re.S)
    assert match, "no embed snippet on /admin"
    return html.unescape(match.group(1))


def test_admin_shows_a_working_snippet_for_a_real_item(client, embed_app):
    snippet = admin_snippet(client, embed_app)
    assert """<meta name="htmx-config" content='{"selfRequestsOnly": false}'>""" in snippet
    script = re.search(r'<script src="([^"]+)"', snippet).group(1)
    panel = re.search(r'<div [^>]*hx-get="([^"]+)" hx-trigger="load">\s*<a href="([^"]+)">', snippet)
    search = re.search(r'<input [^>]*name="q"[^>]*hx-get="([^"]+)" hx-trigger="input changed delay:300ms, search"'
                       r'\s+hx-target="#([^"]+)"', snippet, re.S)
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', snippet).group(1)
    assert panel and search and f'id="{search.group(2)}"' in snippet
    for url in (script, stylesheet, panel.group(1), panel.group(2), search.group(1)):
        parts = urlsplit(url)
        assert parts.scheme == "http" and parts.netloc == "localhost", url
        assert client.get(parts.path, headers=from_origin(SHOP)).status_code == 200, url
    item_id = re.search(r"/embed/items/([^/]+)/similar", panel.group(1)).group(1)
    assert embed_app.extensions["model_holder"].model.has_item(item_id)
    assert urlsplit(panel.group(2)).path == f"/items/{item_id}"
    assert script.endswith(".min.js") and "/static/vendor/htmx-2" in script


def test_admin_snippet_has_the_iframe_variant(client, embed_app):
    frame = admin_snippet(client, embed_app, "embed-frame-snippet")
    src = re.search(r'<iframe src="([^"]+)"', frame).group(1)
    assert src.startswith("http://localhost/embed/items/") and src.endswith("/similar?frame=1")
    assert "X-Frame-Options" not in client.get(urlsplit(src).path + "?frame=1").headers


def test_admin_snippet_is_shown_as_text_not_run(client, embed_app):
    token = embed_app.extensions["settings"].admin_token
    body = client.get("/admin", headers={"Authorization": f"Bearer {token}"}).get_data(as_text=True)
    assert 'content=\'{"selfRequestsOnly": false}\'' not in body
    assert body.count("<script") == 1, "only the admin page's own htmx script"
    assert "LIKEWISE_EMBED_ORIGINS" in body and SHOP in body


def test_admin_says_when_no_origin_may_embed(embed_data_dir):
    app = ready(make_app(embed_data_dir, embed_origins=()))
    token = app.extensions["settings"].admin_token
    body = app.test_client().get("/admin", headers={"Authorization": f"Bearer {token}"}).get_data(as_text=True)
    assert "No origin may embed yet" in body


def test_admin_snippets_are_code_blocks_sized_by_their_content_and_selected_in_one_click(client, embed_app):
    """Issue 27 item 7: no default 20-column textarea; a <pre> that CSS selects whole on a click."""
    token = embed_app.extensions["settings"].admin_token
    body = client.get("/admin", headers={"Authorization": f"Bearer {token}"}).get_data(as_text=True)
    assert "<textarea" not in body
    for box in ("embed-snippet", "embed-frame-snippet"):
        assert re.search(rf'<pre id="{box}" class="snippet" tabindex="0" aria-labelledby="{box}-label">', body)
    css = client.get("/static/likewise.css").get_data(as_text=True)
    rule = re.search(r"\.snippet \{([^}]*)\}", css).group(1)
    assert "user-select: all" in rule and "white-space: pre-wrap" in rule
