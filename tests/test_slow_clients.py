"""Slow clients cannot hold the web tier: the Procfile's own web command (and so web/processes/gunicorn_conf.py)
keeps answering /healthz quickly while several clients trickle their request headers."""

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

from tests.helpers.processes import BIN, ROOT, Service, free_port, wait_for
from web.processes.supervisor import parse_procfile

SLOW_CLIENTS = 8
HEADER_EVERY_SECONDS = 3.0
SLOW_SECONDS = 15.0
PROBE_EVERY_SECONDS = 0.25
PROBE_TIMEOUT_SECONDS = 5.0
HEALTHZ_LIMIT_SECONDS = 1.0
START_SECONDS = 90


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


def trickle_headers(port: int, number: int, stop: threading.Event, opened: threading.Barrier) -> None:
    """One slow client: a request line, then one header line every few seconds, never the blank line."""
    with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT_SECONDS) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        opened.wait(timeout=10)
        line = 0
        while not stop.wait(HEADER_EVERY_SECONDS):
            line += 1
            with contextlib.suppress(OSError):
                sock.sendall(f"X-Slow-{number}-{line}: y\r\n".encode())


def probe_while_slow_clients(port: int) -> list[float]:
    """/healthz latencies, probed while SLOW_CLIENTS sockets trickle headers for SLOW_SECONDS."""
    stop = threading.Event()
    opened = threading.Barrier(SLOW_CLIENTS + 1)
    clients = [threading.Thread(target=trickle_headers, args=(port, n, stop, opened), daemon=True)
               for n in range(SLOW_CLIENTS)]
    for client in clients:
        client.start()
    latencies = []
    try:
        opened.wait(timeout=10)
        time.sleep(0.5)  # let the server take up the slow connections first
        deadline = time.monotonic() + SLOW_SECONDS
        while time.monotonic() < deadline:
            latencies.append(healthz_seconds(f"http://127.0.0.1:{port}"))
            time.sleep(PROBE_EVERY_SECONDS)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=HEADER_EVERY_SECONDS + PROBE_TIMEOUT_SECONDS)
    return latencies


@pytest.mark.integration
def test_healthz_answers_quickly_while_slow_clients_trickle_headers(tmp_path):
    port = free_port()
    command = parse_procfile(ROOT / "Procfile")["web"]
    web = Service("web", ["/bin/sh", "-c", f"exec {command}"], web_env(tmp_path, port), tmp_path)
    try:
        wait_for(lambda: not web.alive() or healthz_seconds(f"http://127.0.0.1:{port}") < PROBE_TIMEOUT_SECONDS,
                 START_SECONDS, "the Procfile's web process")
        assert web.alive(), web.log()[-3000:]
        latencies = probe_while_slow_clients(port)
    finally:
        web.stop()
    slow = [round(seconds, 2) for seconds in latencies if seconds >= HEALTHZ_LIMIT_SECONDS]
    print(f"/healthz under {SLOW_CLIENTS} slow clients: {len(latencies)} probes, "
          f"median {statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")
    assert len(latencies) >= SLOW_SECONDS / (PROBE_TIMEOUT_SECONDS + PROBE_EVERY_SECONDS)
    assert not slow, f"/healthz took {HEALTHZ_LIMIT_SECONDS} s or more {len(slow)} times: {slow}"
