"""Two gunicorns started as the Procfile starts them, on one data dir, each keep a control socket of
their own (gunicorn's default is one path per user, which the second instance took over and the first
one's exit removed): each socket answers for its own instance, and stopping one leaves the other's."""

from __future__ import annotations

import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from gunicorn.ctl.client import ControlClient

from tests.helpers.processes import ROOT, Service, free_port, wait_for
from tests.test_slow_clients import web_env
from web.processes.supervisor import parse_procfile

START_SECONDS = 90
CONTROL_TIMEOUT_SECONDS = 5


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def start_web(data_dir: Path, name: str) -> tuple[Service, int]:
    port = free_port()
    command = parse_procfile(ROOT / "Procfile")["web"]
    web = Service(name, ["/bin/sh", "-c", f"exec {command}"], web_env(data_dir, port), data_dir)
    wait_for(lambda: not web.alive() or answers(port), START_SECONDS, f"web instance {name}")
    assert web.alive(), web.log()[-3000:]
    return web, port


def listened_on(path: Path) -> str:
    """What the gunicorn behind this control socket says it listens on."""
    with ControlClient(str(path), timeout=CONTROL_TIMEOUT_SECONDS) as client:
        return " ".join(listener["address"] for listener in client.send_command("show listeners")["listeners"])


@pytest.mark.integration
def test_two_gunicorn_instances_have_their_own_control_sockets():
    data_dir = Path(tempfile.mkdtemp(prefix="lwcs", dir="/tmp"))  # short: a socket path has at most 107 bytes
    webs = []
    try:
        for name in ("first", "second"):
            webs.append(start_web(data_dir, name))
        sockets = {port: wait_for(lambda port=port: list((data_dir / "run").glob(f"gunicorn-*-{port}.ctl")),
                                  CONTROL_TIMEOUT_SECONDS, f"the control socket of the instance on {port}")
                   for _, port in webs}
        [first], [second] = sockets.values()
        assert first != second
        for port, [path] in sockets.items():
            assert listened_on(path).endswith(f":{port}"), path
        first_web, _ = webs[0]
        first_web.stop()
        assert not first.exists() and second.exists(), "stopping one instance removed the other's control socket"
        assert listened_on(second).endswith(f":{webs[1][1]}")
    finally:
        for web, _ in webs:
            web.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
