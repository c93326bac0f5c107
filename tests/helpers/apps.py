"""The app as tests build it: a data dir of their own, fixed secrets, a fast reload poll."""

from __future__ import annotations

from pathlib import Path

from web import create_app


def make_app(data_dir: Path, **overrides):
    config = {"TESTING": True, "DATA_DIR": data_dir, "SECRET_KEY": "test-secret", "ADMIN_TOKEN": "test-admin-token",
              "RELOAD_INTERVAL_SECONDS": 0.05}
    config.update(overrides)
    return create_app(config)
