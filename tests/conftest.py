"""Tests run on a real PostgreSQL: the embedded one by default, or the server named by
LEDGER_TEST_DATABASE_URL (CI sets it to the machine's own). Each test gets a fresh schema. The
domain and command scenarios run on the library's in-memory store instead (``app``).
LEDGER_SPEEDUPS switches the speed-ups of every test's settings (CI runs the API and store
tests once more with them off)."""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database
from ledger_collect.storage.embedded import EmbeddedPostgres

TEST_DATABASE = "ledger_collect_test"


def _shared_tmp_dir(prefix: str) -> Path:
    """A folder the embedded server's own user can reach even when the tests run as root
    (pytest's tmp folders are 0700); we created it, so opening it up is ours to do."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url = os.environ.get("LEDGER_TEST_DATABASE_URL")
    if url:
        yield url
        return
    from ledger_collect.storage.embedded import EmbeddedPostgres

    data_dir = _shared_tmp_dir("lc-test-pg-")
    server = EmbeddedPostgres(data_dir)
    server.start()
    try:
        server.ensure_database(TEST_DATABASE)
        yield server.url(TEST_DATABASE)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def settings(server_url: str, tmp_path: Path) -> Iterator[Settings]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield Settings(
        database_url=server_url,
        data_dir=tmp_path,
        schema=schema,
        master_key=base64.b64encode(os.urandom(32)).decode(),
        pool_size=2,
        speedups=Settings.from_env().speedups,
    )
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    db = Database(settings).open()
    db.migrate()
    yield db
    db.close()


@pytest.fixture
def app(request: pytest.FixtureRequest) -> Iterator[Collections]:
    """``Collections`` on the test's PostgreSQL schema, or on the library's in-memory store for
    the domain and command scenarios, which need no database: tests marked
    ``store("memory")`` (the closest mark decides), or given the store as a parameter
    (``@pytest.mark.parametrize("app", ["memory", "postgres"], indirect=True)``)."""
    marked = request.node.get_closest_marker("store")
    store = getattr(request, "param", None) or (marked.args[0] if marked else "postgres")
    if store == "memory":
        application = Collections.in_memory(
            Settings(master_key=base64.b64encode(os.urandom(32)).decode(),
                     speedups=Settings.from_env().speedups))
    else:
        application = Collections(request.getfixturevalue("database"))
    yield application
    application.close()


TODAY = date(2026, 11, 23)


@pytest.fixture
def own_server() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of the test's own, to stop and start (in a folder its user can reach)."""
    base = Path(tempfile.mkdtemp(prefix="lc-outage-", dir="/tmp"))
    base.chmod(0o755)
    server = EmbeddedPostgres(base / "data")
    server.start()
    try:
        server.ensure_database("outage")
        yield server
    finally:
        server.start()  # registered once: stop() below stops it for good
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
