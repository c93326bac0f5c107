"""Podman for the container test: run commands, build and time images, and remove what a run made.

Everything a run creates carries its project name (containers, networks, volumes: the compose labels)
or its image tag prefix, so cleanup removes exactly that and nothing of anyone else's."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = ROOT / "deploy" / "containers.conf"
COMMAND_SECONDS = 120
BUILD_SECONDS = 900
PROJECT_LABEL = "io.podman.compose.project"
# Containers keep the machine's resource limits: podman would otherwise raise the open-files and
# process limits above what a host that is itself a container may grant, and runc refuses to start.
COMPOSE_RUN_ARGS = ["--podman-run-args=--ulimit=host"]


def engine_env(extra: dict | None = None) -> dict:
    """The machine's environment with our podman configuration (never the machine's own file edited)."""
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF), **(extra or {})}


def run(argv: list[str], seconds: float = COMMAND_SECONDS, env: dict | None = None,
        check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds, env=env or engine_env(),
                            cwd=ROOT)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} ... failed ({result.returncode}):\n{result.stdout[-3000:]}"
                           f"\n{result.stderr[-3000:]}")
    return result


def podman(*args: str, seconds: float = COMMAND_SECONDS, check: bool = True) -> str:
    return run(["podman", *args], seconds, check=check).stdout


def build(tag: str, containerfile: str, context: str, build_args: dict) -> float:
    """Build one image (nicely: the machine is shared) and return the seconds it took."""
    argv = ["nice", "-n", "10", "podman", "build", "--pull=never", "--format", "docker", "--layers=false",
            "-t", tag, "-f", containerfile]
    for name, value in build_args.items():
        argv += ["--build-arg", f"{name}={value}"]
    started = time.monotonic()
    run([*argv, context], BUILD_SECONDS)
    return time.monotonic() - started


def build_base(tag: str) -> float:
    started = time.monotonic()
    run(["nice", "-n", "10", str(ROOT / "deploy" / "local-base.sh"), tag], BUILD_SECONDS)
    return time.monotonic() - started


def image_mib(tag: str) -> float:
    return int(podman("image", "inspect", "--format", "{{.Size}}", tag).strip()) / 2**20


def container_names(project: str, service: str | None = None) -> list[str]:
    filters = ["--filter", f"label={PROJECT_LABEL}={project}"]
    if service:
        filters += ["--filter", f"label=com.docker.compose.service={service}"]
    return podman("ps", "-a", *filters, "--format", "{{.Names}}").split()


def logs(container: str) -> str:
    """Both streams: celery and gunicorn log to stderr."""
    result = run(["podman", "logs", container], check=False)
    return result.stdout + result.stderr


def state(container: str) -> dict:
    return json.loads(podman("inspect", "--format", "{{json .State}}", container))


def cleanup(project: str, tag_prefix: str) -> list[str]:
    """Remove the run's containers, networks, volumes and images; returns what could not be removed."""
    left = []
    label = f"label={PROJECT_LABEL}={project}"
    for kind, listing, remove in (
            ("container", ["ps", "-a", "--filter", label, "--format", "{{.Names}}"], ["rm", "-f", "-v", "-t", "0"]),
            ("network", ["network", "ls", "--filter", label, "--format", "{{.Name}}"], ["network", "rm", "-f"]),
            ("volume", ["volume", "ls", "--filter", label, "--format", "{{.Name}}"], ["volume", "rm", "-f"]),
            ("image", ["images", "--format", "{{.Repository}}:{{.Tag}}"], ["rmi", "-f"])):
        names = [n for n in podman(*listing, check=False).split() if kind != "image" or n.startswith(tag_prefix)]
        if names and run(["podman", *remove, *names], check=False).returncode != 0:
            left += [f"{kind} {name}" for name in names]
    return left
