"""`make run`'s launcher end to end: one command prepares the demo, starts Redis, web, worker and
Flower, says where to go, and stops every process it started."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.processes import ROOT, free_port, wait_for
from web import create_app
from worker.queue import REBUILD_TASK

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
        launcher = subprocess.Popen([sys.executable, "-m", "web.launch"], cwd=ROOT, env=env, stdout=log,
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
            if leftovers:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(launcher.pid, signal.SIGKILL)
    assert not leftovers, f"still running after Ctrl-C: {leftovers}"
    assert not (data_dir / "redis").exists(), "the embedded Redis left its directory behind"
