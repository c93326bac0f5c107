"""`make run`'s launcher end to end: one command prepares the demo, starts Redis, web, worker and
Flower, says where to go, and stops every process it started."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import redis

from tests.helpers.processes import ROOT, free_port, wait_for
from web import create_app
from worker.queue import REBUILD_TASK
from worker.tasks import LOCK_WAIT_STAGE

START_SECONDS = 180
STOP_SECONDS = 40


def status_of(url: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0


def session_processes(sid: int) -> list[str]:
    listing = subprocess.run(["ps", "-o", "pid=,args=", "-s", str(sid)], capture_output=True, text=True, timeout=10)
    return [line.strip() for line in listing.stdout.splitlines() if line.strip()]


def test_periodic_rebuild_is_switched_on_by_one_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("LIKEWISE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LIKEWISE_REBUILD_EVERY", raising=False)
    assert not create_app().extensions["celery"].conf.beat_schedule
    monkeypatch.setenv("LIKEWISE_REBUILD_EVERY", "3600")
    schedule = create_app().extensions["celery"].conf.beat_schedule
    assert [(entry["task"], entry["schedule"]) for entry in schedule.values()] == [(REBUILD_TASK, 3600.0)]


@pytest.mark.integration
def test_launcher_serves_the_demo_and_stops_everything(tmp_path):
    data_dir = tmp_path / "var"
    port, flower_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "ADMIN_TOKEN", "SECRET_KEY", "FLOWER_BASIC_AUTH", "LIKEWISE_REBUILD_EVERY")}
    env.update(LIKEWISE_DATA_DIR=str(data_dir), PORT=str(port), FLOWER_PORT=str(flower_port), PYTHONUNBUFFERED="1")
    log_path = tmp_path / "launch.log"
    with open(log_path, "wb") as log:
        launcher = subprocess.Popen([sys.executable, "-m", "web.processes.launch"], cwd=ROOT, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: status_of(f"http://127.0.0.1:{port}/readyz") == 200 or launcher.poll() is not None,
                 START_SECONDS, "the launched site")
        assert launcher.poll() is None, log_path.read_text()
        output = log_path.read_text()
        token = (data_dir / "admin_token").read_text().strip()
        assert f"http://127.0.0.1:{port}/" in output and token in output, output
        assert "embedded" in output
        wait_for(lambda: status_of(f"http://127.0.0.1:{flower_port}/") == 401, 60, "Flower")
        credentials = base64.b64encode(f"admin:{token}".encode()).decode()
        assert status_of(f"http://127.0.0.1:{flower_port}/", {"Authorization": f"Basic {credentials}"}) == 200
        assert status_of(f"http://127.0.0.1:{port}/search?q=toy+sto") == 200
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(launcher.pid, signal.SIGINT)
        try:
            launcher.wait(timeout=STOP_SECONDS)
        finally:
            leftovers = session_processes(launcher.pid)
            kill_session(launcher.pid)
    assert not leftovers, f"still running after Ctrl-C: {leftovers}"
    assert list((data_dir / "redis").rglob("*.aof")), "the embedded Redis kept no append-only file"


# -- a dead process is started again; job history survives a restart of the stack -----------------

JOB_SECONDS = 400
E2E_TIMEOUT_SECONDS = 1200
RESTART_SECONDS = 60
WORKER_ARGS = "worker.celery_app worker"


def launcher_env(data_dir, port: int, flower_port: int) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "ADMIN_TOKEN", "SECRET_KEY", "FLOWER_BASIC_AUTH", "LIKEWISE_REBUILD_EVERY")}
    env.update(LIKEWISE_DATA_DIR=str(data_dir), PORT=str(port), FLOWER_PORT=str(flower_port), PYTHONUNBUFFERED="1")
    return env


def start_launcher(data_dir, log_path) -> tuple[subprocess.Popen, str]:
    """`make run`'s launcher on free ports, in its own session; returns it and the site's address."""
    port = free_port()
    with open(log_path, "ab") as log:
        launcher = subprocess.Popen([sys.executable, "-m", "web.processes.launch"], cwd=ROOT,
                                    env=launcher_env(data_dir, port, free_port()), stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
    return launcher, f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def launched_site(tmp_path):
    """`make run`'s launcher, started and serving; yields it, the site's address, the admin token and the log
    path, and leaves nothing of its session running afterwards."""
    data_dir, log_path = tmp_path / "var", tmp_path / "launch.log"
    launcher, base = start_launcher(data_dir, log_path)
    try:
        wait_for(lambda: status_of(base + "/readyz") == 200 or launcher.poll() is not None, START_SECONDS, "the site")
        assert launcher.poll() is None, log_path.read_text()
        yield launcher, base, (data_dir / "admin_token").read_text().strip(), log_path
    finally:
        kill_session(launcher.pid)


def kill_session(sid: int) -> None:
    """Leave nothing running: SIGKILL every process still in the launcher's session."""
    for line in session_processes(sid):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(line.split()[0]), signal.SIGKILL)


def stop_launcher(launcher: subprocess.Popen) -> list[str]:
    """Ctrl-C to the launcher (its own process group, as a terminal would); what is still running after."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(launcher.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        launcher.wait(timeout=STOP_SECONDS)
    return session_processes(launcher.pid)


def worker_pids(launcher: subprocess.Popen) -> list[int]:
    """The Celery worker's main process: the launcher's child running the Procfile's worker command."""
    listing = subprocess.run(["ps", "-ww", "-o", "pid=,ppid=,args=", "-s", str(launcher.pid)], capture_output=True,
                             text=True, timeout=10).stdout
    rows = [line.split(None, 2) for line in listing.splitlines() if line.strip()]
    return [int(pid) for pid, ppid, args in rows if int(ppid) == launcher.pid and WORKER_ARGS in args]


def admin_json(base: str, token: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """One admin API call with the Bearer token: a GET, or a POST of `body` as JSON."""
    request = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def finished_job(base: str, token: str, job_id: str) -> dict:
    def state():
        status, body = admin_json(base, token, f"/api/admin/jobs/{job_id}")
        return body if status == 200 and body["state"] in ("SUCCESS", "FAILURE", "REVOKED") else None
    return wait_for(state, JOB_SECONDS, f"job {job_id}", interval=0.5)


def rebuild(base: str, token: str) -> str:
    status, body = admin_json(base, token, "/api/admin/rebuild", {})
    assert status == 202, body
    return body["job_id"]


def rollback_to_current(base: str, token: str) -> str:
    """A job that finishes in a moment (a full rebuild takes minutes on a busy machine)."""
    status, index = admin_json(base, token, "/api/admin/index")
    assert status == 200 and index["published"], index
    status, body = admin_json(base, token, "/api/admin/index/rollback", {"version": index["published"]})
    assert status in (200, 202), body
    return body["job_id"]


def watch_restart(launcher: subprocess.Popen, base: str, killed: int, log_path) -> tuple[list[int], float, float]:
    """Poll /healthz until a new worker process is up and says it is ready; returns the statuses seen,
    and the seconds after the kill at which the new process appeared and became ready."""
    killed_at, statuses, appeared = time.monotonic(), [], None
    ready_before = log_path.read_text().count(" ready.")
    deadline = killed_at + RESTART_SECONDS
    while time.monotonic() < deadline:
        statuses.append(status_of(base + "/healthz"))
        if appeared is None and [pid for pid in worker_pids(launcher) if pid != killed]:
            appeared = time.monotonic() - killed_at
        if appeared is not None and log_path.read_text().count(" ready.") > ready_before:
            return statuses, appeared, time.monotonic() - killed_at
        time.sleep(0.2)
    raise TimeoutError(f"no new worker within {RESTART_SECONDS} s of kill -9 (appeared: {appeared})")


@pytest.mark.integration
@pytest.mark.timeout(E2E_TIMEOUT_SECONDS)
def test_a_killed_worker_is_started_again_and_jobs_survive_a_restart(tmp_path):
    with launched_site(tmp_path) as (launcher, base, token, log_path):
        before = rollback_to_current(base, token)
        assert finished_job(base, token, before)["state"] == "SUCCESS", log_path.read_text()[-4000:]

        [worker] = wait_for(lambda: worker_pids(launcher), 30, "the worker process")
        os.kill(worker, signal.SIGKILL)
        killed_at = time.monotonic()
        statuses, appeared, ready = watch_restart(launcher, base, worker, log_path)
        assert set(statuses) == {200}, statuses
        after = rebuild(base, token)
        assert finished_job(base, token, after)["state"] == "SUCCESS", log_path.read_text()[-4000:]
        print(f"after kill -9: new worker process {appeared:.1f} s, ready {ready:.1f} s, /healthz 200 "
              f"{len(statuses)} times meanwhile; a rebuild queued after the kill done "
              f"{time.monotonic() - killed_at:.1f} s after it")
        assert launcher.poll() is None, "the launcher stopped when the worker died"
        assert "worker exited with code -9; starting it again in 1 s" in log_path.read_text()
        assert not stop_launcher(launcher)

    with launched_site(tmp_path) as (launcher, base, _token, _log):  # the same data dir, started again
        for job_id in (before, after):
            status, body = admin_json(base, token, f"/api/admin/jobs/{job_id}")
            assert (status, body.get("state")) == (200, "SUCCESS"), body
        assert not stop_launcher(launcher)


# -- the embedded Redis is started again too, from its append-only file ---------------------------

REDIS_BACK_SECONDS = 30
AOF_FSYNC_SECONDS = 1.5  # appendfsync everysec: what was written this long ago is on disk
MARKER_KEY = "launch-test:marker"


def embedded_redis_url(log_path) -> str:
    """The embedded Redis's address, as the launcher's banner gives it."""
    found = re.search(r"redis +embedded, (redis://\S+)", log_path.read_text())
    assert found, log_path.read_text()
    return found.group(1)


def redis_pids(launcher: subprocess.Popen) -> list[int]:
    """The embedded redis-server: a child of the launcher (started by it, or again by its supervisor)."""
    listing = subprocess.run(["ps", "-ww", "-o", "pid=,ppid=,args=", "-s", str(launcher.pid)], capture_output=True,
                             text=True, timeout=10).stdout
    rows = [line.split(None, 2) for line in listing.splitlines() if line.strip()]
    return [int(pid) for pid, ppid, args in rows if int(ppid) == launcher.pid and "redis-server" in args]


def answers(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.exceptions.ConnectionError:
        return False


def job_status(base: str, token: str, job_id: str) -> dict:
    status, body = admin_json(base, token, f"/api/admin/jobs/{job_id}")
    return body if status == 200 else {}


def job_state(base: str, token: str, job_id: str) -> str:
    return job_status(base, token, job_id).get("state", "")


def building(base: str, token: str, job_id: str) -> bool:
    """The job holds the build lock: past LOCK_WAIT_STAGE, a new request can no longer join it."""
    body = job_status(base, token, job_id)
    return body.get("state") == "PROGRESS" and body.get("stage") != LOCK_WAIT_STAGE


@pytest.mark.integration
@pytest.mark.timeout(E2E_TIMEOUT_SECONDS)
def test_a_killed_embedded_redis_comes_back_with_its_keys_and_the_waiting_rebuild_runs(tmp_path):
    with launched_site(tmp_path) as (launcher, base, token, log_path):
        client = redis.Redis.from_url(embedded_redis_url(log_path), socket_connect_timeout=1, socket_timeout=5)
        client.set(MARKER_KEY, "kept")
        running = rebuild(base, token)
        wait_for(lambda: building(base, token, running), JOB_SECONDS, "the first rebuild, holding the build lock")
        status, body = admin_json(base, token, "/api/admin/rebuild", {})
        assert status == 202 and not body["coalesced"], body
        waiting = body["job_id"]
        assert job_state(base, token, waiting) == "PENDING"
        time.sleep(AOF_FSYNC_SECONDS)
        [killed] = redis_pids(launcher)
        os.kill(killed, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_for(lambda: [pid for pid in redis_pids(launcher) if pid != killed] and answers(client),
                 REDIS_BACK_SECONDS, "the embedded Redis, started again")
        back = time.monotonic() - killed_at
        assert client.get(MARKER_KEY) == b"kept", "the restarted Redis lost what its append-only file held"
        states = {job: finished_job(base, token, job)["state"] for job in (running, waiting)}
        print(f"embedded Redis answering again {back:.1f} s after kill -9; jobs: {states}")
        assert states == {running: "SUCCESS", waiting: "SUCCESS"}, log_path.read_text()[-4000:]
        assert "redis exited with code -9; starting it again in 1 s" in log_path.read_text()
        client.delete(MARKER_KEY)
        assert not stop_launcher(launcher)
