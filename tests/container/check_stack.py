"""`make container-test`: build the images, run the production compose stack under podman, check it.

Builds a local Debian base (official images cannot be pulled here) and, from it, stand-ins for Redis and
PostgreSQL, the proxy, and the web and worker images; starts redis, postgres, the first-index job, web1,
web2, worker1, worker2, the proxy and Flower; then checks through the published ports that the demo is
served, that an upload rebuilds the index on exactly one worker and both web containers serve the new
version within 2 s, that killing the building worker (kill -9) leaves the served index untouched and the
next rebuild succeeds on the other worker, that Flower refuses requests without auth, and that a
correct-token ingest client behind the proxy keeps getting 202 while another client fails 50 times (last:
its events schedule an automatic rebuild, which must not overlap the swap checks). Whatever
happens, every container, network, volume and image the run made is removed.

Not collected by pytest (`make test`); run with `.venv/bin/python -m tests.container.check_stack`.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.container import engine
from tests.container.client import Stack
from tests.helpers.processes import free_port, wait_for

ROOT = engine.ROOT
SERVICES = ["redis", "postgres", "init", "web1", "web2", "worker1", "worker2", "proxy", "flower"]
HEALTHY_SECONDS = 240
INIT_SECONDS = 600
SWAP_SECONDS = 2.0
BUILDING_SECONDS = 120
LOCK_SECONDS = 10
# Developer aid: a tag prefix of images built earlier (e.g. localhost/likewise-dev) skips the builds and
# keeps those images; the stack itself is still created and removed.
REUSE_IMAGES = os.environ.get("LIKEWISE_CT_REUSE_IMAGES", "")
UPLOAD_ITEMS = 9000


def tags(run_id: str) -> dict[str, str]:
    prefix = REUSE_IMAGES or f"localhost/likewise-ct-{run_id}"
    return {name: f"{prefix}-{name}:latest" for name in ("base", "redis", "postgres", "proxy", "web", "worker")}


def build_images(image: dict[str, str]) -> dict[str, float]:
    """Every image the stack runs, timed; the base first, everything else on it."""
    print("building the local Debian base (debootstrap) and the images on it", flush=True)
    seconds = {"base": engine.build_base(image["base"])}
    base_arg = {"BASE_IMAGE": image["base"]}
    for name in ("redis", "postgres", "proxy"):
        seconds[name] = engine.build(image[name], "Dockerfile", f"deploy/{name}", base_arg)
    for name in ("web", "worker"):
        seconds[name] = engine.build(image[name], f"Dockerfile.{name}", ".", {"PYTHON_IMAGE": image["base"]})
    return seconds


def stack_env(image: dict[str, str]) -> dict:
    """What an operator would put in `.env`: secrets, images, ports (free ones: the machine is shared), and the
    public origin, the proxy's published port."""
    http_port = free_port()
    return {
        "ADMIN_TOKEN": uuid.uuid4().hex, "SECRET_KEY": uuid.uuid4().hex, "INGEST_TOKEN": uuid.uuid4().hex,
        "POSTGRES_PASSWORD": uuid.uuid4().hex, "FLOWER_BASIC_AUTH": f"ops:{uuid.uuid4().hex}",
        "LIKEWISE_WEB_IMAGE": image["web"], "LIKEWISE_WORKER_IMAGE": image["worker"],
        "LIKEWISE_PROXY_IMAGE": image["proxy"], "REDIS_IMAGE": image["redis"], "POSTGRES_IMAGE": image["postgres"],
        "LIKEWISE_HTTP_PORT": str(http_port), "LIKEWISE_PUBLIC_URL": f"http://127.0.0.1:{http_port}",
        "LIKEWISE_FLOWER_PORT": str(free_port()),
        "LIKEWISE_TEST_WEB1_PORT": str(free_port()), "LIKEWISE_TEST_WEB2_PORT": str(free_port()),
        "LIKEWISE_LOCK_SECONDS": str(LOCK_SECONDS),
    }


def start(project: str, env: dict) -> float:
    """compose up (production file plus the test's port overlay); seconds until every service is healthy."""
    print(f"starting compose project {project}", flush=True)
    started = time.monotonic()
    engine.run(["podman-compose", "-p", project, *engine.COMPOSE_RUN_ARGS, "-f", "docker-compose.yml",
                "-f", "tests/container/compose.test.yml", "up", "-d", "--no-build", *SERVICES],
               engine.COMMAND_SECONDS * 2, env=engine.engine_env(env))
    init = engine.container_names(project, "init")
    try:
        wait_for(lambda: not engine.state(init[0])["Running"], INIT_SECONDS, "the first-index job", interval=1)
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}; its log ends:\n{engine.logs(init[0])[-3000:]}") from None
    assert engine.state(init[0])["ExitCode"] == 0, engine.logs(init[0])[-3000:]
    for service in SERVICES:
        if service != "init":
            wait_for(lambda s=service: healthy(project, s), HEALTHY_SECONDS, f"{service} healthy", interval=1)
    return time.monotonic() - started


def healthy(project: str, service: str) -> bool:
    """Runs the container's own health check (podman has no timer for it without systemd)."""
    (name,) = engine.container_names(project, service)
    if not engine.state(name)["Running"]:
        raise AssertionError(f"{service} stopped:\n{engine.logs(name)[-3000:]}")
    if engine.podman("inspect", "--format", "{{.Config.Healthcheck}}", name).strip() == "<nil>":
        return True  # no health check of its own (Flower): running is all it can say
    return engine.run(["podman", "healthcheck", "run", name], 60, check=False).returncode == 0


def upload_files(directory: Path) -> dict[str, Path]:
    """The demo catalog less its last items: a different catalog from the one being served, and big
    enough that a rebuild of it runs for seconds (the kill check needs a build to interrupt)."""
    import pandas as pd

    from recommender.catalog.demo import prepare_demo_catalog

    demo = prepare_demo_catalog(directory / "demo")
    items = pd.read_csv(demo.items_path).head(UPLOAD_ITEMS)
    interactions = pd.read_csv(demo.interactions_path)
    interactions = interactions[interactions["item_id"].isin(items["item_id"])]
    paths = {"items": directory / "items.csv", "interactions": directory / "interactions.csv"}
    items.to_csv(paths["items"], index=False)
    interactions.to_csv(paths["interactions"], index=False)
    return paths


def workers_that_ran(project: str, job_id: str) -> list[str]:
    """Worker services whose log shows they received the job."""
    return [service for service in ("worker1", "worker2")
            if job_id in engine.logs(engine.container_names(project, service)[0])]


def check_upload_swaps_both_webs(stack: Stack, project: str, directory: Path) -> str:
    files = upload_files(directory)
    stack.item_id = files["items"].read_text().splitlines()[1].split(",")[0]
    (before,) = set(stack.served_versions().values())
    job, switched, swap = stack.follow_and_time_swap(stack.upload(files), before)
    assert job["state"] == "SUCCESS", f"upload build failed: {job}"
    assert set(switched.values()) == {job["index_version"]}, f"webs switched to {switched}, job made {job}"
    ran_on = workers_that_ran(project, job["job_id"])
    assert len(ran_on) == 1, f"the upload build ran on {ran_on}, expected exactly one worker"
    assert swap <= SWAP_SECONDS, f"both web containers served {job['index_version']} {swap:.2f} s after publication"
    print(f"upload: built on {ran_on[0]} only; {before} -> {job['index_version']}, "
          f"served by web1 and web2 {swap:.2f} s after publication")
    return job["index_version"]


def check_killed_worker_changes_nothing(stack: Stack, project: str, served: str) -> None:
    job_id = stack.rebuild()
    wait_for(lambda: stack.job(job_id)["stage"] not in ("queued", "starting") and workers_that_ran(project, job_id),
             BUILDING_SECONDS, "the rebuild to be building", interval=0.1)
    (building,) = workers_that_ran(project, job_id)
    assert stack.job(job_id)["state"] not in ("SUCCESS", "FAILURE"), "the build finished before it could be killed"
    engine.podman("kill", "--signal", "KILL", engine.container_names(project, building)[0])
    time.sleep(SWAP_SECONDS)
    assert set(stack.served_versions().values()) == {served}, "a killed build changed what is served"
    assert stack.index()["published"] == served, "a killed build changed the published version"
    other = "worker2" if building == "worker1" else "worker1"
    job, switched, swap = stack.follow_and_time_swap(stack.rebuild(), served)
    assert job["state"] == "SUCCESS", f"the rebuild after the kill failed: {job}"
    assert set(switched.values()) == {job["index_version"]}, f"webs switched to {switched}, job made {job}"
    assert workers_that_ran(project, job["job_id"]) == [other], f"the rebuild after the kill did not run on {other}"
    assert swap <= SWAP_SECONDS, f"after the kill both webs served the new version {swap:.2f} s after publication"
    print(f"kill -9 of {building} while building: served {served} untouched; next rebuild on {other} "
          f"-> {job['index_version']}, served by both {swap:.2f} s after publication")


def report(images: dict[str, str], build_seconds: dict[str, float], start_seconds: float, total: float) -> None:
    print("\nimage      size MiB  build s")
    for name, tag in images.items():
        print(f"{name:<10} {engine.image_mib(tag):8.0f} {build_seconds[name]:8.1f}")
    print(f"stack start to healthy: {start_seconds:.1f} s; whole test so far: {total:.1f} s")


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("container test: stopped (time limit?)"))
    run_id = uuid.uuid4().hex[:8]
    project, images = f"likewise-ct-{run_id}", tags(run_id)
    started = time.monotonic()
    try:
        build_seconds = dict.fromkeys(images, 0.0) if REUSE_IMAGES else build_images(images)
        env = stack_env(images)
        start_seconds = start(project, env)
        stack = Stack(env)
        stack.check_demo_served()
        stack.check_flower_needs_auth()
        with tempfile.TemporaryDirectory() as directory:
            served = check_upload_swaps_both_webs(stack, project, Path(directory))
        check_killed_worker_changes_nothing(stack, project, served)
        stack.check_ingest_survives_a_failing_client()
        report(images, build_seconds, start_seconds, time.monotonic() - started)
        print("container test: passed")
        return 0
    finally:
        left = engine.cleanup(project, f"localhost/likewise-ct-{run_id}")
        print(f"cleanup: {'everything removed' if not left else 'LEFT ' + ', '.join(left)}")


if __name__ == "__main__":
    sys.exit(main())
