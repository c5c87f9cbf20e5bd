"""Commands that use the store refuse one whose applied migrations are not the code's: with one
line naming the difference, before doing anything. Missing ones: run `ledger-collect migrate`;
ones the code does not know (a newer version's, or an applied file renamed or edited)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ledger_collect.config import Settings
from ledger_collect.storage.database import Database


def _run(settings: Settings, *args: str, cwd: object = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEDGER_DATABASE_URL": settings.database_url or "",
           "LEDGER_SCHEMA": settings.schema, "LEDGER_MASTER_KEY": settings.master_key or "",
           "LEDGER_DATA_DIR": str(settings.data_dir), "LEDGER_JWT_SECRET": "s" * 40}
    # A command that wrongly starts would serve or follow for ever: the timeout catches it.
    return subprocess.run([sys.executable, "-m", "ledger_collect.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60, cwd=cwd)


COMMANDS = [("api", "--port", "1"), ("projector",), ("projections", "status"),
            ("import", "feed.jsonl")]


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_store_migrated_by_a_newer_version_is_refused(database: Database, settings: Settings,
                                                         tmp_path, command) -> None:
    with database.connect() as conn:
        conn.execute("INSERT INTO schema_migrations (version, name, checksum)"
                     " VALUES (9999, '9999_from_the_future.sql', 'x')")
    (tmp_path / "feed.jsonl").write_text("")
    done = _run(settings, *command, cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ")
    assert "9999_from_the_future.sql was applied but is not among this version's" in lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_store_missing_a_migration_is_told_to_migrate(database: Database, settings: Settings,
                                                        tmp_path, command) -> None:
    with database.connect() as conn:
        last = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
        conn.execute("DELETE FROM schema_migrations WHERE version = %s", (last,))
    (tmp_path / "feed.jsonl").write_text("")
    done = _run(settings, *command, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ") and len(done.stderr.strip().splitlines()) == 1
    assert "run `ledger-collect migrate` first" in done.stderr


@pytest.mark.slow
def test_an_edited_applied_migration_is_refused_by_the_projector(database: Database,
                                                                 settings: Settings) -> None:
    with database.connect() as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    done = _run(settings, "projector")
    assert done.returncode == 1
    assert "0001_event_store.sql was edited after it was applied" in done.stderr
