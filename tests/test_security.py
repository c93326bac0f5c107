"""Security properties not covered by test_admin.py and test_views.py: Bearer on admin pages, no cookie
on the admin API, CSRF on every form, the login throttle, constant-time token checks, cookie flags and
production settings, response headers on every kind of answer, the htmx configuration, Flower's auth,
debug mode, and what `make run` prints."""

from __future__ import annotations

import base64
import hmac
import io
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import celery
import fakeredis
import pytest

import web.auth
import web.processes.launch
from recommender.index_store import IndexStore
from recommender.pipeline import build_and_publish
from recommender.settings import ConfigError, settings_from_env
from tests.helpers.apps import make_app
from tests.helpers.catalogs import make_catalog
from tests.helpers.processes import free_port, wait_for
from web import create_app
from web.auth import limiter as throttle
from worker.queue import JobQueue

ROOT = Path(__file__).resolve().parent.parent
HX = {"HX-Request": "true"}
ADMIN_PAGES = ["/admin", "/admin/jobs", "/admin/index-card", "/admin/jobs/{job_id}"]
SAFE_REFERRER_POLICIES = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}


@pytest.fixture
def data_dir(tmp_path, small_catalog):
    directory = tmp_path / "data"
    build_and_publish(IndexStore(directory / "indexes"), small_catalog)
    return directory


@pytest.fixture
def admin_app(data_dir):
    app = make_app(data_dir, REDIS_URL="redis://fake")
    app.extensions["job_queue"] = JobQueue(fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True),
                                           celery.Celery("t", broker="memory://", backend="cache+memory://"), "t:")
    return app


@pytest.fixture
def queue(admin_app) -> JobQueue:
    return admin_app.extensions["job_queue"]


def bearer(app, token: str | None = None) -> dict:
    return {"Authorization": f"Bearer {token or app.extensions['settings'].admin_token}"}


def csrf_from(client, path: str, headers: dict | None = None) -> str:
    body = client.get(path, headers=headers or {}).get_data(as_text=True)
    match = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', body)
    assert match, f"no csrf_token on {path}"
    return match.group(1)


def sign_in(client, app) -> None:
    response = client.post("/admin/login", data={"token": app.extensions["settings"].admin_token,
                                                 "csrf_token": csrf_from(client, "/admin/login")})
    assert response.status_code == 302, response.status_code


def signed_in(client) -> bool:
    return client.get("/admin").status_code == 200


# -- who may use the admin area --------------------------------------------------------------------

@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_bearer_token_opens_admin_pages_and_a_wrong_one_does_not(admin_app, queue, page):
    """Scripts can read the admin pages with the Bearer token instead of a session."""
    path = page.format(job_id=queue.request_rebuild()[0])
    client = admin_app.test_client()
    assert client.get(path, headers=bearer(admin_app)).status_code == 200
    wrong = client.get(path, headers=bearer(admin_app, "not-" + admin_app.extensions["settings"].admin_token))
    assert wrong.status_code == 302 and urlsplit(wrong.headers["Location"]).path == "/admin/login"


def test_signed_in_session_opens_no_admin_api_route(admin_app, queue):
    """The JSON API is CSRF-exempt, so the cookie a forged cross-site request would carry opens none of it."""
    client = admin_app.test_client()
    sign_in(client, admin_app)
    job_id, _ = queue.request_rebuild()
    routes = [(sorted(r.methods - {"HEAD", "OPTIONS"})[0], re.sub(r"<[^>]+>", job_id, r.rule))
              for r in admin_app.url_map.iter_rules() if r.rule.startswith("/api/admin")]
    assert len(routes) >= 5
    for n, (method, path) in enumerate(routes):  # more routes than the attempt limit: one client address each
        client.environ_base["REMOTE_ADDR"] = f"192.0.2.{n}"
        response = client.open(path, method=method, data={"items": (io.BytesIO(b"item_id,title\n1,a\n"), "i.csv")}
                               if path.endswith("/catalog") else None, json={"version": "x"}
                               if path.endswith("/rollback") else None)
        assert response.status_code == 401, (method, path, response.status_code)
    assert [j.job_id for j in queue.recent()] == [job_id], "a cookie-authenticated API call queued a job"


# -- CSRF on every form ----------------------------------------------------------------------------

def form_posts(app, data_dir) -> dict[str, dict]:
    """Every form POST with the fields it needs apart from the CSRF token."""
    version = IndexStore(data_dir / "indexes").current_version()
    files = make_catalog(data_dir.parent / f"upload-{uuid.uuid4().hex[:6]}", n_items=24, with_interactions=False)
    return {
        "/items/similar": {"item_id": "1000", "k": "5"},
        "/admin/login": {"token": app.extensions["settings"].admin_token},
        "/admin/rebuild": {},
        "/admin/catalog": {"items": (io.BytesIO(files.items.read_bytes()), "items.csv")},
        "/admin/rollback": {"version": version},
        "/admin/logout": {},
    }


@pytest.mark.parametrize("path", ["/items/similar", "/admin/login", "/admin/rebuild", "/admin/catalog",
                                  "/admin/rollback", "/admin/logout"])
@pytest.mark.parametrize("token", ["none", "forged", "another session's"])
def test_every_form_post_needs_this_session_csrf_token(admin_app, queue, data_dir, path, token):
    """Without this session's token a form post is a 400 and does nothing: no job, no sign-in or sign-out."""
    client = admin_app.test_client()
    sign_in(client, admin_app)
    data = form_posts(admin_app, data_dir)[path]
    if token == "forged":
        data["csrf_token"] = "IjAwMDAi.forged.token"
    elif token == "another session's":
        other = admin_app.test_client()
        sign_in(other, admin_app)
        data["csrf_token"] = csrf_from(other, "/admin")
    for headers in ({}, HX):
        body = {k: (io.BytesIO(v[0].getvalue()), v[1]) if isinstance(v, tuple) else v for k, v in data.items()}
        response = client.post(path, data=body, headers=headers, content_type="multipart/form-data")
        assert response.status_code == 400, (path, token, headers, response.status_code)
    assert queue.recent() == [], "a post without a valid CSRF token queued a job"
    assert signed_in(client), "a post without a valid CSRF token signed the browser out"
    uploads = data_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


# -- signing in --------------------------------------------------------------------------------------

def test_login_throttle_is_not_reset_by_a_forwarded_for_header(admin_app):
    """The throttle keys on the connection's address: a client cannot claim a new address per guess."""
    client = admin_app.test_client()
    token = csrf_from(client, "/admin/login")
    statuses = [client.post("/admin/login", data={"token": f"guess-{i}", "csrf_token": token},
                            headers={"X-Forwarded-For": f"203.0.113.{i}", "X-Real-IP": f"198.51.100.{i}"}).status_code
                for i in range(throttle.attempts + 2)]
    assert statuses[:throttle.attempts] == [401] * throttle.attempts
    assert set(statuses[throttle.attempts:]) == {429}, statuses


def test_token_checks_use_a_constant_time_comparison(admin_app, monkeypatch):
    """Both the Bearer header and the sign-in form compare the token with hmac.compare_digest."""
    calls, original = [], hmac.compare_digest

    def recording(a, b):
        calls.append((a, b))
        return original(a, b)
    monkeypatch.setattr(web.auth.hmac, "compare_digest", recording)
    client = admin_app.test_client()
    guess = "guess-" + uuid.uuid4().hex
    assert client.get("/api/admin/index", headers=bearer(admin_app, guess)).status_code == 401
    assert any(guess.encode() in (a, b) for a, b in calls), "the Bearer token was not compared by compare_digest"
    calls.clear()
    token = csrf_from(client, "/admin/login")
    assert client.post("/admin/login", data={"token": guess, "csrf_token": token}).status_code == 401
    assert any(guess.encode() in (a, b) for a, b in calls), "the sign-in token was not compared by compare_digest"


# -- cookies and production settings ------------------------------------------------------------------

def production_env(data_dir: Path, **overrides) -> dict:
    env = {"LIKEWISE_ENV": "production", "LIKEWISE_DATA_DIR": str(data_dir), "SECRET_KEY": "s-" + uuid.uuid4().hex,
           "ADMIN_TOKEN": "t-" + uuid.uuid4().hex, "INGEST_TOKEN": "i-" + uuid.uuid4().hex,
           "LIKEWISE_PUBLIC_URL": "https://likewise.example"}
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


@pytest.mark.parametrize("mode", ["production", "development"])
def test_session_cookie_flags(data_dir, mode):
    """HttpOnly and SameSite=Lax always; Secure in production (and not in development, which runs on http)."""
    env = production_env(data_dir) if mode == "production" else {"LIKEWISE_DATA_DIR": str(data_dir)}
    app = create_app(settings_from_env(env))
    client = app.test_client()
    login = client.get("/admin/login", base_url="https://localhost")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login.get_data(as_text=True)).group(1)
    response = client.post("/admin/login", data={"token": app.extensions["settings"].admin_token, "csrf_token": token},
                           base_url="https://localhost", headers={"Referer": "https://localhost/admin/login"})
    assert response.status_code == 302
    cookie = next(c for c in response.headers.getlist("Set-Cookie")
                  if c.startswith(app.config["SESSION_COOKIE_NAME"] + "="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert "httponly" in flags and "samesite=lax" in flags, cookie
    assert ("secure" in flags) == (mode == "production"), cookie


@pytest.mark.parametrize("missing", [("SECRET_KEY",), ("ADMIN_TOKEN",), ("INGEST_TOKEN",),
                                     ("SECRET_KEY", "ADMIN_TOKEN")])
@pytest.mark.parametrize("empty", [None, ""], ids=["unset", "empty"])
def test_production_refuses_to_start_without_its_secrets(tmp_path, missing, empty):
    """Production never generates or guesses a secret: it stops and names what is missing."""
    env = production_env(tmp_path, **{name: empty for name in missing})
    with pytest.raises(ConfigError) as raised:
        settings_from_env(env)
    assert all(name in str(raised.value) for name in missing), raised.value
    assert not (tmp_path / "secret_key").exists() and not (tmp_path / "admin_token").exists()


@pytest.mark.parametrize("name", ["SECRET_KEY", "ADMIN_TOKEN", "INGEST_TOKEN"])
def test_production_refuses_secrets_shorter_than_32_characters(tmp_path, name):
    """A short secret can be guessed: production names it and the minimum, and writes nothing."""
    env = production_env(tmp_path, **{name: "x" * 31})
    with pytest.raises(ConfigError) as raised:
        settings_from_env(env)
    assert name in str(raised.value) and "32" in str(raised.value), raised.value
    assert settings_from_env(production_env(tmp_path, **{name: "x" * 32})).production


@pytest.mark.parametrize("mode", ["production", "development"])
def test_app_is_never_in_debug_mode(data_dir, mode):
    env = production_env(data_dir) if mode == "production" else {"LIKEWISE_DATA_DIR": str(data_dir)}
    app = create_app(settings_from_env(env))
    assert app.debug is False and not app.config["DEBUG"]


def test_production_ignores_flask_debug_from_the_environment(data_dir, monkeypatch):
    """FLASK_DEBUG=1 left in a production environment must not switch debug mode (and error propagation) on."""
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app(settings_from_env(production_env(data_dir)))
    assert app.debug is False, "FLASK_DEBUG=1 turned debug mode on in production"


# -- headers on every kind of response -----------------------------------------------------------------

@pytest.fixture
def header_app(data_dir):
    """The admin app plus one route that fails, to see the headers of a 500 as well."""
    app = make_app(data_dir, REDIS_URL="redis://fake", TESTING=False, MAX_CONTENT_LENGTH=2000)

    def boom():
        raise RuntimeError("planned failure for the header test")
    app.add_url_rule("/_test_500", "boom", boom)
    return app


RESPONSES = {
    "page": ("GET", "/", {}, 200),
    "fragment": ("GET", "/search?q=river", HX, 200),
    "json": ("GET", "/api/items/1000", {}, 200),
    "404 page": ("GET", "/items/nope", {}, 404),
    "404 fragment": ("GET", "/items/nope/similar", HX, 404),
    "404 json": ("GET", "/api/nothing", {}, 404),
    "400 page": ("GET", "/items/1000/similar?k=0", {}, 400),
    "400 csrf": ("POST", "/items/similar", {}, 400),
    "401 json": ("POST", "/api/admin/rebuild", {}, 401),
    "405 json": ("POST", "/api/items/1000", {}, 405),
    "413": ("POST", "/api/admin/catalog", {}, 413),
    "500 page": ("GET", "/_test_500", {}, 500),
    "redirect": ("GET", "/admin", {}, 302),
    "static css": ("GET", "/static/likewise.css", {}, 200),
    "static js": ("GET", None, {}, 200),
    "healthz": ("GET", "/healthz", {}, 200),
}


def csp_directives(header: str) -> dict[str, list[str]]:
    parts = [p.split() for p in header.split(";") if p.strip()]
    return {p[0].lower(): p[1:] for p in parts}


def htmx_path(client) -> str:
    return re.search(r'<script[^>]*src="([^"]*htmx[^"]*)"', client.get("/").get_data(as_text=True)).group(1)


@pytest.mark.parametrize("kind", list(RESPONSES))
def test_security_headers_on_every_kind_of_response(header_app, kind):
    """Scripts only from this site and never eval'd or inline, no framing, no sniffing, no referrer leak,
    no cross-origin reads: on pages, fragments, JSON, errors, redirects and static files alike."""
    method, path, headers, status = RESPONSES[kind]
    client = header_app.test_client()
    path = path or htmx_path(client)
    if kind == "413":
        headers = bearer(header_app)
        data = {"items": (io.BytesIO(b"x" * 5000), "items.csv")}
    else:
        data = None
    response = client.open(path, method=method, headers=headers, data=data)
    assert response.status_code == status, (kind, response.status_code)
    csp = response.headers.get("Content-Security-Policy", "")
    directives = csp_directives(csp)
    assert directives.get("script-src") == ["'self'"], csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, csp
    assert directives.get("frame-ancestors") == ["'none'"], csp
    assert directives.get("object-src") == ["'none'"] and "default-src" in directives, csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") in SAFE_REFERRER_POLICIES
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/items/1000", "/items/similar", "/admin/login", "/items/nope"])
def test_htmx_is_configured_safely_and_loaded_from_this_site(header_app, path):
    """No eval, no script tags from swapped HTML, requests only to this site, and history restores get
    whole pages; htmx itself and every other script come from /static, with nothing inline."""
    client = header_app.test_client()
    body = client.get(path).get_data(as_text=True)
    meta = re.search(r"<meta[^>]*name=\"htmx-config\"[^>]*content='([^']*)'", body)
    assert meta, "no htmx-config meta tag"
    config = json.loads(meta.group(1))
    assert config.get("allowEval") is False and config.get("allowScriptTags") is False, config
    assert config.get("selfRequestsOnly") is True and config.get("historyRestoreAsHxRequest") is False, config
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", body, re.S)
    assert scripts, "the page loads no script at all"
    for attributes, inline in scripts:
        src = re.search(r'src="([^"]+)"', attributes)
        assert src and src.group(1).startswith("/static/") and not inline.strip(), attributes
        served = client.get(src.group(1))
        assert served.status_code == 200 and "javascript" in served.mimetype
    assert not re.search(r'<(?:link|script)\b[^>]*(?:src|href)="(?:https?:)?//', body), \
        "the page loads something from another site"


# -- deployment files --------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, "", "admin", "admin:", ":secret"])
def test_flower_refuses_to_start_without_usable_basic_auth(value):
    """Flower shows task arguments and can revoke jobs: no credentials, no Flower."""
    env = {"PATH": os.environ["PATH"], **({} if value is None else {"FLOWER_BASIC_AUTH": value})}
    refused = subprocess.run([sys.executable, "-m", "worker.flower", "--port=1"], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "FLOWER_BASIC_AUTH" in refused.stderr, refused


def test_flower_credentials_never_appear_on_a_command_line(tmp_path):
    """`ps` shows every process's arguments to every local user: the password stays in the environment."""
    secret = "ops:" + uuid.uuid4().hex
    port = free_port()
    env = {**os.environ, "FLOWER_BASIC_AUTH": secret, "REDIS_URL": "redis://127.0.0.1:1/0",
           "LIKEWISE_DATA_DIR": str(tmp_path)}
    flower = subprocess.Popen([sys.executable, "-m", "worker.flower", "--address=127.0.0.1", f"--port={port}"],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        status = wait_for(lambda: flower_status(port), 60, "Flower")
        assert status == 401, "Flower answered without auth"
        assert flower_status(port, secret) == 200
        cmdline = Path(f"/proc/{flower.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert "flower" in cmdline and secret.split(":")[1] not in cmdline, cmdline
    finally:
        os.killpg(flower.pid, signal.SIGKILL)
        flower.wait(timeout=10)


def flower_status(port: int, credentials: str | None = None) -> int | None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/")
    if credentials:
        request.add_header("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


# -- what `make run` prints -----------------------------------------------------------------------------

class FakeSupervisor:
    """Stands in for the supervisor web.processes.launch.main starts: it records the environment and returns."""

    def __init__(self, commands, env, cwd):
        self.env = env

    def run(self) -> int:
        return 0


@pytest.fixture
def launch(tmp_path, monkeypatch, capsys):
    """Run web.processes.launch.main without starting anything; returns (output, env handed to the processes)."""
    data_dir = tmp_path / "var"
    for name in ("ADMIN_TOKEN", "SECRET_KEY", "LIKEWISE_ENV", "FLOWER_BASIC_AUTH", "LIKEWISE_REBUILD_EVERY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LIKEWISE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(web.processes.launch, "first_index", lambda env: None)
    monkeypatch.setattr(web.processes.launch.signal, "signal", lambda *args: None)
    started = []
    monkeypatch.setattr(web.processes.launch, "Supervisor",
                        lambda *a: started.append(FakeSupervisor(*a)) or started[-1])

    def run(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        assert web.processes.launch.main([]) == 0
        return capsys.readouterr().out, started[-1].env
    return run, data_dir


def test_make_run_prints_the_admin_token_only_when_it_generated_it(launch):
    run, data_dir = launch
    first, env = run()
    token = (data_dir / "admin_token").read_text().strip()
    secret_key = (data_dir / "secret_key").read_text().strip()
    assert token in first, "the first start must tell the user the token it generated"
    assert env["FLOWER_BASIC_AUTH"].endswith(":" + token)
    again, _ = run()
    assert token not in again and str(data_dir / "admin_token") in again, again
    assert secret_key not in first + again


def test_make_run_never_prints_a_token_given_in_the_environment(launch):
    run, _ = launch
    token = "env-token-" + uuid.uuid4().hex
    out, _ = run(ADMIN_TOKEN=token, FLOWER_BASIC_AUTH="ops:" + uuid.uuid4().hex)
    assert token not in out
    assert "ops:" not in out


# -- other ways to make the server write or redirect somewhere else ----------------------------------------

def test_upload_file_names_cannot_choose_where_files_are_stored(admin_app, data_dir, tmp_path):
    """A client-supplied name like ../../x.csv never becomes a path: files land in a fresh uploads dir."""
    files = make_catalog(tmp_path / "good", n_items=24, with_interactions=False)
    name = f"../../../escape-{uuid.uuid4().hex[:6]}.csv"
    response = admin_app.test_client().post(
        "/api/admin/catalog", headers=bearer(admin_app), content_type="multipart/form-data",
        data={"items": (io.BytesIO(files.items.read_bytes()), name)})
    assert response.status_code == 202
    escaped = list(tmp_path.rglob("escape-*")) + list(Path.cwd().glob("escape-*"))
    assert not escaped, escaped
    [saved] = list((data_dir / "uploads").iterdir())
    assert sorted(p.name for p in saved.iterdir()) == ["items.csv"]


@pytest.mark.parametrize("item_id", ["//evil.example", "https://evil.example/x", "\\\\evil.example", "/\\evil.example"])
def test_similar_form_redirect_stays_on_this_site(admin_app, item_id):
    response = admin_app.test_client().get("/items/similar", query_string={"item_id": item_id})
    assert response.status_code in (301, 302, 303, 307, 308)
    target = urlsplit(response.headers["Location"])
    assert target.netloc in ("", "localhost") and target.path.startswith("/items/"), response.headers["Location"]


def test_internal_errors_do_not_leak_details(header_app):
    """A 500 says something went wrong, not what: no exception text, no source paths."""
    for headers in ({}, HX):
        body = header_app.test_client().get("/_test_500", headers=headers).get_data(as_text=True)
        assert "planned failure" not in body and str(ROOT) not in body and "RuntimeError" not in body
