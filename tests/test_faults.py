"""Fault injection: a worker killed mid-build, Redis stopped under a running site, a corrupt index
version, a full disk during a build, and a web tier started after a publish it missed.

Real processes (redis-server, `celery worker`, gunicorn) except for the full disk, which is simulated
in-process. Every wait is bounded and every process is stopped when its test is done."""

from __future__ import annotations

import errno
import html
import json
import os
import secrets
import shutil
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import fakeredis
import pytest
import redis

import recommender.neighbours.annoy_index
import worker.tasks
from recommender.catalog.demo import prepare_demo_catalog
from recommender.catalog.sources import ActiveCatalog
from recommender.index_store import IndexStore, new_version_name, read_manifest, write_manifest
from recommender.pipeline import build_and_publish
from tests.helpers.apps import make_app
from tests.helpers.catalogs import make_catalog, small_data_dir
from tests.helpers.processes import (
    delete_prefixed,
    http_call,
    redis_on_port,
    redis_server,
    service_env,
    start_gunicorn,
    start_worker,
    stop_process,
    wait_for,
)
from web.processes.launch import start_embedded_redis
from worker.queue import REBUILD_TASK, JobQueue

pytestmark = pytest.mark.integration
TOKEN = "integration-admin-token"  # what tests.helpers.processes.service_env gives every service
PREFIX = f"likewise-faults-{uuid.uuid4().hex[:8]}:"
LOCK_SECONDS = 4
JOB_SECONDS = 120
ORPHAN_SECONDS = 20
HX = {"HX-Request": "true"}
FINISHED = ("SUCCESS", "FAILURE")


# -- helpers --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def redis_url():
    """One Redis for the module; every key it leaves is under PREFIX and removed at the end."""
    with redis_server() as (url, _process):
        try:
            yield url
        finally:
            delete_prefixed(url, PREFIX)


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def admin(base: str, path: str, method: str = "GET", timeout: float = 10) -> tuple[int, dict]:
    status, _, raw = http_call(base, path, method, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=timeout)
    return status, json.loads(raw)


def job(base: str, job_id: str) -> dict:
    status, answer = admin(base, f"/api/admin/jobs/{job_id}")
    assert status == 200, answer
    return answer


def follow(base: str, job_id: str, seconds: float = JOB_SECONDS) -> dict:
    return wait_for(lambda: (j := job(base, job_id))["state"] in FINISHED and j, seconds, f"job {job_id}",
                    interval=0.2)


def many(base: str, path: str, n: int = 16, headers: dict | None = None) -> list[tuple[int, dict, bytes]]:
    """n requests, 8 at a time, so both gunicorn worker processes answer some of them."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: http_call(base, path, headers=headers), range(n)))


def served_versions(base: str, path: str = "/items/1000/similar?k=5") -> list[tuple[int, str | None]]:
    return [(status, headers.get("X-Index-Version")) for status, headers, _ in many(base, path, headers=HX)]


def point_at(store: IndexStore, version: str) -> None:
    """Switch `current` the way IndexStore._point_at does: a new symlink renamed over the old one."""
    link = store.root / f".current-{secrets.token_hex(4)}"
    os.symlink(Path("versions") / version, link)
    os.replace(link, store.pointer)


# -- a worker killed in the middle of a build ---------------------------------------------------------

@pytest.fixture(scope="module")
def killed_build(tmp_path_factory, redis_url):
    """Run the scenario once and record what happened; the tests below each judge one promise.

    The active catalog is the demo one (its build takes several seconds: long enough to kill it half
    way); the first published version is a small catalog, only so the fixture does not spend a demo
    build on it."""
    root = tmp_path_factory.mktemp("killed")
    logs = tmp_path_factory.mktemp("killed-logs")
    data_dir = root / "data"
    prepare_demo_catalog(data_dir / "catalog")
    store = IndexStore(data_dir / "indexes")
    build_and_publish(store, make_catalog(root / "first", n_items=120))
    prefix = PREFIX + "kill:"
    lock_key = prefix + "build-lock"
    env = service_env(data_dir, redis_url, prefix, LIKEWISE_LOCK_SECONDS=LOCK_SECONDS)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    seen: dict = {"before": store.current_version(), "versions_before": names(store.versions_dir)}
    services = []
    try:
        first = start_worker(env, logs, "worker-1")
        services.append(first)
        web, base = start_gunicorn(env, logs)
        services.append(web)
        status, answer = admin(base, "/api/admin/rebuild", "POST")
        assert status == 202, answer
        killed_job = seen["killed_job"] = answer["job_id"]
        wait_for(lambda: (j := job(base, killed_job))["state"] == "PROGRESS" and j["progress"] >= 10, 90,
                 "the build to pass 10 %", interval=0.05)
        seen["leftovers"] = names(store.staging_root)
        first.signal(signal.SIGKILL)
        first.process.wait(timeout=10)
        killed_at = time.monotonic()
        seen["lock_ttl_ms"] = client.pttl(lock_key)
        seen["current_after_kill"] = store.current_version()
        seen["versions_after_kill"] = names(store.versions_dir)
        seen["served_after_kill"] = served_versions(base)
        with ThreadPoolExecutor(1) as pool:
            starting = pool.submit(start_worker, env, logs, "worker-2")  # meanwhile, watch the lock
            try:
                wait_for(lambda: not client.exists(lock_key), LOCK_SECONDS + 2, "the build lock to expire")
                seen["lock_gone_after"] = time.monotonic() - killed_at
            except TimeoutError:
                seen["lock_gone_after"] = None
            finally:
                services.append(starting.result(timeout=90))
        seen["second_request"] = admin(base, "/api/admin/rebuild", "POST")
        second_job = seen["second_request"][1].get("job_id")
        seen["orphan_states"], seen["second_job"] = [], {}
        deadline = time.monotonic() + JOB_SECONDS
        while time.monotonic() < deadline:
            if second_job:
                seen["second_job"] = job(base, second_job)
            orphan = seen["orphan"] = job(base, killed_job)
            seen["orphan_states"].append(orphan["state"])
            if seen["second_job"].get("state", "FAILURE") in FINISHED and (
                    orphan["state"] in FINISHED or time.monotonic() > killed_at + ORPHAN_SECONDS):
                break
            time.sleep(0.25)
        seen["staging_after"] = names(store.staging_root)
        seen["current_final"] = store.current_version()
        seen["versions_final"] = names(store.versions_dir)
        seen["published_by_killed_job"] = store.find_build(killed_job)
    finally:
        for service in reversed(services):
            service.stop()
    return seen


def test_killed_build_publishes_nothing_and_the_site_keeps_serving(killed_build):
    """A build killed half way leaves `current`, versions/ and what gunicorn serves exactly as they were."""
    seen = killed_build
    assert seen["current_after_kill"] == seen["before"]
    assert seen["versions_after_kill"] == seen["versions_before"], "a new or partial version appeared"
    assert seen["served_after_kill"] and all(a == (200, seen["before"]) for a in seen["served_after_kill"]), \
        seen["served_after_kill"]
    orphan = seen["orphan"]
    if orphan["state"] == "SUCCESS":
        assert seen["published_by_killed_job"] == orphan["index_version"]
    else:
        assert seen["published_by_killed_job"] is None, "the killed build published a version"


def test_build_lock_of_a_killed_worker_expires(killed_build):
    """The lock is renewed by a heartbeat that dies with the worker: it is gone within LOCK_SECONDS."""
    ttl = killed_build["lock_ttl_ms"]
    assert ttl == -2 or 0 <= ttl <= LOCK_SECONDS * 1000, f"lock TTL right after the kill: {ttl} ms"
    assert killed_build["lock_gone_after"] is not None, "the build lock was still held after its TTL"


def test_next_rebuild_succeeds_and_clears_the_killed_build_staging(killed_build):
    """A new rebuild takes the expired lock, clears the killed build's staging dir and publishes."""
    seen = killed_build
    status, answer = seen["second_request"]
    assert status == 202, answer
    assert answer["job_id"] != seen["killed_job"], "a new request joined the dead job"
    done = seen["second_job"]
    assert done["state"] == "SUCCESS", done
    assert done["index_version"] == seen["current_final"] != seen["before"]
    assert set(seen["versions_final"]) - set(seen["versions_before"]) == {done["index_version"]}
    assert seen["leftovers"], "the killed build had no staging dir to leave behind"
    assert seen["staging_after"] == [], f"staging leftovers after the next build: {seen['staging_after']}"


def test_job_of_a_killed_worker_ends_failed_or_redelivered(killed_build):
    """The job list must not show a dead build as running forever: FAILURE, or redelivered to SUCCESS."""
    orphan = killed_build["orphan"]
    assert orphan["state"] in FINISHED, (
        f"job {orphan['job_id']} is still {orphan['state']} ({orphan['stage']}, {orphan['progress']} %) "
        f"{ORPHAN_SECONDS} s after its worker was killed, with another worker running; states seen: "
        f"{sorted(set(killed_build['orphan_states']))}")


# -- Redis stopped while the site is up ------------------------------------------------------------

def test_site_serves_while_redis_is_down_and_queues_again_when_it_is_back(tmp_path):
    """Searching never needs Redis; queueing answers a quick 503, and works again without restarts."""
    data_dir = small_data_dir(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    redis_home = tmp_path / "redis-home"
    process, url = start_embedded_redis(redis_home)
    processes = [process]
    env = service_env(data_dir, url, PREFIX + "outage:")
    services = []
    try:
        services.append(start_worker(env, logs))
        web, base = start_gunicorn(env, logs)
        services.append(web)
        status, answer = admin(base, "/api/admin/rebuild", "POST")
        assert status == 202, answer
        warm = follow(base, answer["job_id"])
        assert warm["state"] == "SUCCESS", warm
        wait_for(lambda: all(v == (200, warm["index_version"]) for v in served_versions(base)), 10,
                 "both web processes to serve the warm-up build")

        stop_process(process)
        for path in ("/", "/search?q=river", "/items/1000/similar", "/api/items/1000/similar?k=3"):
            for headers in ({}, HX):
                answers = [status for status, _, _ in many(base, path, n=4, headers=headers)]
                assert answers == [200] * 4, (path, headers, answers)
        started = time.monotonic()
        status, refused = admin(base, "/api/admin/rebuild", "POST", timeout=30)
        elapsed = time.monotonic() - started
        assert status == 503 and "job queue unavailable" in refused["error"].lower(), refused
        assert elapsed < 5, f"the refusal took {elapsed:.1f} s"

        processes.append(redis_on_port(redis_home / "redis", urlsplit(url).port))
        status, answer = admin(base, "/api/admin/rebuild", "POST")
        assert status == 202, answer
        after = follow(base, answer["job_id"], seconds=90)
        assert after["state"] == "SUCCESS", after
        assert after["index_version"] != warm["index_version"]
        wait_for(lambda: all(v == (200, after["index_version"]) for v in served_versions(base)), 10,
                 "both web processes to serve the build queued after the outage")
    finally:
        for service in reversed(services):
            service.stop()
        for each in processes:
            stop_process(each)


# -- a corrupt index version -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def web_only(tmp_path_factory, redis_url):
    """gunicorn (2 processes) over a small published catalog; no worker is needed to corrupt files."""
    root = tmp_path_factory.mktemp("corrupt")
    logs = tmp_path_factory.mktemp("corrupt-logs")
    data_dir = small_data_dir(root)
    web, base = start_gunicorn(service_env(data_dir, redis_url, PREFIX + "corrupt:"), logs)
    try:
        yield {"base": base, "store": IndexStore(data_dir / "indexes"), "web": web}
    finally:
        web.stop()


def worker_pids(web) -> set[int]:
    """gunicorn's worker processes: the children of the master we started."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == web.process.pid:
            pids.add(int(stat.parent.name))
    return pids


def maps_version(pid: int, version_dir: Path) -> bool:
    """Whether a process has the version's files memory-mapped, i.e. has loaded that version."""
    try:
        return os.path.realpath(version_dir) + "/" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def both_processes_serve(web_only) -> set[int]:
    """Ask until each gunicorn process has loaded the current version (a process still booting has not)."""
    base, store, web = web_only["base"], web_only["store"], web_only["web"]
    version_dir = store.current_path()

    def loaded():
        many(base, "/items/1000/similar?k=5", n=8, headers=HX)
        pids = worker_pids(web)
        return len(pids) == 2 and all(maps_version(pid, version_dir) for pid in pids) and pids
    return wait_for(loaded, 30, "both gunicorn processes to load the served version")


DAMAGE = {
    "truncated index.ann": ("index.ann", "truncated"),
    "manifest item_count wrong": ("manifest says", "items"),
}


def publish_corrupt_copy(store: IndexStore, damage: str) -> str:
    """Copy the served version under a new name, damage it, and point `current` at it."""
    name = new_version_name()
    bad = store.versions_dir / name
    shutil.copytree(store.current_path(), bad)
    manifest = read_manifest(bad)
    manifest["version"] = name
    if damage == "truncated index.ann":
        index = bad / "index.ann"
        os.truncate(index, index.stat().st_size // 2)
    else:
        manifest["item_count"] = int(manifest["item_count"]) + 7
    write_manifest(bad, manifest)
    point_at(store, name)
    return name


def readyz_answers(base: str) -> list[dict]:
    answers = many(base, "/readyz", n=8)
    assert all(status == 200 for status, _, _ in answers), [status for status, _, _ in answers]
    return [json.loads(body) for _, _, body in answers]


def wait_until_reported(base: str, bad: str) -> list[dict]:
    """Until a process reports the bad version, then one more second so every watcher has tried it."""
    wait_for(lambda: any((a.get("load_error") or {}).get("version") == bad for a in readyz_answers(base)), 10,
             f"a web process to report {bad}")
    time.sleep(1.0)
    return readyz_answers(base)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_corrupt_version_is_not_served_and_the_reason_is_shown(web_only, damage):
    """The running processes keep the last good version; /readyz and /admin name the bad one and why."""
    base, store = web_only["base"], web_only["store"]
    good = store.current_version()
    both_processes_serve(web_only)
    assert all(v == (200, good) for v in served_versions(base)), "the stack does not serve the good version"
    bad = publish_corrupt_copy(store, damage)
    try:
        answers = wait_until_reported(base, bad)
        words = DAMAGE[damage]
        for answer in answers:
            assert answer["index_version"] == good, answer
            assert answer["load_error"]["version"] == bad, answer
            assert all(w in answer["load_error"]["reason"] for w in words), answer["load_error"]
        assert all(v == (200, good) for v in served_versions(base))
        reason = answers[0]["load_error"]["reason"]
        status, _, body = http_call(base, "/admin", headers={"Authorization": f"Bearer {TOKEN}"})
        page = html.unescape(body.decode())
        assert status == 200 and bad in page and reason in page, page[:2000]
    finally:
        point_at(store, good)
        shutil.rmtree(store.versions_dir / bad, ignore_errors=True)


def test_load_error_clears_when_current_points_at_the_served_version_again(web_only):
    """After an operator points `current` back at the good version, /readyz stops reporting the old failure."""
    base, store = web_only["base"], web_only["store"]
    good = store.current_version()
    both_processes_serve(web_only)
    bad = publish_corrupt_copy(store, "truncated index.ann")
    try:
        wait_until_reported(base, bad)
    finally:
        point_at(store, good)
        shutil.rmtree(store.versions_dir / bad, ignore_errors=True)
    time.sleep(1.0)
    stale = [a["load_error"] for a in readyz_answers(base) if a.get("load_error")]
    assert not stale, f"/readyz still reports a version that is no longer current: {stale[0]}"


def test_web_process_started_while_current_is_corrupt_serves_the_last_good_version(web_only):
    """gunicorn replaces a crashed or recycled worker at any time; a replacement started while `current`
    points at a corrupt version must serve the last good version too, not answer 503."""
    base, store, web = web_only["base"], web_only["store"], web_only["web"]
    good = store.current_version()
    good_dir = store.current_path()
    before = both_processes_serve(web_only)
    bad = publish_corrupt_copy(store, "truncated index.ann")
    try:
        wait_until_reported(base, bad)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        pids = wait_for(lambda: (p := worker_pids(web)) and len(p) == 2 and victim not in p and p, 20,
                        "gunicorn to replace the killed worker")
        [newcomer] = pids - before
        try:
            wait_for(lambda: many(base, "/readyz", n=8) and maps_version(newcomer, good_dir), 15,
                     "the replacement process to load the last good version")
        except TimeoutError:
            statuses = sorted({status for status, _, _ in many(base, "/readyz", n=16)})
            pytest.fail(f"the process started while `current` pointed at the corrupt {bad} loaded no version "
                        f"(/readyz statuses: {statuses}); {good} was kept and loadable")
        assert all(v == (200, good) for v in served_versions(base))
    finally:
        point_at(store, good)
        shutil.rmtree(store.versions_dir / bad, ignore_errors=True)


# -- the disk fills up during a build ------------------------------------------------------------------

def no_space(calls: list):
    def save(*args, **kwargs):
        calls.append(args[0] if args else kwargs.get("file"))
        raise OSError(errno.ENOSPC, "No space left on device")
    return save


def test_disk_full_during_a_build_publishes_nothing_and_leaves_no_staging(tmp_path, monkeypatch):
    """ENOSPC while writing the neighbour table: the error surfaces, the store is exactly as before."""
    data_dir = small_data_dir(tmp_path, n_items=60)
    store = IndexStore(data_dir / "indexes")
    before, versions_before = store.current_version(), names(store.versions_dir)
    calls = []
    monkeypatch.setattr(recommender.neighbours.annoy_index.np, "save", no_space(calls))
    with pytest.raises(OSError) as raised:
        build_and_publish(store, ActiveCatalog(data_dir / "catalog").files())
    assert raised.value.errno == errno.ENOSPC
    assert calls, "the build never reached the write that was made to fail"
    assert store.current_version() == before
    assert names(store.versions_dir) == versions_before
    assert names(store.staging_root) == []


def test_rebuild_task_on_a_full_disk_fails_saying_so(tmp_path, monkeypatch):
    """The Celery task (run eagerly) turns ENOSPC into a failure an operator can act on, publishes
    nothing, clears a killed build's leftovers under the lock, and releases the lock."""
    data_dir = small_data_dir(tmp_path, n_items=60)
    app = make_app(data_dir, REDIS_URL="redis://127.0.0.1:1/0")
    celery_app = app.extensions["celery"]
    celery_app.conf.update(task_always_eager=True, result_backend="cache+memory://")
    queue = JobQueue(fakeredis.FakeRedis(decode_responses=True), celery_app, "t:")
    monkeypatch.setattr(worker.tasks, "job_queue", lambda: queue)
    store = app.extensions["index_store"]
    before, versions_before = store.current_version(), names(store.versions_dir)
    leftover = store.staging_root / "build-left-by-a-killed-worker"
    leftover.mkdir(parents=True)
    (leftover / "index.ann").write_bytes(b"partial")
    calls = []
    monkeypatch.setattr(recommender.neighbours.annoy_index.np, "save", no_space(calls))
    result = celery_app.tasks[REBUILD_TASK].apply(kwargs={"reason": "test"}, task_id=str(uuid.uuid4()))
    assert calls and result.failed(), result.result
    message = str(result.result)
    assert "disk is full" in message and "nothing was published" in message, message
    assert store.current_version() == before
    assert names(store.versions_dir) == versions_before
    assert names(store.staging_root) == []
    assert not queue.redis.exists(queue.lock_key), "the build lock was not released"


# -- the web tier restarted around a publish ------------------------------------------------------------

def test_web_started_after_a_publish_serves_the_newest_version_at_once(tmp_path, redis_url):
    """A build that finished while the web tier was down is what the restarted web tier serves first."""
    data_dir = small_data_dir(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    store = IndexStore(data_dir / "indexes")
    env = service_env(data_dir, redis_url, PREFIX + "restart:")
    web, base = start_gunicorn(env, logs)
    try:
        status, _, body = http_call(base, "/readyz")
        first = json.loads(body)["index_version"]
        assert status == 200 and first == store.current_version()
    finally:
        web.stop()
    newest = build_and_publish(store, make_catalog(tmp_path / "next", n_items=100, seed=11))
    assert newest != first
    web, base = start_gunicorn(env, logs)
    try:
        status, _, body = http_call(base, "/readyz")
        assert status == 200 and json.loads(body)["index_version"] == newest
        assert all(v == (200, newest) for v in served_versions(base)), served_versions(base)
    finally:
        web.stop()
