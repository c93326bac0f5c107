"""gunicorn started exactly as the Procfile's web line starts it, and what we ask of its processes."""

from __future__ import annotations

import re
import shlex
import urllib.error
import urllib.request
from pathlib import Path

from tests.helpers.processes import BIN, ROOT, START_SECONDS, Service, free_port, service_env, wait_for

PARAMETER = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def procfile_web_argv(env: dict) -> list[str]:
    """The Procfile's `web:` command with its ${NAME:-default} parameters expanded from env."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    command = PARAMETER.sub(lambda m: env.get(m[1]) or (m[2] or ""), line.split(":", 1)[1])
    argv = shlex.split(command)
    if (BIN / argv[0]).exists():
        argv[0] = str(BIN / argv[0])
    return argv


def get(url: str, headers: dict | None = None, timeout: float = 10) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Web:
    """A running gunicorn (Procfile's web line) over a data directory; stop() always."""

    def __init__(self, data_dir: Path, log_dir: Path, workers: int = 2, **extra_env):
        port = free_port()
        extra_env.setdefault("LIKEWISE_PUBLIC_URL", f"http://127.0.0.1:{port}")  # as deployed: embeds are cached
        env = service_env(data_dir, "", "likewise-bench:", WEB_CONCURRENCY=workers, BIND_HOST="127.0.0.1",
                          PORT=port, **extra_env)
        env.pop("LIKEWISE_RELOAD_SECONDS")  # the deployed default, not the integration tests' faster one
        self.base = f"http://127.0.0.1:{port}"
        self.workers = workers
        self.argv = procfile_web_argv(env)
        self.service = Service(f"gunicorn-{port}", self.argv, env, log_dir)
        try:
            wait_for(self._ready, START_SECONDS, "gunicorn")
            if not self.service.alive():
                raise RuntimeError(f"gunicorn exited:\n{self.service.log()[-3000:]}")
            wait_for(lambda: len(self.worker_pids()) == workers, START_SECONDS, "gunicorn workers")
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> bool:
        if not self.service.alive():
            return True
        try:
            return get(self.base + "/readyz", timeout=5)[0] == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    @property
    def master_pid(self) -> int:
        return self.service.process.pid

    def worker_pids(self) -> list[int]:
        """gunicorn's workers: the master's children."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.master_pid:
                children.append(int(stat.parent.name))
        return sorted(children)

    def get(self, path: str, headers: dict | None = None, timeout: float = 10) -> tuple[int, dict, bytes]:
        return get(self.base + path, headers, timeout)

    def stop(self) -> None:
        self.service.stop()

    def __enter__(self) -> Web:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
