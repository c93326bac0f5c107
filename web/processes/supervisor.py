"""A small process supervisor for `make run`, in place of honcho's "one dies, all stop".

Each Procfile line runs in its own process group, its output prefixed with its name as honcho does.
When a process dies, the others keep running and it is started again after a back-off (1 s, doubling
up to 30 s, back to 1 s once it has stayed up a while). A process its caller started first (the
embedded Redis, which has to answer before the others start) can be handed over with adopt(): it is
restarted the same way and stopped after all the others. Ctrl-C or SIGTERM stops all of them: SIGTERM
to every group, a bounded wait, then SIGKILL. The Procfile stays the one place process commands live.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
STABLE_SECONDS = 60.0
STOP_SECONDS = 15.0
POLL_SECONDS = 0.2
SYSTEM_NAME = "system"
PROCESS_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class ProcfileError(ValueError):
    """A Procfile line that is not `name: command`."""


def parse_procfile(path: Path) -> dict[str, str]:
    """Process names to commands, in file order; blank lines and # comments are skipped."""
    commands: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, colon, command = line.partition(":")
        name, command = name.strip(), command.strip()
        if not colon or not PROCESS_NAME.match(name):
            raise ProcfileError(f"{path}, line {number}: expected 'name: command', got {line!r}")
        if not command:
            raise ProcfileError(f"{path}, line {number}: process {name!r} has no command")
        if name in commands:
            raise ProcfileError(f"{path}, line {number}: process {name!r} is defined twice")
        commands[name] = command
    return commands


def restart_delay(previous: float | None, uptime: float) -> float:
    """Back-off before the next start: doubled after each quick death, reset after a long run."""
    if previous is None or uptime >= STABLE_SECONDS:
        return RESTART_FIRST_SECONDS
    return min(RESTART_MAX_SECONDS, previous * 2)


def kill_group(pgid: int, signum: int) -> None:
    """Signal a whole process group; one that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


@dataclass
class Supervised:
    """One Procfile process: its current run and when it may be started again."""

    name: str
    command: str
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    delay: float | None = None
    restart_at: float | None = None
    starts: int = 0
    stop_last: bool = False


class Supervisor:
    """Runs processes, restarts the ones that die, and stops them all on request."""

    def __init__(self, commands: dict[str, str], env: dict, cwd: Path, out: TextIO | None = None):
        self.children = [Supervised(name, command) for name, command in commands.items()]
        self.env = {**env, "PYTHONUNBUFFERED": "1"}
        self.cwd = cwd
        self.out = out or sys.stdout
        self.width = max([len(SYSTEM_NAME)] + [len(name) for name in commands])
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._readers: list[threading.Thread] = []

    def adopt(self, name: str, command: str, process: subprocess.Popen) -> None:
        """Supervise a process the caller started (in its own process group) as if it had run `command`;
        it is started again with that command when it dies, and stopped after every other process."""
        self.children.append(Supervised(name, command, process, time.monotonic(), starts=1, stop_last=True))
        self.width = max(self.width, len(name))

    def say(self, name: str, text: str) -> None:
        with self._write_lock:
            self.out.write(f"{time.strftime('%H:%M:%S')} {name:<{self.width}} | {text}\n")
            self.out.flush()

    def request_stop(self, signum=None, frame=None) -> None:
        """Signal handler (Ctrl-C, SIGTERM): only sets a flag, the loop does the stopping."""
        self._stop.set()

    def run(self) -> int:
        """Start everything, keep it running until Ctrl-C or SIGTERM, then stop it all."""
        previous = {sig: signal.signal(sig, self.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for child in self.children:
                if child.process is None:
                    self._start(child)
            while not self._stop.wait(POLL_SECONDS):
                for child in self.children:
                    self._tend(child)
        finally:
            self.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _start(self, child: Supervised) -> None:
        child.process = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {child.command}"], env=self.env, cwd=self.cwd, process_group=0,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        child.started_at = time.monotonic()
        child.restart_at = None
        child.starts += 1
        self.say(SYSTEM_NAME, f"{child.name} started (pid {child.process.pid})")
        reader = threading.Thread(target=self._relay, args=(child.name, child.process.stdout),
                                  name=f"output-{child.name}", daemon=True)
        reader.start()
        self._readers.append(reader)

    def _relay(self, name: str, stream) -> None:
        """Copy a child's output line by line, prefixed with its name."""
        with stream:
            for raw in iter(stream.readline, b""):
                self.say(name, raw.decode(errors="replace").rstrip("\r\n"))

    def _tend(self, child: Supervised) -> None:
        """Notice a death (and clear what the dead process left in its group), or restart when due."""
        if child.restart_at is not None:
            if time.monotonic() >= child.restart_at:
                self._start(child)
            return
        code = child.process.poll()
        if code is None:
            return
        kill_group(child.process.pid, signal.SIGKILL)
        child.delay = restart_delay(child.delay, time.monotonic() - child.started_at)
        child.restart_at = time.monotonic() + child.delay
        self.say(SYSTEM_NAME, f"{child.name} exited with code {code}; starting it again in {child.delay:g} s")

    def stop_all(self) -> None:
        """Stop every process, the adopted ones (the Redis the others use) after the rest."""
        self.say(SYSTEM_NAME, "stopping " + ", ".join(c.name for c in self.children))
        self._stop_children([c for c in self.children if not c.stop_last])
        self._stop_children([c for c in self.children if c.stop_last])
        for reader in self._readers:
            reader.join(timeout=2)
        self.say(SYSTEM_NAME, "all stopped")

    def _stop_children(self, children: list[Supervised]) -> None:
        """SIGTERM to every group, a bounded wait, then SIGKILL to whatever is left."""
        running = [c for c in children if c.process is not None and c.restart_at is None]
        for child in running:
            kill_group(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for child in running:
            try:
                code = child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
                self.say(SYSTEM_NAME, f"{child.name} stopped (code {code})")
            except subprocess.TimeoutExpired:
                self.say(SYSTEM_NAME, f"{child.name} did not stop within {STOP_SECONDS:g} s: killing it")
            kill_group(child.process.pid, signal.SIGKILL)
        for child in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=5)
