"""Settings from environment variables only (12-factor); every variable and default is in the README."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PRODUCTION = "production"
DEVELOPMENT = "development"


class ConfigError(RuntimeError):
    """The environment does not describe a runnable deployment."""


def _int(environ, name: str, default: int) -> int:
    raw = environ.get(name, "")
    if raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _secret_from_file(data_dir: Path, name: str, nbytes: int = 32) -> str:
    """Generate a development secret once and keep it under the data dir, readable by us only."""
    path = data_dir / name
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def settings_from_env(environ=None) -> dict:
    """Flask config keys built from the environment; production refuses to guess secrets."""
    environ = os.environ if environ is None else environ
    env = environ.get("LIKEWISE_ENV", DEVELOPMENT).strip().lower()
    if env not in (DEVELOPMENT, PRODUCTION):
        raise ConfigError(f"LIKEWISE_ENV must be '{DEVELOPMENT}' or '{PRODUCTION}', got {env!r}")
    data_dir = Path(environ.get("LIKEWISE_DATA_DIR") or "./var").resolve()
    secret_key = environ.get("SECRET_KEY", "")
    admin_token = environ.get("ADMIN_TOKEN", "")
    if env == PRODUCTION:
        missing = [name for name, value in (("SECRET_KEY", secret_key), ("ADMIN_TOKEN", admin_token)) if not value]
        if missing:
            raise ConfigError(f"production mode needs {' and '.join(missing)} set in the environment")
    secret_key = secret_key or _secret_from_file(data_dir, "secret_key")
    admin_token = admin_token or _secret_from_file(data_dir, "admin_token", 18)
    return {
        "LIKEWISE_ENV": env,
        "DATA_DIR": data_dir,
        "SECRET_KEY": secret_key,
        "ADMIN_TOKEN": admin_token,
        "REDIS_URL": environ.get("REDIS_URL", ""),
        "REDIS_PREFIX": environ.get("LIKEWISE_REDIS_PREFIX", "likewise:"),
        "REBUILD_EVERY_SECONDS": _int(environ, "LIKEWISE_REBUILD_EVERY", 0),
        "MAX_CONTENT_LENGTH": _int(environ, "MAX_UPLOAD_MB", 50) * 1024 * 1024,
        "RELOAD_INTERVAL_SECONDS": float(environ.get("LIKEWISE_RELOAD_SECONDS", "0.5") or 0.5),
        "FLOWER_URL": environ.get("FLOWER_URL", f"http://127.0.0.1:{_int(environ, 'FLOWER_PORT', 5555)}/"),
        "BUILD_LOCK_SECONDS": _int(environ, "LIKEWISE_LOCK_SECONDS", 120),
        "REDELIVER_SECONDS": _int(environ, "LIKEWISE_REDELIVER_SECONDS", 900),
        "BENCH_ROUTES": environ.get("LIKEWISE_BENCH_ROUTES", "") == "1",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env == PRODUCTION,
    }
