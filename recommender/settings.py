"""Settings, read once from environment variables (12-factor) into one typed object.

Every variable and its default is here and in the README's Configuration table; the web tier, the
worker, the CLI and the launcher all read this one object. Production refuses to guess secrets.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from recommender.event_weights import parse_event_weights
from recommender.limits import SECRET_MIN_CHARS, TRUSTED_PROXIES_MAX

PRODUCTION = "production"
DEVELOPMENT = "development"
ADMIN_TOKEN_FILE = "admin_token"
INGEST_TOKEN_FILE = "ingest_token"
FLOWER_PORT = 5555
SECRET_KEY_FILE = "secret_key"
ANY_ORIGIN = "*"
ORIGIN_PATTERN = re.compile(r"(https?)://([a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(:[0-9]{1,5})?")
DEFAULT_PORTS = {"http": ":80", "https": ":443"}


class ConfigError(RuntimeError):
    """The environment does not describe a runnable deployment."""


@dataclass(frozen=True)
class Settings:
    """What a Likewise process needs to know about its deployment."""

    env: str = DEVELOPMENT
    data_dir: Path = Path("./var")
    secret_key: str = ""
    admin_token: str = ""
    ingest_token: str = ""
    redis_url: str = ""
    redis_prefix: str = "likewise:"
    rebuild_every_seconds: int = 0
    max_upload_bytes: int = 50 * 1024 * 1024
    reload_seconds: float = 0.5
    flower_url: str = f"http://127.0.0.1:{FLOWER_PORT}/"
    build_lock_seconds: int = 120
    redeliver_seconds: int = 900
    bench_routes: bool = False
    embed_origins: tuple[str, ...] = ()
    public_url: str = ""
    tracking: bool = True
    database_url: str = ""
    event_weights: str = ""
    event_days: float = 365.0
    rebuild_after_seconds: float = 5.0
    rebuild_at_most_every: float = 600.0
    trusted_proxies: int = 0
    bought_together_min_support: int = 3  # orders a pair must share to be shown (issue 24)
    bought_together_min_lift: float = 1.5  # how much more often than chance they must share them
    trending_refresh_seconds: float = 10.0  # how long a web process keeps trending's counts before re-reading
    trending_min_events: int = 3  # events in the window an item needs to trend (the rest: popular items)

    @property
    def embed_any_origin(self) -> bool:
        return ANY_ORIGIN in self.embed_origins

    @property
    def production(self) -> bool:
        return self.env == PRODUCTION

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "indexes"

    @property
    def catalog_dir(self) -> Path:
        return self.data_dir / "catalog"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def event_weight_table(self) -> dict[str, float]:
        """LIKEWISE_EVENT_WEIGHTS parsed (checked once at start, so this cannot fail later)."""
        return parse_event_weights(self.event_weights)

    def with_overrides(self, overrides: dict) -> Settings:
        """A copy with the given fields replaced (tests and the app factory pass their own)."""
        known = {f.name for f in fields(self)}
        chosen = {name: value for name, value in overrides.items() if name in known}
        if "data_dir" in chosen:
            chosen["data_dir"] = Path(chosen["data_dir"])
        return replace(self, **chosen)

    def as_dict(self) -> dict:
        return asdict(self)


def _number(environ, name: str, default, kind=int):
    """A whole number (or, with kind=float, any number) from the environment, else the default."""
    raw = environ.get(name, "")
    if raw.strip() == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name} must be {noun}, got {raw!r}") from None


def _switch(environ, name: str, default: bool) -> bool:
    """An on/off setting: 1/true/yes/on or 0/false/no/off (any case), else the default when unset."""
    raw = environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be on or off (1/0, true/false, yes/no), got {raw!r}")


def parse_origin(raw: str, name: str) -> str:
    """One web origin, scheme://host[:port], normalised as browsers send it in Origin (no default port)."""
    origin = raw.strip().lower()
    match = ORIGIN_PATTERN.fullmatch(origin)
    if not match or (match.group(4) and not 0 < int(match.group(4)[1:]) < 65536):
        raise ConfigError(f"{name}: {raw.strip()!r} is not an origin; write scheme://host[:port] with http or "
                          "https and no path, e.g. https://shop.example or http://127.0.0.1:8080")
    default_port = DEFAULT_PORTS[match.group(1)]
    return origin[: -len(default_port)] if origin.endswith(default_port) else origin


def parse_origins(raw: str, name: str) -> tuple[str, ...]:
    """A comma-separated list of origins, or `*` for any origin."""
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if ANY_ORIGIN in parts:
        if len(parts) > 1:
            raise ConfigError(f"{name}: '*' allows every origin, so list it alone, got {raw.strip()!r}")
        return (ANY_ORIGIN,)
    return tuple(dict.fromkeys(parse_origin(part, name) for part in parts))


def secret_from_file(data_dir: Path, name: str, nbytes: int = 32) -> str:
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


def _environment(environ) -> str:
    env = environ.get("LIKEWISE_ENV", DEVELOPMENT).strip().lower()
    if env not in (DEVELOPMENT, PRODUCTION):
        raise ConfigError(f"LIKEWISE_ENV must be '{DEVELOPMENT}' or '{PRODUCTION}', got {env!r}")
    return env


def _check_production_secrets(given: dict) -> None:
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise ConfigError(f"production mode needs {' and '.join(missing)} set in the environment")
    short = [name for name, value in given.items() if len(value) < SECRET_MIN_CHARS]
    if short:
        raise ConfigError(f"{' and '.join(short)} must be at least {SECRET_MIN_CHARS} characters in production "
                          "(for example: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")


def _secrets(environ, env: str, data_dir: Path) -> dict:
    """Production takes its secrets from the environment; development generates them once."""
    given = {name: environ.get(name, "") for name in ("SECRET_KEY", "ADMIN_TOKEN", "INGEST_TOKEN")}
    if env == PRODUCTION:
        _check_production_secrets(given)
    return {"secret_key": given["SECRET_KEY"] or secret_from_file(data_dir, SECRET_KEY_FILE),
            "admin_token": given["ADMIN_TOKEN"] or secret_from_file(data_dir, ADMIN_TOKEN_FILE),
            "ingest_token": given["INGEST_TOKEN"] or secret_from_file(data_dir, INGEST_TOKEN_FILE)}


def _public_url(environ, env: str) -> str:
    """Likewise's public origin, which absolute links are built from; production needs it (a link built from
    a request's Host header would be cached and shown to everyone)."""
    raw = environ.get("LIKEWISE_PUBLIC_URL", "").strip()
    if not raw and env == PRODUCTION:
        raise ConfigError("production mode needs LIKEWISE_PUBLIC_URL set to Likewise's public origin, e.g. "
                          "https://likewise.example: embed and tracking links are built from it, never from a "
                          "request's Host header")
    return parse_origin(raw, "LIKEWISE_PUBLIC_URL") if raw else ""


def _data_dir(environ, default: Path) -> Path:
    """LIKEWISE_DATA_DIR, or ./var when it exists: a missing default is refused, not created with new tokens
    (which would look like a fresh install with no index, under whatever directory the command ran in)."""
    chosen = environ.get("LIKEWISE_DATA_DIR", "").strip()
    if chosen:
        return Path(chosen).resolve()
    if not default.is_dir():
        raise ConfigError(f"LIKEWISE_DATA_DIR is not set and {default.resolve()} does not exist: set "
                          "LIKEWISE_DATA_DIR to the data directory (`make run` uses var/ in the checkout), or "
                          f"create {default.resolve()} to start a new one")
    return default.resolve()


def settings_from_env(environ=None) -> Settings:
    """The settings of this process, from `environ` (default: os.environ)."""
    environ = os.environ if environ is None else environ
    defaults = Settings()
    env = _environment(environ)
    data_dir = _data_dir(environ, defaults.data_dir)
    flower_port = _number(environ, "FLOWER_PORT", FLOWER_PORT)
    return Settings(
        env=env,
        data_dir=data_dir,
        **_secrets(environ, env, data_dir),
        redis_url=environ.get("REDIS_URL", ""),
        redis_prefix=environ.get("LIKEWISE_REDIS_PREFIX") or defaults.redis_prefix,
        rebuild_every_seconds=_number(environ, "LIKEWISE_REBUILD_EVERY", defaults.rebuild_every_seconds),
        max_upload_bytes=_number(environ, "MAX_UPLOAD_MB", defaults.max_upload_bytes // 2**20) * 2**20,
        reload_seconds=_number(environ, "LIKEWISE_RELOAD_SECONDS", defaults.reload_seconds, float),
        flower_url=environ.get("FLOWER_URL") or f"http://127.0.0.1:{flower_port}/",
        build_lock_seconds=_number(environ, "LIKEWISE_LOCK_SECONDS", defaults.build_lock_seconds),
        redeliver_seconds=_number(environ, "LIKEWISE_REDELIVER_SECONDS", defaults.redeliver_seconds),
        bench_routes=environ.get("LIKEWISE_BENCH_ROUTES", "") == "1",
        embed_origins=parse_origins(environ.get("LIKEWISE_EMBED_ORIGINS", ""), "LIKEWISE_EMBED_ORIGINS"),
        public_url=_public_url(environ, env),
        tracking=_switch(environ, "LIKEWISE_TRACKING", defaults.tracking),
        trusted_proxies=_trusted_proxies(environ, defaults.trusted_proxies),
        **_live_settings(environ, defaults),
        **_panel_settings(environ, defaults),
    )


def _trusted_proxies(environ, default: int) -> int:
    """How many proxies in front of the web tier append to X-Forwarded-For (0: the header is ignored)."""
    count = _number(environ, "LIKEWISE_TRUSTED_PROXIES", default)
    if not 0 <= count <= TRUSTED_PROXIES_MAX:
        raise ConfigError(f"LIKEWISE_TRUSTED_PROXIES must be from 0 to {TRUSTED_PROXIES_MAX} (the proxies in front "
                          f"of the web tier that set X-Forwarded-For), got {count}")
    return count


def _live_settings(environ, defaults: Settings) -> dict:
    """The store of record and the automatic rebuilds after changes (issue 12)."""
    weights = environ.get("LIKEWISE_EVENT_WEIGHTS", "")
    try:
        parse_event_weights(weights)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    live = {"database_url": environ.get("DATABASE_URL", "").strip(), "event_weights": weights}
    for field, variable in (("event_days", "LIKEWISE_EVENT_DAYS"),
                            ("rebuild_after_seconds", "LIKEWISE_REBUILD_AFTER_SECONDS"),
                            ("rebuild_at_most_every", "LIKEWISE_REBUILD_AT_MOST_EVERY")):
        live[field] = _number(environ, variable, getattr(defaults, field), float)
        if not live[field] > 0:
            raise ConfigError(f"{variable} must be more than 0, got {live[field]:g}")
    return live


def _panel_settings(environ, defaults: Settings) -> dict:
    """Bought together's thresholds and trending's refresh (issue 24)."""
    panels = {"bought_together_min_support": _number(environ, "LIKEWISE_BOUGHT_TOGETHER_MIN_SUPPORT",
                                                     defaults.bought_together_min_support),
              "trending_min_events": _number(environ, "LIKEWISE_TRENDING_MIN_EVENTS", defaults.trending_min_events)}
    for field, variable in (("bought_together_min_lift", "LIKEWISE_BOUGHT_TOGETHER_MIN_LIFT"),
                            ("trending_refresh_seconds", "LIKEWISE_TRENDING_REFRESH_SECONDS")):
        panels[field] = _number(environ, variable, getattr(defaults, field), float)
    if panels["bought_together_min_support"] < 1:
        raise ConfigError("LIKEWISE_BOUGHT_TOGETHER_MIN_SUPPORT must be at least 1")
    if panels["trending_min_events"] < 1:
        raise ConfigError("LIKEWISE_TRENDING_MIN_EVENTS must be at least 1")
    if panels["bought_together_min_lift"] < 0:
        raise ConfigError("LIKEWISE_BOUGHT_TOGETHER_MIN_LIFT cannot be negative")
    if not 0 < panels["trending_refresh_seconds"] <= 12:
        raise ConfigError("LIKEWISE_TRENDING_REFRESH_SECONDS must be more than 0 and at most 12 (trending follows "
                          "events within 15 s)")
    return panels
