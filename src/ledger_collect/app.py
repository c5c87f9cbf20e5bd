"""The one composition root: settings → database → ``Collections`` → read models → API.

Every process opens what it works with here and nowhere else: the CLI's commands and the
projector (``open_collections``), the import's worker processes (the same, on the parent's
database), the API in one process or in several (``create_api``, ``serve_api``). What each
opens is closed in the reverse order on the way out; an embedded PostgreSQL started for a
process is stopped with it.
"""

from __future__ import annotations

import base64
import multiprocessing
import os
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from datetime import date
from typing import TYPE_CHECKING

from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.runtime.lifetime import end_with_parent
from ledger_collect.storage.database import (
    Database,
    MigrationError,
    applied_migrations,
    differences,
    read_migrations,
    redact,
)
from ledger_collect.storage.personal_data import load_master_key

if TYPE_CHECKING:  # the API's modules load only in the processes that serve it
    import strawberry
    from starlette.applications import Starlette

#: The factory each API worker process runs (``serve_api`` with several workers).
WORKER_FACTORY = "ledger_collect.app:worker_api"


# -- the store ---------------------------------------------------------------------------------
@contextmanager
def open_database(settings: Settings, *, migrate: bool | None = None) -> Iterator[Database]:
    """The database: the embedded server (started here, stopped on the way out) unless a URL
    is set. ``migrate``: True applies the pending migrations; None (the default) applies them
    on the embedded database and requires a server named by URL to have them already (there
    ``ledger-collect migrate`` is a step of its own); False opens it as it is."""
    database = Database(settings).open()
    try:
        if migrate or (migrate is None and database.embedded):
            database.migrate()
        elif migrate is None:
            require_migrated(database)
        yield database
    finally:
        database.close()


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
        raise MigrationError(f"{where} does not match this version's migrations: "
                             + "; ".join(refused))
    pending = [m.name for m in migrations if m.version not in done]
    if pending:
        raise MigrationError(f"{where} is missing migrations ({', '.join(pending)}): "
                             f"run `ledger-collect migrate` first")


def master_key(settings: Settings, database: Database) -> bytes:
    """The master key the application will seal data keys with, checked before a process
    serves (a bad key would otherwise surface later, as a failed start-up). On the embedded
    database a missing key is generated, as the application would."""
    return load_master_key(settings.master_key, settings.key_file, create=database.embedded)


@contextmanager
def open_collections(settings: Settings, *,
                     migrate: bool | None = None) -> Iterator[Collections]:
    """``Collections`` on the opened database (``open_database``'s ``migrate``)."""
    with open_database(settings, migrate=migrate) as database:
        app = Collections(database, settings)
        try:
            yield app
        finally:
            app.close()


# -- the API -----------------------------------------------------------------------------------
def create_api(settings: Settings, database: Database | None = None, *,
               today: Callable[[], date] = date.today,
               schema: strawberry.Schema | None = None) -> Starlette:
    """The API's ASGI app. ``database``: an open, migrated database the caller keeps (tests,
    the all-in-one ``serve`` command); None: opened and migrated by the app as it starts, and
    closed as it stops. ``today`` gives the business date of each request's commands. While
    it serves: ``Collections`` (the write side), the two read pools, the read models' watch,
    and the garbage collector set for a server (``collector``). ``schema``: the API's own, with
    the settings' speed-ups, unless given (tests give one with other limits)."""
    from starlette.concurrency import run_in_threadpool

    from ledger_collect.api.schema import schema_for
    from ledger_collect.api.server import http_app, read_pool
    from ledger_collect.projections.waiting import watching
    from ledger_collect.runtime.collector import tuned_collector

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        opened = ExitStack()  # closed in a worker thread: stopping a server blocks
        try:
            db = database if database is not None else await run_in_threadpool(
                opened.enter_context, open_database(settings, migrate=True))
            collections = await run_in_threadpool(Collections, db, settings)
            opened.callback(collections.close)
            async with read_pool(db, settings) as pool, \
                    read_pool(db, settings, plan_cache_mode="force_generic_plan") as keyed, \
                    watching(db.url, settings.schema,
                             connect_timeout=settings.connect_timeout) as watch:
                app.state.settings = settings
                app.state.collections = collections
                app.state.pool, app.state.keyed_pool = pool, keyed
                app.state.read_models = watch
                with tuned_collector():
                    yield
        finally:
            await run_in_threadpool(opened.close)

    return http_app(settings, schema or schema_for(settings.speedups), today, lifespan)


def serve_api(settings: Settings, host: str = "127.0.0.1", port: int = 8000, *,
              database: Database | None = None, log_level: str = "info",
              workers: int = 1) -> None:
    """Serve the API until SIGINT or SIGTERM, then return. ``workers`` > 1 (``database``
    required: the caller keeps it open): that many processes share the port, each with its
    own pools (``worker_api``)."""
    from ledger_collect.api.auth import token_secret
    from ledger_collect.api.server import serve_app, serve_workers

    if workers == 1:
        serve_app(create_api(settings, database), settings, host, port, log_level=log_level)
        return
    if database is None:
        raise ValueError("serving with several workers needs an open database")
    # The workers are spawned: they get what they need through the environment. The database
    # by URL (the embedded server this process started, too: they must not start another);
    # the master key and the token secret as this process has them (an embedded data folder's
    # key files are made here, on first run, not by several workers at once).
    os.environ.update({
        "LEDGER_DATABASE_URL": database.url, "LEDGER_SCHEMA": settings.schema,
        "LEDGER_MASTER_KEY": base64.b64encode(master_key(settings, database)).decode(),
        "LEDGER_JWT_SECRET": token_secret(settings).decode(),
        "LEDGER_SPEEDUPS": str(settings.speedups)})
    serve_workers(WORKER_FACTORY, settings, host, port, workers, log_level=log_level)


def worker_api() -> Starlette:
    """The app of one API worker process (``serve_api`` with workers): its settings from the
    environment the supervisor prepared, its database by URL, its own pools. It stops
    (SIGTERM: gracefully) when its supervisor ends, even by SIGKILL."""
    supervisor = multiprocessing.parent_process()
    if supervisor is not None and supervisor.pid is not None:
        end_with_parent(supervisor.pid, signal.SIGTERM)
    return create_api(Settings.from_env())


# -- jobs --------------------------------------------------------------------------------------
def child_environment(settings: Settings, database: Database) -> dict[str, str]:
    """The environment of a process this one starts on its database (a job worker): the
    database by URL (the embedded server this process started, too: the child must not start
    another) and the master key as this process has it."""
    return {**os.environ, "LEDGER_DATABASE_URL": database.url, "LEDGER_SCHEMA": settings.schema,
            "LEDGER_MASTER_KEY": base64.b64encode(master_key(settings, database)).decode()}
