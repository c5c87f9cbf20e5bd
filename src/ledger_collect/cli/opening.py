"""Opening the store for a ``ledger-collect`` command: the database (embedded or by URL) and the
Collections application on it, every expected failure turned into one clear line
(``click.ClickException``) instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
import psycopg
from eventsourcing.persistence import PersistenceError

from ledger_collect.config import Settings
from ledger_collect.domain.base import DomainError
from ledger_collect.storage.database import (
    Database,
    MigrationError,
    applied_migrations,
    differences,
    opened,
    read_migrations,
    redact,
)
from ledger_collect.storage.personal_data import MasterKeyError, load_master_key


@contextmanager
def open_database(settings: Settings, *, migrate: bool) -> Iterator[Database]:
    """The database (embedded unless a URL is set), migrated when ``migrate``."""
    where = redact(settings.database_url) if settings.database_url else "the embedded database"
    try:
        with opened(settings, migrate=migrate) as database:
            yield database
    except (psycopg.OperationalError, PersistenceError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise click.ClickException(f"cannot reach {where}: {reason}") from None
    except MigrationError as exc:
        raise click.ClickException(str(exc)) from None
    except RuntimeError as exc:  # the embedded server could not start (EmbeddedPostgresError)
        if type(exc).__name__ != "EmbeddedPostgresError":
            raise
        raise click.ClickException(str(exc)) from None


@contextmanager
def open_application(settings: Settings, *, migrate: bool | None = None) -> Iterator[object]:
    """The Collections application on an opened database. Migrations run by themselves on the
    embedded database; a server named by URL must have been migrated (``ledger-collect
    migrate``: in production that is a step of its own)."""
    from ledger_collect.commands.application import Collections

    auto = settings.database_url is None if migrate is None else migrate
    with open_database(settings, migrate=auto) as database:
        if not auto:
            require_migrated(database)
        try:
            app = Collections(database)
        except MasterKeyError as exc:
            raise click.ClickException(str(exc)) from None
        try:
            yield app
        except (DomainError, MasterKeyError) as exc:  # e.g. another master key than the data's
            raise click.ClickException(str(exc)) from None
        finally:
            app.close()


def require_migrated(database: Database) -> None:
    """Refuse a store whose applied migrations are not exactly the code's: one missing (run
    ``migrate``), or one the code does not have as applied (edited, renamed, deleted, or
    applied by a newer version). Code and tables that disagree fail later, and worse."""
    where = f"schema {database.schema} of {redact(database.url)}"
    migrations = read_migrations()
    with database.connect() as conn:
        done = applied_migrations(conn)
    refused = differences(done, migrations)
    if refused:
        raise click.ClickException(f"{where} does not match this version's migrations: "
                                   + "; ".join(refused))
    pending = [m.name for m in migrations if m.version not in done]
    if pending:
        raise click.ClickException(
            f"{where} is missing migrations ({', '.join(pending)}): "
            f"run `ledger-collect migrate` first")


def require_master_key(settings: Settings, database: Database) -> None:
    """Check the master key before serving: the API loads it as it starts, where a bad key
    would surface as a failed start-up with a traceback instead of one line. On the embedded
    database a missing key is generated, as the application would."""
    try:
        load_master_key(settings.master_key, settings.key_file, create=database.embedded)
    except MasterKeyError as exc:
        raise click.ClickException(str(exc)) from None
