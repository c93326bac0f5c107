"""The admin area through Flask's test client, with the job queue on fakeredis and an in-memory Celery."""

from __future__ import annotations

import html
import io
import re
import socket
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import fakeredis
import pytest

import web.services.admin_actions as admin_actions
import web.views.admin as admin_views
from recommender.index_store import IndexStore, read_manifest
from recommender.pipeline import build_and_publish
from tests.helpers.apps import make_app
from tests.helpers.catalogs import make_catalog
from worker.queue import REBUILD_TASK, ROLLBACK_TASK, JobQueue

HX = {"HX-Request": "true"}
ADMIN_PAGES = ["/admin", "/admin/jobs", "/admin/index-card", "/admin/jobs/{job_id}"]


# -- fixtures and helpers -----------------------------------------------------------------------

@pytest.fixture
def data_dir(tmp_path, small_catalog):
    """A private data dir with one published index, so uploads cannot leak into other tests."""
    directory = tmp_path / "data"
    build_and_publish(IndexStore(directory / "indexes"), small_catalog)
    return directory


def with_fake_queue(app, celery_app):
    app.extensions["job_queue"] = JobQueue(fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True),
                                           celery_app, "t:")
    return app


@pytest.fixture
def admin_app(data_dir, celery_app, sent):
    return with_fake_queue(make_app(data_dir, REDIS_URL="redis://fake",
                                    FLOWER_URL=f"http://flower-{uuid.uuid4().hex[:6]}.test:5555/"), celery_app)


@pytest.fixture
def queue(admin_app) -> JobQueue:
    return admin_app.extensions["job_queue"]


@pytest.fixture
def browser(admin_app):
    return admin_app.test_client()


@pytest.fixture
def signed_in(browser, admin_app):
    sign_in(browser, admin_app)
    return browser


def text(response) -> str:
    return response.get_data(as_text=True)


def csrf_from(client, path: str) -> str:
    body = text(client.get(path))
    match = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', body)
    assert match, f"no csrf_token on {path}"
    return match.group(1)


def sign_in(client, app, next_path: str | None = None):
    data = {"token": app.extensions["settings"].admin_token, "csrf_token": csrf_from(client, "/admin/login")}
    if next_path is not None:
        data["next"] = next_path
    response = client.post("/admin/login", data=data)
    assert response.status_code == 302, text(response)
    return response


def bearer(app) -> dict:
    return {"Authorization": f"Bearer {app.extensions['settings'].admin_token}"}


def location(response) -> str:
    return urlsplit(response.headers["Location"]).path


def is_signed_in(client) -> bool:
    return client.get("/admin").status_code == 200


def served_manifest(data_dir) -> dict:
    return read_manifest(IndexStore(data_dir / "indexes").current_path())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def uploads_left(data_dir) -> list:
    uploads = data_dir / "uploads"
    return list(uploads.iterdir()) if uploads.exists() else []


def bad_items_csv() -> tuple[bytes, int, int]:
    """An items file with a duplicate id and an empty title; returns it with those two row numbers."""
    rows = [("1", "One"), ("1", "Duplicate"), ("2", "")]
    duplicate_row = 2 + next(i for i, r in enumerate(rows) if [x[0] for x in rows[:i]].count(r[0]))
    empty_title_row = 2 + next(i for i, r in enumerate(rows) if not r[1])
    body = "item_id,title\n" + "".join(f"{a},{b}\n" for a, b in rows)
    return body.encode(), duplicate_row, empty_title_row


def error_items(body: str) -> list[str]:
    block = re.search(r'<div class="errors" role="alert">(.*?)</div>', body, re.S)
    assert block, "no error list in the response"
    return [html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", block.group(1), re.S)]


def upload_data(token: str | None, **files) -> dict:
    data = {name: (io.BytesIO(content), filename) for name, (content, filename) in files.items()}
    if token is not None:
        data["csrf_token"] = token
    return data


# -- access control -----------------------------------------------------------------------------

@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_admin_pages_send_signed_out_browsers_to_login(browser, queue, page):
    """Every admin page asks for the token first, and comes back to the page afterwards."""
    path = page.format(job_id=queue.request_rebuild()[0])
    response = browser.get(path)
    assert response.status_code == 302 and location(response) == "/admin/login"
    assert parse_qs(urlsplit(response.headers["Location"]).query)["next"] == [path]


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_admin_pages_tell_htmx_to_go_to_login(browser, queue, page):
    """A poll that finds the session gone makes htmx load the login page instead of swapping in junk."""
    response = browser.get(page.format(job_id=queue.request_rebuild()[0]), headers=HX)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/admin/login"


def admin_api_calls(app) -> list[tuple[str, str]]:
    calls = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/admin"):
            method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
            calls.append((method, re.sub(r"<[^>]+>", "some-id", rule.rule)))
    return calls


@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", "Basic {token}", "Bearer"])
def test_every_admin_api_route_refuses_without_the_bearer_token(admin_app, browser, auth, sent):
    """Scripts must send the right Bearer token; anything else is a 401 that says how to authenticate."""
    calls = admin_api_calls(admin_app)
    assert {("POST", "/api/admin/rebuild"), ("POST", "/api/admin/catalog"), ("GET", "/api/admin/index"),
            ("POST", "/api/admin/index/rollback")} <= set(calls)
    headers = {"Authorization": auth.format(token=admin_app.extensions["settings"].admin_token)} if auth else {}
    for n, (method, url) in enumerate(calls):
        client = {"REMOTE_ADDR": f"10.0.0.{n + 1}"}  # more routes than the failed attempts one client may make
        response = browser.open(url, method=method, headers=headers, environ_base=client)
        assert response.status_code == 401, (method, url)
        assert response.is_json and "Bearer" in response.get_json()["error"], (method, url)
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), (method, url)
    assert sent == []


def test_a_signed_in_browser_cookie_does_not_open_the_api(signed_in, admin_app, sent):
    """The JSON API is CSRF-exempt, so it must not accept the session cookie a forged form would carry."""
    response = signed_in.post("/api/admin/rebuild")
    assert response.status_code == 401 and sent == []


# -- signing in ---------------------------------------------------------------------------------

def test_login_form_has_csrf_token_and_labelled_password(browser):
    body = text(browser.get("/admin/login"))
    assert re.search(r'<input[^>]*name="csrf_token"[^>]*type="hidden"[^>]*value="[^"]+"', body)
    field = re.search(r'<input[^>]*name="token"[^>]*>', body)
    assert field and 'type="password"' in field.group(0)
    field_id = re.search(r'id="([^"]+)"', field.group(0)).group(1)
    assert re.search(rf'<label for="{field_id}">[^<]+</label>', body)


def test_login_without_csrf_token_is_refused(browser, admin_app):
    """A cross-site form cannot sign anyone in, even knowing the token."""
    response = browser.post("/admin/login", data={"token": admin_app.extensions["settings"].admin_token})
    assert response.status_code == 400
    assert not is_signed_in(browser)


def test_login_with_wrong_token_is_401_with_a_message(browser):
    response = browser.post("/admin/login", data={"token": "not-it", "csrf_token": csrf_from(browser, "/admin/login")})
    assert response.status_code == 401
    assert "not the admin token" in text(response)
    assert not is_signed_in(browser)


def test_login_with_right_token_opens_the_dashboard(browser, admin_app, data_dir):
    """After signing in, /admin shows the version this process serves."""
    response = sign_in(browser, admin_app)
    assert location(response) == "/admin"
    page = browser.get("/admin")
    assert page.status_code == 200
    assert IndexStore(data_dir / "indexes").current_version() in text(page)


@pytest.mark.parametrize("next_path,expected", [
    ("/admin/jobs", "/admin/jobs"),
    ("https://evil.example/admin", "/admin"),
    ("//evil.example/admin", "/admin"),
    ("/search?q=admin", "/admin"),
])
def test_login_only_returns_to_admin_pages(browser, admin_app, next_path, expected):
    """`next` cannot turn the login form into an open redirect."""
    response = sign_in(browser, admin_app, next_path=next_path)
    assert response.headers["Location"] == expected


def test_login_page_carries_next_into_the_form(browser):
    body = text(browser.get("/admin/login?next=/admin/index-card"))
    assert re.search(r'<input[^>]*name="next"[^>]*value="/admin/index-card"', body)


def test_sixth_failed_login_is_throttled_but_the_right_token_still_signs_in(browser, admin_app):
    """Wrong guesses are capped per address; the right token is compared first, so it is never locked out."""
    token = csrf_from(browser, "/admin/login")
    statuses = [browser.post("/admin/login", data={"token": f"guess-{i}", "csrf_token": token}).status_code
                for i in range(admin_views.limiter.attempts)]
    assert statuses == [401] * len(statuses)
    blocked = browser.post("/admin/login", data={"token": "guess", "csrf_token": token})
    assert blocked.status_code == 429 and "Too many attempts" in text(blocked)
    right = browser.post("/admin/login",
                         data={"token": admin_app.extensions["settings"].admin_token, "csrf_token": token})
    assert right.status_code == 302 and is_signed_in(browser)
    other = admin_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    sign_in(other, admin_app)
    assert is_signed_in(other), "another address must not be blocked"


def test_session_cookie_is_httponly_and_samesite_lax(browser, admin_app):
    response = sign_in(browser, admin_app)
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(admin_app.config.get(
        "SESSION_COOKIE_NAME", "session") + "=")]
    assert cookies, "signing in set no session cookie"
    attributes = [part.strip().lower() for part in cookies[-1].split(";")]
    assert "httponly" in attributes and "samesite=lax" in attributes


def test_changing_admin_token_signs_browsers_out(signed_in, admin_app):
    assert is_signed_in(signed_in)
    admin_app.extensions["settings"] = admin_app.extensions["settings"].with_overrides(
        {"admin_token": f"rotated-{uuid.uuid4().hex}"})
    response = signed_in.get("/admin")
    assert response.status_code == 302 and location(response) == "/admin/login"


def test_sign_out_ends_the_session(signed_in):
    response = signed_in.post("/admin/logout", data={"csrf_token": csrf_from(signed_in, "/admin")})
    assert response.status_code == 302
    assert not is_signed_in(signed_in)


# -- the dashboard ------------------------------------------------------------------------------

def test_dashboard_shows_index_facts_actions_and_links(signed_in, admin_app, data_dir):
    """Everything an operator needs at a glance: what is served, how good it is, and what to do."""
    body = text(signed_in.get("/admin"))
    manifest = served_manifest(data_dir)
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(.*?)</dd>", body, re.S))
    assert manifest["version"] in facts["Version"]
    assert facts["Items"] == str(manifest["item_count"])
    assert facts["Dimensions"] == str(manifest["dimensions"])
    assert facts["Build time"].startswith(str(manifest["build_seconds"]))
    assert facts["Recall@10"].startswith(str(manifest["recall_at_10"]))
    rebuild_form = re.search(r'<form[^>]*action="/admin/rebuild".*?</form>', body, re.S)
    assert rebuild_form and "Rebuild now" in rebuild_form.group(0)
    upload_form = re.search(r'<form[^>]*id="upload"[^>]*>', body, re.S)
    assert upload_form and 'enctype="multipart/form-data"' in upload_form.group(0)
    assert re.search(r'<input[^>]*name="items"[^>]*type="file"', body)
    assert 'id="jobs"' in body
    assert "Kept versions" in body
    for kept in IndexStore(data_dir / "indexes").versions():
        assert f"<code>{kept['version']}</code>" in body
    assert f'href="{admin_app.extensions["settings"].flower_url}"' in body


def test_index_card_fragment_is_not_a_whole_page(signed_in, data_dir):
    """The card refreshes itself on index-changed; it must be just the card."""
    response = signed_in.get("/admin/index-card", headers=HX)
    body = text(response)
    assert response.status_code == 200 and "<html" not in body and 'id="index-card"' in body
    assert served_manifest(data_dir)["version"] in body


# -- rebuilds and job rows ----------------------------------------------------------------------

def test_rebuild_without_csrf_is_400_and_queues_nothing(signed_in, queue, sent):
    response = signed_in.post("/admin/rebuild", headers=HX)
    assert response.status_code == 400
    assert sent == [] and queue.recent() == []


def job_row(body: str, job_id: str) -> str:
    match = re.search(rf'<li id="job-{job_id}"[^>]*>', body)
    assert match, f"job {job_id} is not in the list"
    return match.group(0)


def test_rebuild_with_htmx_returns_jobs_fragment_that_polls(signed_in, queue, sent):
    response = signed_in.post("/admin/rebuild", data={"csrf_token": csrf_from(signed_in, "/admin")}, headers=HX)
    body = text(response)
    assert response.status_code == 200 and "<html" not in body and 'id="jobs"' in body
    [job] = queue.recent()
    assert [(c["name"], c["task_id"]) for c in sent] == [(REBUILD_TASK, job.job_id)]
    row = job_row(body, job.job_id)
    assert 'hx-trigger="every 1s"' in row and f'hx-get="/admin/jobs/{job.job_id}"' in row


def test_rebuild_without_htmx_redirects_and_flashes(signed_in, queue):
    response = signed_in.post("/admin/rebuild", data={"csrf_token": csrf_from(signed_in, "/admin")})
    assert response.status_code == 302 and location(response) == "/admin"
    [job] = queue.recent()
    notices = re.findall(r'<p class="notice" role="status">(.*?)</p>', text(signed_in.get("/admin")))
    assert any(job.job_id[:8] in n and "queued" in n.lower() for n in notices), notices


def test_second_rebuild_while_pending_says_it_joined(signed_in, queue, sent):
    token = csrf_from(signed_in, "/admin")
    signed_in.post("/admin/rebuild", data={"csrf_token": token}, headers=HX)
    response = signed_in.post("/admin/rebuild", data={"csrf_token": token}, headers=HX)
    notice = re.search(r'<p class="notice" role="status">(.*?)</p>', text(response)).group(1)
    assert "joined" in notice
    assert len(queue.recent()) == 1 and len(sent) == 1


def test_finished_job_row_stops_polling_and_announces_the_change(signed_in, queue, celery_app):
    """A finished row tells the index card to refresh and stops asking."""
    job_id, _ = queue.request_rebuild()
    version = f"v-{uuid.uuid4().hex[:8]}"
    celery_app.backend.store_result(job_id, {"index_version": version}, "SUCCESS")
    response = signed_in.get(f"/admin/jobs/{job_id}", headers=HX)
    body = text(response)
    assert response.status_code == 200 and version in body
    assert "hx-trigger" not in job_row(body, job_id) and "hx-get" not in job_row(body, job_id)
    assert response.headers.get("HX-Trigger") == "index-changed"


def test_running_job_row_keeps_polling_and_shows_progress(signed_in, queue, celery_app):
    job_id, _ = queue.request_rebuild()
    percent = 10 + uuid.UUID(job_id).int % 80
    celery_app.backend.store_result(job_id, {"stage": "index", "progress": percent}, "PROGRESS")
    queue.redis.set(queue.building_key, job_id)
    response = signed_in.get(f"/admin/jobs/{job_id}", headers=HX)
    body = text(response)
    assert 'hx-trigger="every 1s"' in job_row(body, job_id)
    bar = re.search(r"<progress[^>]*>", body)
    assert bar and f'value="{percent}"' in bar.group(0)
    assert "HX-Trigger" not in response.headers


def test_failed_job_row_shows_the_reason(signed_in, queue, celery_app):
    job_id, _ = queue.request_rebuild()
    reason = f"could not write the index ({uuid.uuid4().hex})"
    celery_app.backend.mark_as_failure(job_id, RuntimeError(reason))
    body = html.unescape(text(signed_in.get(f"/admin/jobs/{job_id}", headers=HX)))
    assert reason in body


def test_unknown_job_row_is_404(signed_in, queue):
    assert signed_in.get(f"/admin/jobs/{uuid.uuid4()}", headers=HX).status_code == 404


# -- catalog uploads ----------------------------------------------------------------------------

def test_bad_upload_is_refused_with_every_problem_and_leaves_nothing(signed_in, queue, sent, data_dir):
    """Validation happens before queueing: the operator sees file, column and row of each problem."""
    content, duplicate_row, empty_title_row = bad_items_csv()
    name = f"shop-{uuid.uuid4().hex[:6]}.csv"
    response = signed_in.post("/admin/catalog", content_type="multipart/form-data",
                              data=upload_data(csrf_from(signed_in, "/admin"), items=(content, name)))
    assert response.status_code == 422
    problems = error_items(text(response))
    assert any(name in p and "'item_id'" in p and "duplicate" in p and str(duplicate_row) in p for p in problems)
    assert any(name in p and "'title'" in p and "empty" in p and str(empty_title_row) in p for p in problems)
    assert queue.recent() == [] and sent == []
    assert uploads_left(data_dir) == []


def test_bad_upload_with_htmx_retargets_the_upload_form(signed_in, queue, data_dir):
    content, _, _ = bad_items_csv()
    response = signed_in.post("/admin/catalog", content_type="multipart/form-data", headers=HX,
                              data=upload_data(csrf_from(signed_in, "/admin"), items=(content, "items.csv")))
    body = text(response)
    assert response.status_code == 422 and response.headers["HX-Retarget"] == "#upload"
    assert "<html" not in body and body.lstrip().startswith('<form id="upload"')
    assert error_items(body)
    assert queue.recent() == [] and uploads_left(data_dir) == []


def test_good_upload_is_saved_and_queued(signed_in, queue, sent, data_dir, tmp_path):
    files = make_catalog(tmp_path / "good", n_items=24, n_users=8)
    response = signed_in.post("/admin/catalog", content_type="multipart/form-data", data=upload_data(
        csrf_from(signed_in, "/admin"), items=(files.items.read_bytes(), "my items.csv"),
        interactions=(files.interactions.read_bytes(), "my interactions.csv")))
    assert response.status_code == 302 and location(response) == "/admin"
    [job] = queue.recent()
    assert job.kind == "upload" and set(job.details) == {"items", "interactions"}
    [task] = sent
    assert task["name"] == REBUILD_TASK and task["task_id"] == job.job_id
    [saved] = uploads_left(data_dir)
    assert task["kwargs"] == {"upload_id": saved.name, "mode": "replace"}, "a job carries the upload id, never a path"
    assert (saved / job.details["items"]).read_bytes() == files.items.read_bytes()
    assert (saved / job.details["interactions"]).read_bytes() == files.interactions.read_bytes()


def test_upload_of_unsupported_file_type_names_the_type(signed_in, queue, data_dir):
    response = signed_in.post("/admin/catalog", content_type="multipart/form-data", data=upload_data(
        csrf_from(signed_in, "/admin"), items=(b"item_id,title\n1,One\n", "notes.txt")))
    assert response.status_code == 422
    assert any("notes.txt" in p and "'.txt'" in p for p in error_items(text(response)))
    assert queue.recent() == [] and uploads_left(data_dir) == []


def test_api_bad_upload_lists_problems_as_json(browser, admin_app, queue, data_dir):
    content, duplicate_row, _ = bad_items_csv()
    response = browser.post("/api/admin/catalog", headers=bearer(admin_app), content_type="multipart/form-data",
                            data=upload_data(None, items=(content, "items.csv")))
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert errors and all(set(e) == {"file", "column", "rows", "message", "text"} for e in errors)
    duplicate = [e for e in errors if e["column"] == "item_id"]
    assert duplicate and duplicate[0]["rows"] == [duplicate_row] and duplicate[0]["file"] == "items.csv"
    assert queue.recent() == [] and uploads_left(data_dir) == []


def test_api_good_upload_is_accepted(browser, admin_app, queue, tmp_path):
    files = make_catalog(tmp_path / "good", n_items=24, n_users=8, with_interactions=False)
    response = browser.post("/api/admin/catalog", headers=bearer(admin_app), content_type="multipart/form-data",
                            data=upload_data(None, items=(files.items.read_bytes(), "items.csv")))
    assert response.status_code == 202
    job_id = response.get_json()["job_id"]
    assert queue.status(job_id).kind == "upload"


def test_api_upload_without_items_file_is_422(browser, admin_app, queue):
    response = browser.post("/api/admin/catalog", headers=bearer(admin_app), content_type="multipart/form-data",
                            data={"other": (io.BytesIO(b"x"), "x.csv")})
    assert response.status_code == 422
    assert "no items file" in response.get_json()["errors"][0]["text"]
    assert queue.recent() == []


@pytest.fixture
def small_limit_app(data_dir, celery_app, sent):
    return with_fake_queue(make_app(data_dir, REDIS_URL="redis://fake", MAX_CONTENT_LENGTH=1024), celery_app)


def test_too_large_upload_is_413(small_limit_app, data_dir):
    """MAX_UPLOAD_MB caps what an upload can make the server store."""
    big = b"item_id,title\n" + b"".join(b"%d,Title number %d\n" % (i, i) for i in range(250))
    assert len(big) > 4 * small_limit_app.extensions["settings"].max_upload_bytes
    client = small_limit_app.test_client()
    sign_in(client, small_limit_app)
    page = client.post("/admin/catalog", content_type="multipart/form-data",
                       data=upload_data(csrf_from(client, "/admin"), items=(big, "items.csv")))
    assert page.status_code == 413
    api = client.post("/api/admin/catalog", headers=bearer(small_limit_app), content_type="multipart/form-data",
                      data=upload_data(None, items=(big, "items.csv")))
    assert api.status_code == 413 and "error" in api.get_json()
    assert small_limit_app.extensions["job_queue"].recent() == [] and uploads_left(data_dir) == []


# -- Redis down or not configured -----------------------------------------------------------------

@pytest.fixture
def redis_down_app(data_dir):
    """The real JobQueue (not injected), pointed at a port nothing listens on."""
    return make_app(data_dir, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")


def test_api_rebuild_with_redis_down_is_a_quick_503(redis_down_app):
    started = time.monotonic()
    response = redis_down_app.test_client().post("/api/admin/rebuild", headers=bearer(redis_down_app))
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "job queue unavailable" in response.get_json()["error"].lower()
    assert elapsed < 5


def test_dashboard_and_public_pages_work_with_redis_down(redis_down_app):
    """Only queueing needs Redis: the admin page explains, and searching is unaffected."""
    client = redis_down_app.test_client()
    sign_in(client, redis_down_app)
    page = client.get("/admin")
    assert page.status_code == 200 and "job queue unavailable" in text(page).lower()
    for path in ("/", "/search?q=a", "/items/1000/similar"):
        assert client.get(path).status_code == 200, path


def test_upload_with_redis_down_leaves_no_saved_files(redis_down_app, tmp_path):
    """A refused upload must not leave its copy under DATA_DIR/uploads (each retry would add another)."""
    data_dir = redis_down_app.extensions["settings"].data_dir
    before = set(uploads_left(data_dir))
    files = make_catalog(tmp_path / "good", n_items=24, with_interactions=False)
    response = redis_down_app.test_client().post(
        "/api/admin/catalog", headers=bearer(redis_down_app), content_type="multipart/form-data",
        data=upload_data(None, items=(files.items.read_bytes(), "items.csv")))
    assert response.status_code == 503
    leftover = set(uploads_left(data_dir)) - before
    assert not leftover, f"upload saved but never queued: {sorted(map(str, leftover))}"


def test_without_redis_url_admin_actions_say_so(built_data_dir):
    app = make_app(built_data_dir, REDIS_URL="")
    response = app.test_client().post("/api/admin/rebuild", headers=bearer(app))
    assert response.status_code == 503 and "REDIS_URL" in response.get_json()["error"]


# -- rollback and the index API -------------------------------------------------------------------

@pytest.mark.parametrize("body", [None, {}, {"version": ""}, {"version": 7}, ["v"]])
def test_api_rollback_with_bad_body_is_400(browser, admin_app, sent, body):
    kwargs = {"json": body} if body is not None else {"data": "not json", "content_type": "application/json"}
    response = browser.post("/api/admin/index/rollback", headers=bearer(admin_app), **kwargs)
    assert response.status_code == 400 and "version" in response.get_json()["error"]
    assert sent == []


@pytest.mark.parametrize("version", ["20000101T000000000Z-000000", "../indexes", ".hidden"])
def test_api_rollback_to_unknown_version_is_404(browser, admin_app, sent, version):
    response = browser.post("/api/admin/index/rollback", headers=bearer(admin_app), json={"version": version})
    assert response.status_code == 404 and sent == []


def test_api_rollback_to_kept_version_queues_the_task(browser, admin_app, queue, sent, data_dir, monkeypatch):
    """No worker runs here, so the job stays pending and the API answers 202 after its short wait."""
    monkeypatch.setattr(admin_actions, "ROLLBACK_WAIT_SECONDS", 0.3)
    version = IndexStore(data_dir / "indexes").versions()[-1]["version"]
    started = time.monotonic()
    response = browser.post("/api/admin/index/rollback", headers=bearer(admin_app), json={"version": version})
    assert time.monotonic() - started < 3
    assert response.status_code == 202
    answer = response.get_json()
    assert answer["state"] == "PENDING" and answer["version"] == version
    assert [(c["name"], c["task_id"], c["kwargs"]) for c in sent] == [(ROLLBACK_TASK, answer["job_id"],
                                                                       {"version": version})]
    assert queue.status(answer["job_id"]).kind == "rollback"


def test_api_rollback_finished_within_the_wait_is_200(browser, admin_app, celery_app, data_dir, monkeypatch):
    """When the worker finishes in time the caller learns it succeeded, not just that it was queued."""
    monkeypatch.setattr(admin_actions, "ROLLBACK_WAIT_SECONDS", 2)
    original = celery_app.send_task

    def instant_worker(name, *args, task_id, **kwargs):
        result = original(name, *args, task_id=task_id, **kwargs)
        celery_app.backend.store_result(task_id, {"index_version": kwargs["kwargs"]["version"]}, "SUCCESS")
        return result
    monkeypatch.setattr(celery_app, "send_task", instant_worker)
    version = IndexStore(data_dir / "indexes").current_version()
    response = browser.post("/api/admin/index/rollback", headers=bearer(admin_app), json={"version": version})
    assert response.status_code == 200 and response.get_json()["state"] == "SUCCESS"


def test_browser_rollback_queues_and_shows_the_job(signed_in, queue, data_dir):
    version = IndexStore(data_dir / "indexes").current_version()
    response = signed_in.post("/admin/rollback", headers=HX,
                              data={"csrf_token": csrf_from(signed_in, "/admin"), "version": version})
    assert response.status_code == 200
    [job] = queue.recent()
    assert job.kind == "rollback" and version in text(response)
    job_row(text(response), job.job_id)


def test_api_index_describes_the_served_index(browser, admin_app, data_dir):
    response = browser.get("/api/admin/index", headers=bearer(admin_app))
    assert response.status_code == 200
    answer = response.get_json()
    manifest = served_manifest(data_dir)
    current = answer["current"]
    assert {k: current[k] for k in ("version", "item_count", "dimensions")} == {
        k: manifest[k] for k in ("version", "item_count", "dimensions")}
    assert answer["serving"] == manifest["version"]
    assert [v["version"] for v in answer["versions"]] == [
        v["version"] for v in IndexStore(data_dir / "indexes").versions()]
