"""Fresh store databases for the store tests: a SQLite file, or a PostgreSQL database of the test's own.

PostgreSQL databases are named likewise_test_<hex>, created on the machine's server and dropped when
the test ends; nothing else on the server is touched.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import psycopg
import pytest

from recommender.store import Store

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/"
BACKENDS = ("sqlite", "postgresql")


@contextmanager
def postgres_database():
    """A new, empty PostgreSQL database; yields its URL and drops it afterwards."""
    name = "likewise_test_" + uuid.uuid4().hex[:16]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_SERVER_URL + name
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database_url(backend: str, tmp_path):
    """(url, data_dir) for a fresh database: url None means the default SQLite file in data_dir."""
    if backend == "sqlite":
        yield None, tmp_path
        return
    with postgres_database() as url:
        yield url, tmp_path


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def db_url(backend, tmp_path):
    with database_url(backend, tmp_path) as pair:
        yield pair


@pytest.fixture
def store(db_url):
    opened = Store.open(*db_url)
    yield opened
    opened.engine.dispose()
