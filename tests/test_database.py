"""Migrations: numbered SQL files applied in order, once, each in its own transaction, recorded
with a checksum, refused when edited after being applied, and safe when two processes start at
the same moment. And the event store's tables come from them, never from the library."""

from __future__ import annotations

import hashlib
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.storage.database import Database, MigrationError, read_migrations

CREATE_LEDGER = "CREATE TABLE ledger (id integer PRIMARY KEY);\n"
ADD_BALANCE = "ALTER TABLE ledger ADD COLUMN balance numeric(12, 2) NOT NULL DEFAULT 0;\n"
SEED = "INSERT INTO ledger (id, balance) VALUES (1, 12.50);\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A migrations folder of the test's own; files are written in an order that is not the
    order they must run in, so only the numbering can put them right."""
    path = tmp_path / "migrations"
    path.mkdir()
    (path / "0010_seed.sql").write_text(SEED)
    (path / "0002_add_balance.sql").write_text(ADD_BALANCE)
    (path / "0001_create_ledger.sql").write_text(CREATE_LEDGER)
    return path


def recorded(settings: Settings) -> list[tuple[int, str, str]]:
    with Database(settings).connect() as conn:
        return conn.execute(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
        ).fetchall()


def tables(settings: Settings) -> set[str]:
    with Database(settings).connect() as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (settings.schema,),
        ).fetchall()
    return {row[0] for row in rows}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pending_migrations_run_in_number_order_and_are_recorded_with_their_checksum(
    settings: Settings, folder: Path
) -> None:
    seen: list[str] = []

    applied = Database(settings).migrate(lambda m: seen.append(m.name), folder=folder)

    names = ["0001_create_ledger.sql", "0002_add_balance.sql", "0010_seed.sql"]
    assert [m.name for m in applied] == names
    assert seen == names
    assert recorded(settings) == [
        (1, names[0], sha256(folder / names[0])),
        (2, names[1], sha256(folder / names[1])),
        (10, names[2], sha256(folder / names[2])),
    ]
    with Database(settings).connect() as conn:
        assert conn.execute("SELECT id, balance FROM ledger").fetchall() == [(1, Decimal("12.50"))]


def test_running_migrate_again_applies_nothing(settings: Settings, folder: Path) -> None:
    database = Database(settings)
    database.migrate(folder=folder)
    with database.connect() as conn:
        first = conn.execute("SELECT version, applied_at FROM schema_migrations").fetchall()

    assert database.migrate(folder=folder) == []

    with database.connect() as conn:
        assert conn.execute("SELECT version, applied_at FROM schema_migrations").fetchall() == first
        assert conn.execute("SELECT count(*) FROM ledger").fetchone() == (1,)  # seed ran once


def test_a_new_migration_is_applied_alone(settings: Settings, folder: Path) -> None:
    database = Database(settings)
    database.migrate(folder=folder)
    (folder / "0011_overdraft.sql").write_text("ALTER TABLE ledger ADD COLUMN overdraft boolean;")

    applied = database.migrate(folder=folder)

    assert [m.version for m in applied] == [11]
    assert [row[0] for row in recorded(settings)] == [1, 2, 10, 11]


def test_an_edited_migration_that_was_already_applied_is_refused(
    settings: Settings, folder: Path
) -> None:
    database = Database(settings)
    database.migrate(folder=folder)
    before = recorded(settings)
    (folder / "0002_add_balance.sql").write_text(ADD_BALANCE.replace("(12, 2)", "(14, 2)"))
    (folder / "0011_overdraft.sql").write_text("ALTER TABLE ledger ADD COLUMN overdraft boolean;")

    with pytest.raises(MigrationError) as refused:
        database.migrate(folder=folder)

    message = str(refused.value)
    assert "0002_add_balance.sql was edited after it was applied" in message
    assert "put the change in a new migration" in message
    assert recorded(settings) == before  # nothing recorded, the later 0011 not applied either
    with database.connect() as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = 'ledger' ORDER BY column_name",
            (settings.schema,),
        ).fetchall()
    assert columns == [("balance",), ("id",)]


def test_a_failing_migration_leaves_nothing_of_itself(settings: Settings, folder: Path) -> None:
    database = Database(settings)
    (folder / "0003_half_done.sql").write_text(
        "CREATE TABLE half_done (id integer);\nINSERT INTO ledger (id) VALUES (1 / 0);\n"
    )

    with pytest.raises(MigrationError, match="migration 0003_half_done.sql failed and was "
                                             "rolled back: division by zero"):
        database.migrate(folder=folder)

    # 0001 and 0002 committed in their own transactions; 0003 rolled back as a whole, 0010 waits.
    assert [row[0] for row in recorded(settings)] == [1, 2]
    assert "half_done" not in tables(settings)

    (folder / "0003_half_done.sql").write_text("CREATE TABLE half_done (id integer);\n")
    assert [m.version for m in database.migrate(folder=folder)] == [3, 10]


def test_two_processes_migrating_at_once_apply_each_migration_exactly_once(
    settings: Settings, tmp_path: Path
) -> None:
    # Neither migration can run twice: the CREATE TABLE would fail and the row would double.
    # The first one holds the lock for a while, so the second migrate surely arrives meanwhile.
    folder = tmp_path / "race"
    folder.mkdir()
    (folder / "0001_runs.sql").write_text(
        "CREATE TABLE runs (migration integer);\n"
        "INSERT INTO runs VALUES (1);\n"
        "SELECT pg_sleep(0.5);\n"
    )
    (folder / "0002_second_run.sql").write_text("INSERT INTO runs VALUES (2);\n")
    start = threading.Barrier(2)
    applied: list[list[int]] = []
    errors: list[BaseException] = []

    def migrate() -> None:
        database = Database(settings)  # its own connection, as another process would have
        start.wait()
        try:
            applied.append([m.version for m in database.migrate(folder=folder)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=migrate) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    assert errors == []
    assert sorted(applied) == [[], [1, 2]]
    assert [row[0] for row in recorded(settings)] == [1, 2]
    with Database(settings).connect() as conn:
        assert conn.execute("SELECT migration FROM runs ORDER BY 1").fetchall() == [(1,), (2,)]


def test_the_bundled_migrations_are_all_recorded(database: Database) -> None:
    expected = [(m.version, m.name, m.checksum) for m in read_migrations()]
    assert expected, "migrations/ is empty"
    assert recorded(database.settings) == expected
    assert database.migrate() == []


def test_the_event_store_tables_exist_after_migrate(database: Database) -> None:
    events_table = f"{Collections.name.lower()}_events"  # the name the library will look for
    assert {events_table, "subject_keys", "erased_subjects", "schema_migrations"} <= tables(
        database.settings
    )
    with database.connect() as conn:
        found = conn.execute(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
            " WHERE n.nspname = %s AND t.typname = 'stored_event_uuid'",
            (database.schema,),
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
            (database.schema, events_table),
        ).fetchall()
    assert found == [("stored_event_uuid",)]
    assert any(
        "UNIQUE INDEX" in row[0] and "(notification_id)" in row[0] for row in indexes
    ), indexes


def test_the_library_creates_no_tables_at_run_time(settings: Settings) -> None:
    database = Database(settings)
    assert database.eventsourcing_env()["CREATE_TABLE"] == "n"
    with database.connect() as conn:
        conn.execute(f'CREATE SCHEMA "{settings.schema}"')

    app = Collections(database)  # would create collections_events here if it were allowed to
    try:
        assert tables(settings) == set()
        with database.connect() as conn:
            types = conn.execute(
                "SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
                " WHERE n.nspname = %s",
                (settings.schema,),
            ).fetchone()
        assert types == (0,)
    finally:
        app.close()


def test_a_renamed_migration_that_was_already_applied_is_refused(
    settings: Settings, folder: Path
) -> None:
    database = Database(settings)
    database.migrate(folder=folder)
    before = recorded(settings)
    (folder / "0002_add_balance.sql").rename(folder / "0002_balance.sql")

    with pytest.raises(MigrationError, match="migration 0002_add_balance.sql was applied but "
                                             "is now named 0002_balance.sql"):
        database.migrate(folder=folder)
    assert recorded(settings) == before


def test_a_deleted_migration_that_was_already_applied_is_refused(
    settings: Settings, folder: Path
) -> None:
    database = Database(settings)
    database.migrate(folder=folder)
    before = recorded(settings)
    (folder / "0010_seed.sql").unlink()
    (folder / "0011_overdraft.sql").write_text("ALTER TABLE ledger ADD COLUMN overdraft boolean;")

    with pytest.raises(MigrationError, match="migration 0010_seed.sql was applied but is not "
                                             "among this version's migrations"):
        database.migrate(folder=folder)
    assert recorded(settings) == before  # the new 0011 was not applied either
