"""HTTP load: wrk with a Lua script that cycles through many real paths, or, when wrk cannot be
installed, a small asyncio client that does the same (slower, so its absolute numbers are lower)."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from benchmarks.report import duration

THREADS = 2
CONNECTIONS = 16
HX = {"HX-Request": "true"}

WRK_SCRIPT = """
local paths = {%(paths)s}
%(headers)s
local threads = 0
function setup(thread)
  thread:set("offset", threads * 97)
  threads = threads + 1
end
local i = 0
function request()
  i = i + 1
  return wrk.format(nil, paths[((i + (offset or 0)) %% #paths) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d, ' ..
    '"status": %%d, "timeout": %%d, "p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50: float  # seconds
    p99: float
    bad_status: int  # HTTP status >= 400
    socket_errors: int  # connect, read, write errors and timeouts
    client: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        return self.bad_status + self.socket_errors

    def describe(self) -> str:
        return (f"{self.rate:,.0f} req/s · p50 {duration(self.p50)} · p99 {duration(self.p99)} · "
                f"{self.bad_status} non-2xx, {self.socket_errors} socket errors")


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def client_name() -> str:
    return "wrk" if wrk_available() else "python asyncio client (wrk not installed)"


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Load:
    """Load on a list of paths (cycled) for `seconds`, or until stop(); start() then result()."""

    def __init__(self, base: str, paths: list[str], seconds: float, headers: dict | None = None,
                 connections: int = CONNECTIONS, threads: int = THREADS):
        self.base, self.paths, self.seconds = base, paths, seconds
        self.headers = headers or {}
        self.connections, self.threads = connections, threads
        self._process: subprocess.Popen | None = None
        self._script: Path | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._result: LoadResult | None = None

    # -- wrk ------------------------------------------------------------------------------
    def _start_wrk(self) -> None:
        headers = "\n".join(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in self.headers.items())
        script = WRK_SCRIPT % {"paths": ", ".join(_lua_string(p) for p in self.paths), "headers": headers}
        handle = tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="likewise-bench-", delete=False)
        with handle:
            handle.write(script)
        self._script = Path(handle.name)
        argv = ["wrk", f"-t{self.threads}", f"-c{self.connections}", f"-d{max(1, round(self.seconds))}s",
                "--latency", "-s", str(self._script), self.base + self.paths[0]]
        self._process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def _wrk_result(self) -> LoadResult:
        try:
            out, _ = self._process.communicate(timeout=self.seconds + 60)
        finally:
            self._script.unlink(missing_ok=True)
        line = next((line for line in out.splitlines() if line.startswith("WRKJSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk gave no summary:\n{out[-2000:]}")
        s = json.loads(line[len("WRKJSON "):])
        return LoadResult(s["requests"], s["duration_us"] / 1e6, s["p50_us"] / 1e6, s["p99_us"] / 1e6, s["status"],
                          s["connect"] + s["read"] + s["write"] + s["timeout"], "wrk")

    # -- asyncio fallback -------------------------------------------------------------------
    def _run_asyncio(self) -> None:
        self._result = asyncio.run(_asyncio_load(self.base, self.paths, self.seconds, self.headers,
                                                 self.connections, self._stop))

    # -- either ---------------------------------------------------------------------------
    def start(self) -> Load:
        if wrk_available():
            self._start_wrk()
        else:
            self._thread = threading.Thread(target=self._run_asyncio, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """End early (a long run that lasts as long as something else)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # wrk reports, and runs done(), on SIGINT
        self._stop.set()

    def result(self) -> LoadResult:
        if self._process is not None:
            return self._wrk_result()
        self._thread.join(self.seconds + 60)
        if self._result is None:
            raise RuntimeError("the load client did not finish")
        return self._result

    def kill(self) -> None:
        """Cleanup after a failure: nothing of this load survives."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._script is not None:
            self._script.unlink(missing_ok=True)
        self._stop.set()


def run_load(base: str, paths: list[str], seconds: float, headers: dict | None = None) -> LoadResult:
    load = Load(base, paths, seconds, headers).start()
    try:
        return load.result()
    finally:
        load.kill()


async def _asyncio_load(base: str, paths: list[str], seconds: float, headers: dict, connections: int,
                        stop: threading.Event) -> LoadResult:
    url = urlsplit(base)
    latencies: list[float] = []
    counts = {"status": 0, "socket": 0}
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    started = time.perf_counter()
    deadline = started + seconds

    async def one_connection(offset: int) -> None:
        reader = writer = None
        i = offset
        while time.perf_counter() < deadline and not stop.is_set():
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(url.hostname, url.port)
                path = paths[i % len(paths)]
                i += 1
                sent = time.perf_counter()
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\n{extra}\r\n".encode())
                await writer.drain()
                status = int((await reader.readline()).split()[1])
                length, close = 0, False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                    elif name.strip().lower() == "connection" and "close" in value.lower():
                        close = True
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - sent)
                counts["status"] += status >= 400
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                counts["socket"] += 1
                close = True
                await asyncio.sleep(0.01)
            if close and writer is not None:
                writer.close()
                reader = writer = None

    await asyncio.gather(*(one_connection(c * 97) for c in range(connections)))
    elapsed = time.perf_counter() - started
    p50, p99 = (np.percentile(latencies, [50, 99]) if latencies else (float("nan"), float("nan")))
    return LoadResult(len(latencies), elapsed, float(p50), float(p99), counts["status"], counts["socket"],
                      "python asyncio")
