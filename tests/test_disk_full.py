"""A full disk under an import: the import ends with PostgreSQL's reason in one line ("could not
extend file …: No space left on device"), not a traceback. The disk is real: a tmpfs of half a
megabyte holding the events table (a tablespace), so the test needs root (CI runs as root)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from ledger_collect.cli import cli
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database


@pytest.fixture
def full_disk(database: Database, settings: Settings) -> Iterator[None]:
    """The store's events table on a tablespace of its own, on a tmpfs of 512 KB."""
    assert os.geteuid() == 0, "mounting a tmpfs needs root (CI runs the tests as root)"
    mount = Path(tempfile.mkdtemp(prefix="lc-full-", dir="/tmp"))
    mount.chmod(0o755)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], check=True)
    name = f"lc_full_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            owner = os.stat(conn.execute("SHOW data_directory").fetchone()[0]).st_uid
            location = mount / "space"
            location.mkdir()
            os.chown(location, owner, -1)
            os.chown(mount, owner, -1)
            conn.execute(sql.SQL("CREATE TABLESPACE {} LOCATION {}").format(
                sql.Identifier(name), sql.Literal(str(location))))
            conn.execute(sql.SQL("ALTER TABLE {} SET TABLESPACE {}").format(
                sql.Identifier(settings.schema, "collections_events"), sql.Identifier(name)))
            try:
                yield
            finally:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(
                    sql.Identifier(settings.schema)))
                conn.execute(sql.SQL("DROP TABLESPACE {}").format(sql.Identifier(name)))
    finally:
        subprocess.run(["umount", str(mount)], check=True)
        mount.rmdir()


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_import_on_a_full_disk_names_the_cause_in_one_line(
        full_disk: None, settings: Settings, tmp_path: Path, jobs: str) -> None:
    feed = tmp_path / "feed.jsonl"
    assert CliRunner().invoke(cli, ["demo-data", "--customers", "200", "--as-of", "2026-11-23",
                                    "--output", str(feed)]).exit_code == 0
    env = {**os.environ, "LEDGER_DATABASE_URL": settings.database_url,
           "LEDGER_SCHEMA": settings.schema, "LEDGER_MASTER_KEY": settings.master_key,
           "LEDGER_DATA_DIR": str(settings.data_dir)}
    done = subprocess.run([sys.executable, "-m", "ledger_collect.cli", "import", str(feed),
                           "--jobs", jobs], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.startswith(("Error", "  "))
             or "Traceback" in line]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ")
    assert "could not extend file" in lines[0] and "No space left on device" in lines[0]
    assert "cannot reach" not in lines[0]  # the database answered: it is full, not gone
