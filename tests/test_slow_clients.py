"""Slow clients cannot hold the web tier: the Procfile's own web command (and so web/processes/gunicorn_conf.py),
as `make run` starts it, keeps answering /healthz within a second while 200 sockets trickle their request
headers at a byte a second, and closes those sockets once their headers are overdue."""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import threading
import time
import urllib.error
import urllib.request

import pytest

from recommender.limits import REQUEST_HEADER_SECONDS
from tests.helpers.processes import BIN, ROOT, Service, free_port, wait_for
from web.processes.supervisor import parse_procfile

SLOW_CLIENTS = 200
TRICKLE_EVERY_SECONDS = 1.0  # one byte a second on each slow socket
SLOW_SECONDS = 15.0  # shorter than REQUEST_HEADER_SECONDS: every slow socket is held while /healthz is probed
CLOSE_SLACK_SECONDS = 5.0
PROBE_EVERY_SECONDS = 0.25
PROBE_TIMEOUT_SECONDS = 5.0
HEALTHZ_LIMIT_SECONDS = 1.0
START_SECONDS = 90
SLOW_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"y" * 4000


def web_env(data_dir, port: int) -> dict:
    env = dict(os.environ)
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", LIKEWISE_DATA_DIR=str(data_dir), PORT=str(port),
               BIND_HOST="127.0.0.1", SECRET_KEY="slow-client-secret", ADMIN_TOKEN="slow-client-admin-token",
               PYTHONUNBUFFERED="1")
    for name in ("WEB_CONCURRENCY", "WEB_THREADS", "GUNICORN_CMD_ARGS"):
        env.pop(name, None)
    return env


def healthz_seconds(base: str) -> float:
    """How long one /healthz took to answer 200; the probe timeout when it did not answer."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=PROBE_TIMEOUT_SECONDS) as response:
            response.read()
            if response.status != 200:
                return PROBE_TIMEOUT_SECONDS
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return PROBE_TIMEOUT_SECONDS
    return time.monotonic() - started


def open_slow_sockets(port: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT_SECONDS)
            for _ in range(SLOW_CLIENTS)]


def trickle(sockets: list[socket.socket], stop: threading.Event) -> None:
    """Every slow socket sends the next byte of a request whose headers never end, once a second."""
    for position in range(len(SLOW_REQUEST)):
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.send(SLOW_REQUEST[position:position + 1])
        if stop.wait(TRICKLE_EVERY_SECONDS):
            return


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has ended this connection (it never answered a request on it)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def probe_while_slow_clients(port: int) -> tuple[list[float], int]:
    """/healthz latencies, probed while SLOW_CLIENTS sockets trickle headers for SLOW_SECONDS; and how
    many of those sockets the server had closed REQUEST_HEADER_SECONDS (and a little) after they opened."""
    sockets = open_slow_sockets(port)
    opened_at = time.monotonic()
    stop = threading.Event()
    trickler = threading.Thread(target=trickle, args=(sockets, stop), daemon=True)
    trickler.start()
    latencies = []
    try:
        time.sleep(0.5)  # let the server take up the slow connections first
        deadline = time.monotonic() + SLOW_SECONDS
        while time.monotonic() < deadline:
            latencies.append(healthz_seconds(f"http://127.0.0.1:{port}"))
            time.sleep(PROBE_EVERY_SECONDS)
        time.sleep(max(0.0, opened_at + REQUEST_HEADER_SECONDS + CLOSE_SLACK_SECONDS - time.monotonic()))
        stop.set()
        trickler.join(timeout=TRICKLE_EVERY_SECONDS + PROBE_TIMEOUT_SECONDS)
        closed = sum(closed_by_server(sock) for sock in sockets)
    finally:
        stop.set()
        for sock in sockets:
            sock.close()
    return latencies, closed


@pytest.mark.integration
def test_healthz_answers_quickly_while_slow_clients_trickle_headers(tmp_path):
    port = free_port()
    command = parse_procfile(ROOT / "Procfile")["web"]
    web = Service("web", ["/bin/sh", "-c", f"exec {command}"], web_env(tmp_path, port), tmp_path)
    try:
        wait_for(lambda: not web.alive() or healthz_seconds(f"http://127.0.0.1:{port}") < PROBE_TIMEOUT_SECONDS,
                 START_SECONDS, "the Procfile's web process")
        assert web.alive(), web.log()[-3000:]
        latencies, closed = probe_while_slow_clients(port)
    finally:
        web.stop()
    slow = [round(seconds, 2) for seconds in latencies if seconds >= HEALTHZ_LIMIT_SECONDS]
    print(f"/healthz under {SLOW_CLIENTS} slow clients: {len(latencies)} probes, "
          f"median {statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")
    assert len(latencies) >= SLOW_SECONDS / (PROBE_TIMEOUT_SECONDS + PROBE_EVERY_SECONDS)
    assert not slow, f"/healthz took {HEALTHZ_LIMIT_SECONDS} s or more {len(slow)} times: {slow}"
    assert closed == SLOW_CLIENTS, f"only {closed} of {SLOW_CLIENTS} slow sockets were closed at their header deadline"
