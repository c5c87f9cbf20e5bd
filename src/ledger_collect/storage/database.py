"""One PostgreSQL: the embedded one (no URL configured) or the server at LEDGER_DATABASE_URL.

Everything that talks to the database gets its address from here, and the durable DDL in
``migrations/`` is applied from here, in order, once, under an advisory lock.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ledger_collect.config import Settings
from ledger_collect.storage.resources import sql_folder

MIGRATION_LOCK = 0x1ED6E7C0  # pg_advisory_lock key for "ledger-collect migrations"
MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def read_migrations(folder: Path | None = None) -> list[Migration]:
    folder = folder or sql_folder("migrations")
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_what.sql")
        found.append(Migration(int(match.group(1)), path.name, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a number in {folder}")
    return found


class Database:
    """The address of the store, the embedded server's lifetime, and the migrations."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embedded = None
        self.url = settings.database_url or ""

    @property
    def embedded(self) -> bool:
        return not self.settings.database_url

    def open(self) -> Database:
        if self.embedded and self._embedded is None:
            from ledger_collect.storage.embedded import EmbeddedPostgres

            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            server = EmbeddedPostgres(self.settings.data_dir)
            server.start()
            self._embedded = server
            server.ensure_database(self.settings.database_name)
            self.url = server.url(self.settings.database_name)
        return self

    def close(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None

    @contextmanager
    def supervised(self) -> Iterator[None]:
        """While inside: an embedded server that dies is started again (``embedded_watch``)."""
        if self._embedded is None:
            yield
            return
        from ledger_collect.storage.embedded_watch import Watchdog

        watchdog = Watchdog(self._embedded)
        watchdog.start()
        try:
            yield
        finally:
            watchdog.stop()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema(self) -> str:
        return self.settings.schema

    def connect(self, *, autocommit: bool = True) -> psycopg.Connection:
        """A plain psycopg connection with search_path set to our schema."""
        conn = psycopg.connect(
            self.url, autocommit=autocommit, connect_timeout=self.settings.connect_timeout
        )
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        if not autocommit:
            conn.commit()
        return conn

    def eventsourcing_env(self) -> dict[str, str]:
        """Settings for the eventsourcing library's PostgreSQL infrastructure."""
        params = conninfo_to_dict(self.url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(params.get("dbname", "postgres")),
            "POSTGRES_HOST": str(params.get("host", "127.0.0.1")),
            "POSTGRES_PORT": str(params.get("port", "5432")),
            "POSTGRES_USER": str(params.get("user", "postgres")),
            "POSTGRES_PASSWORD": str(params.get("password", "")),
            "POSTGRES_SCHEMA": self.schema,
            "POSTGRES_CONNECT_TIMEOUT": str(self.settings.connect_timeout),
            "POSTGRES_LOCK_TIMEOUT": str(self.settings.lock_timeout),
            "POSTGRES_POOL_SIZE": str(self.settings.pool_size),
            "POSTGRES_MAX_OVERFLOW": "10",
            "POSTGRES_PRE_PING": "y",
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "60",
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",  # never: it breaks ordering and tracking
            "CREATE_TABLE": "n",  # tables come from migrations/
        }

    def migrate(
        self,
        on_applied: Callable[[Migration], None] | None = None,
        *,
        folder: Path | None = None,
    ) -> list[Migration]:
        """Apply pending migrations in order, one transaction each, under an advisory lock so
        that two processes starting at once apply each migration exactly once. ``folder``
        replaces the bundled ``migrations/`` (tests use their own)."""
        migrations = read_migrations(folder)
        applied: list[Migration] = []
        with self.connect() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            try:
                # Under the lock: two concurrent CREATE SCHEMA IF NOT EXISTS can still collide.
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                done = applied_migrations(conn)
                refused = differences(done, migrations)
                if refused:
                    raise MigrationError("; ".join(refused))
                for migration in migrations:
                    if migration.version in done:
                        continue
                    try:
                        with conn.transaction():  # the change and its record, or neither
                            conn.execute(migration.sql)
                            conn.execute(
                                "INSERT INTO schema_migrations (version, name, checksum)"
                                " VALUES (%s, %s, %s)",
                                (migration.version, migration.name, migration.checksum),
                            )
                    except psycopg.Error as exc:
                        raise MigrationError(
                            f"migration {migration.name} failed and was rolled back: {exc}"
                        ) from exc
                    applied.append(migration)
                    if on_applied:
                        on_applied(migration)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
        return applied


def applied_migrations(conn: psycopg.Connection[Any]) -> dict[int, tuple[str, str]]:
    """The store's applied migrations: version -> (file name, checksum); none when the table
    is missing (a store never migrated)."""
    try:
        with conn.transaction():
            rows = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
    except psycopg.errors.UndefinedTable:
        return {}
    return {row[0]: (row[1], row[2]) for row in rows}


def differences(applied: dict[int, tuple[str, str]], migrations: list[Migration]) -> list[str]:
    """Why the applied migrations do not match the code's, one reason each: an applied
    migration edited, renamed or deleted since (applied migrations never change), or applied
    by a newer version of the code than this one. Migrations not yet applied are no difference:
    ``migrate`` applies them."""
    ours = {m.version: m for m in migrations}
    found = []
    for version, (name, checksum) in sorted(applied.items()):
        migration = ours.get(version)
        if migration is None:
            found.append(f"migration {name} was applied but is not among this version's "
                         f"migrations (deleted or renamed, or applied by a newer version)")
        elif migration.name != name:
            found.append(f"migration {name} was applied but is now named {migration.name}; "
                         f"applied migrations never change: undo the rename")
        elif checksum != migration.checksum:
            found.append(f"migration {migration.name} was edited after it was applied "
                         f"(as {name}); applied migrations never change: undo the edit "
                         f"and put the change in a new migration")
    return found


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    params = conninfo_to_dict(url)
    if "password" in params:
        params["password"] = "***"
    return make_conninfo(**params)
