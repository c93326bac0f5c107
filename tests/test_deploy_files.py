"""Static checks that Procfile, docker-compose.yml and the Dockerfiles describe the same deployment.

No Docker engine is needed: the files are parsed and cross-checked, so drift between how
`honcho start` and `docker compose up` run the app fails here instead of in production.
"""

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BASE_IMAGE = "python:3.11-slim"
DOCKERFILE_FOR = {"web": "Dockerfile.web", "worker": "Dockerfile.worker", "flower": "Dockerfile.worker"}


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(map(str.strip, ln.split(":", 1)) for ln in lines if ln.strip() and not ln.startswith("#"))


def services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


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
    """Normalized argv: unwrap `sh -c`/`exec`, drop ${VAR:-default} defaults and concrete bind hosts,
    so the Procfile's 127.0.0.1 defaults compare equal to the containers' 0.0.0.0."""
    if isinstance(cmd, str):
        cmd = json.loads(cmd) if cmd.lstrip().startswith("[") else shlex.split(cmd)
    if from_compose:  # compose turns $$ into a literal $ for the container shell
        cmd = [tok.replace("$$", "$") for tok in cmd]
    if cmd[:2] == ["sh", "-c"]:
        cmd = shlex.split(cmd[2])
    if cmd and cmd[0] == "exec":
        cmd = cmd[1:]
    cmd = [re.sub(r"\$\{(\w+):[-?][^}]*\}", r"${\1}", tok) for tok in cmd]
    host = r"\$\{(?:BIND_HOST|FLOWER_ADDRESS)\}|\d{1,3}(?:\.\d{1,3}){3}"
    return [re.sub(rf"^(--address=)?(?:{host})", r"\1<host>", tok) for tok in cmd]


def env(service: dict) -> dict[str, str]:
    raw = service.get("environment") or {}
    pairs = raw.items() if isinstance(raw, dict) else (item.split("=", 1) for item in raw)
    return {k: str(v) for k, v in pairs}


def container_ports(service: dict) -> set[int]:
    return {int(str(p).split(":")[-1].split("/")[0]) for p in service.get("ports", [])}


def test_services_build_from_the_right_dockerfile():
    """Flower runs from the worker image, which is the one that must carry everything celery needs."""
    svc = services()
    assert {"redis", "web", "worker", "flower"} <= svc.keys(), "docker-compose.yml: missing services"
    for name, wanted in DOCKERFILE_FOR.items():
        got = (svc[name].get("build") or {}).get("dockerfile")
        assert got == wanted, f"docker-compose.yml {name}: builds {got}, expected {wanted}"


@pytest.mark.parametrize("name", ["web", "worker", "flower", "beat"])
def test_commands_match_procfile(name):
    """Compose commands and image CMDs run the same program, app target and flags as the Procfile."""
    expected = argv(procfile()[name])
    service = services().get(name)
    assert service is not None, f"docker-compose.yml: no service {name}"
    runs = []
    if "command" in service:
        runs.append((f"docker-compose.yml {name} command", argv(service["command"], from_compose=True)))
    image = DOCKERFILE_FOR.get(name, "Dockerfile.worker")
    if image == f"Dockerfile.{name}" or "command" not in service:  # the image's own CMD is for this process
        cmd = instruction(image, "CMD")
        assert cmd, f"{image}: no CMD for {name}"
        runs.append((f"{image} CMD", argv(cmd[-1])))
    for where, got in runs:
        assert got == expected, f"{where} differs from Procfile {name}:\n  {got}\n  {expected}"


def test_ports_agree():
    """The published ports are the ones the processes listen on by default."""
    proc, svc = procfile(), services()
    web_port = int(re.search(r"\$\{PORT:-(\d+)\}", proc["web"]).group(1))
    assert web_port == 5000, "Procfile web: default PORT should be 5000"
    assert container_ports(svc["web"]) == {web_port}, "docker-compose.yml web: port != Procfile PORT"
    assert instruction("Dockerfile.web", "EXPOSE") == [str(web_port)], "Dockerfile.web: EXPOSE != PORT"
    flower_port = int(re.search(r"\$\{FLOWER_PORT:-(\d+)\}", proc["flower"]).group(1))
    assert flower_port == 5555, "Procfile flower: default FLOWER_PORT should be 5555"
    assert container_ports(svc["flower"]) == {flower_port}, "docker-compose.yml flower: port != 5555"
    assert env(svc["flower"]).get("FLOWER_PORT") == str(flower_port), "docker-compose.yml flower: FLOWER_PORT"


def test_flower_requires_basic_auth():
    """Flower shows task arguments and can revoke jobs, so it is never served without auth."""
    assert "worker.flower" in procfile()["flower"], "Procfile flower: not started through worker.flower"
    assert "--basic-auth" not in procfile()["flower"], "Procfile flower: credentials on the command line"
    flower = services()["flower"]
    command = " ".join(argv(flower.get("command", ""), from_compose=True))
    assert "worker.flower" in command and "--basic-auth" not in command, "docker-compose.yml flower command"
    assert env(flower).get("FLOWER_BASIC_AUTH"), "docker-compose.yml flower: FLOWER_BASIC_AUTH is empty"


def test_index_store_is_shared():
    """The worker writes the Annoy index where the web tier reads it: one volume, one LIKEWISE_DATA_DIR."""
    for name in ("web", "worker"):
        service, image = services()[name], DOCKERFILE_FOR[name]
        mounts = [v.split(":")[1] for v in service.get("volumes", []) if v.startswith("index-store:")]
        data_dir = env(service).get("LIKEWISE_DATA_DIR")
        assert mounts == [data_dir], f"docker-compose.yml {name}: index-store {mounts} != {data_dir}"
        assert f"LIKEWISE_DATA_DIR={data_dir}" in " ".join(instruction(image, "ENV")), f"{image}: data dir"
        assert instruction(image, "VOLUME") == [data_dir], f"{image}: VOLUME != {data_dir}"


def test_dependencies_and_healthchecks():
    """Everything needs Redis; the core services report health so depends_on can wait on them."""
    svc = services()
    for name, service in svc.items():
        if name != "redis":
            assert "redis" in (service.get("depends_on") or {}), f"docker-compose.yml {name}: no redis dep"
    for name in ("redis", "web", "worker"):
        assert (svc[name].get("healthcheck") or {}).get("test"), f"docker-compose.yml {name}: no healthcheck"
    checks = instruction("Dockerfile.web", "HEALTHCHECK")
    assert checks and "/healthz" in checks[-1], "Dockerfile.web: no HEALTHCHECK on /healthz"


@pytest.mark.parametrize("name", ["Dockerfile.web", "Dockerfile.worker"])
def test_dockerfile_basics(name):
    """Pinned slim base, non-root runtime, and every source tree the app loads at runtime is copied."""
    rows = dockerfile(name)
    for args in (args for kind, args in rows if kind == "FROM"):
        assert args.split()[0] == BASE_IMAGE, f"{name}: FROM {args} is not {BASE_IMAGE}"
    users = instruction(name, "USER")
    assert users and users[-1].split(":")[0] not in ("root", "0"), f"{name}: runtime USER must not be root"
    sources = []
    for args in (args for kind, args in rows if kind == "COPY" and "--from=" not in args):
        sources += [p.rstrip("/") for p in args.split() if not p.startswith("--")][:-1]
    for required in ("pyproject.toml", "recommender", "web", "worker", "templates", "partials"):
        assert required in sources, f"{name}: does not COPY {required}"
    for src in sources:
        assert "*" in src or (ROOT / src).exists(), f"{name}: COPY source {src} does not exist in the repo"
