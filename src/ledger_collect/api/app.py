"""The API process: a Starlette app serving ``/graphql`` and ``/health``, run by uvicorn.

``create_app`` is the composition root of the API: settings, database, the write side
(``Collections``), the read side (an asyncpg pool) and the schema. Given no database it opens
one (the embedded server, or the configured URL), migrates it and closes it on shutdown.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import multiprocessing
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from types import FrameType

import asyncpg
import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from uvicorn.supervisors import Multiprocess

from ledger_collect.api import graphiql
from ledger_collect.api.auth import token_secret
from ledger_collect.api.http import GraphQLView
from ledger_collect.api.schema import schema_for
from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.projections.status import DEGRADED
from ledger_collect.projections.status import health as projection_health
from ledger_collect.projections.waiting import watching
from ledger_collect.runtime.collector import tuned_collector
from ledger_collect.runtime.lifetime import end_with_parent
from ledger_collect.speedups import SOCKETS
from ledger_collect.speedups.sockets import shared_port
from ledger_collect.storage.database import Database
from ledger_collect.storage.personal_data import load_master_key

logger = logging.getLogger("ledger_collect.api")

HEALTH_TIMEOUT = 2.0  # seconds: a health check that hangs is a failed one


def create_app(settings: Settings, database: Database | None = None, *,
               today: Callable[[], date] = date.today,
               schema: strawberry.Schema | None = None) -> Starlette:
    """The ASGI app. ``database``: an open, migrated database the caller keeps (tests, the
    all-in-one ``serve`` command); None: opened, migrated and closed by the app itself.
    ``today`` gives the business date of each request's commands; ``schema`` is the API's
    (with the settings' speed-ups) unless given. Serves with the garbage collector set for a
    server (``collector``)."""
    view = GraphQLView(schema or schema_for(settings.speedups), secret=token_secret(settings),
                       development=bool(settings.development), today=today,
                       max_body_bytes=settings.max_body_bytes,
                       max_token_lifetime=settings.max_token_lifetime)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = database is None
        db = database if database is not None else await run_in_threadpool(_open, settings)
        try:
            collections = await run_in_threadpool(Collections, db, settings)
            try:
                pool = await _read_pool(db, settings)
                try:
                    keyed = await _read_pool(db, settings, plan_cache_mode="force_generic_plan")
                    app.state.settings = settings
                    app.state.collections = collections
                    app.state.pool, app.state.keyed_pool = pool, keyed
                    try:
                        async with watching(db.url, settings.schema,
                                            connect_timeout=settings.connect_timeout) as watch:
                            app.state.read_models = watch
                            with tuned_collector():
                                yield
                    finally:
                        await keyed.close()
                finally:
                    await pool.close()
            finally:
                await run_in_threadpool(collections.close)
        finally:
            if owned:
                await run_in_threadpool(db.close)

    ide = [graphiql.assets()] if settings.development else []
    return Starlette(routes=[Route("/health", health, methods=["GET"]),
                             Route("/graphql", view), *ide],
                     lifespan=lifespan)


async def _read_pool(db: Database, settings: Settings, **session: str) -> asyncpg.Pool:
    """A pool of read connections. Two per process: ``pool`` for what takes its plan from the
    values asked for (reports, searches, lists, the worklist), ``keyed_pool`` for the
    request's loaders, whose statements read rows by ids (``= ANY($1)``) and are best served
    by one plan for any ids. PostgreSQL, left to choose (``plan_cache_mode = auto``), planned
    the overview's one statement anew on each call: its generic plan, priced for an array of
    unknown length, never looked cheaper than a plan for one id, and planning cost more than
    running it (``docs/performance.md``).

    Every transaction of these connections is read-only: queries never write (commands go
    through the write side), and a query that tried would fail loudly instead of changing the
    database any role can query. No read runs longer than ``statement_timeout``: nor waits
    longer, behind a rebuild's swap for instance."""
    return await asyncpg.create_pool(
        db.url, min_size=1, max_size=settings.pool_size, timeout=settings.connect_timeout,
        reset=_keep_session, server_settings={
            "search_path": settings.schema, "application_name": "ledger-collect api",
            "default_transaction_read_only": "on",
            "statement_timeout": f"{settings.statement_timeout}s", **session})


def _open(settings: Settings) -> Database:
    database = Database(settings).open()
    try:
        database.migrate()
    except BaseException:
        database.close()
        raise
    return database


async def health(request: Request) -> JSONResponse:
    """Unauthenticated: can this process serve, and how current are the read models?

    503 only when it cannot serve: its database does not answer within ``HEALTH_TIMEOUT``.
    Read models failing, stale or not built leave it serving (mutations are stored, reads may
    be late): 200 with ``"status": "degraded"`` and each model's state, position, lag and
    error, for monitoring to alert on without taking the API out of a load balancer."""
    state = request.app.state
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT), state.pool.acquire() as conn:
            models = await projection_health(conn, state.collections.recorder.events_table_name)
    except Exception as error:  # noqa: BLE001 - any failure means "not healthy"
        logger.warning("health check failed: %r", error)
        return JSONResponse({"status": "unavailable", "database": "unreachable"},
                            status_code=503)
    degraded = any(model["status"] in DEGRADED for model in models.values())
    return JSONResponse({"status": "degraded" if degraded else "ok", "database": "ok",
                         "projections": models})


class Terminated(Exception):
    """SIGTERM: stop serving and return normally, so that the caller's cleanup runs."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8000, *,
          database: Database | None = None, log_level: str = "info", workers: int = 1) -> None:
    """Serve the API with uvicorn until SIGINT or SIGTERM, then return.

    uvicorn shuts down gracefully on SIGTERM and then raises the signal again for the previous
    handler; with Python's default one the process would die there, before the caller could
    stop an embedded PostgreSQL. Our handler turns it into a normal return instead.

    ``workers`` > 1 (``database`` required: the caller keeps it open): that many processes
    share the port, each with its own pools (``worker_app``); GraphQL execution is Python work,
    one core per process. This process only supervises them (uvicorn's ``Multiprocess``, which
    stops them on SIGTERM or SIGINT and returns).
    """
    if workers > 1:
        if database is None:
            raise ValueError("serving with several workers needs an open database")
        _serve_workers(settings, host, port, database, workers, log_level)
        return
    app = create_app(settings, database)
    server = uvicorn.Server(uvicorn.Config(
        app, host=host, port=port, lifespan="on", log_level=log_level,
        access_log=bool(settings.development), server_header=False))
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        server.run()
    except Terminated:
        logger.info("stopped on SIGTERM")
    finally:
        signal.signal(signal.SIGTERM, previous)


def worker_app() -> Starlette:
    """The app of one worker process (``serve(workers=N)``): its settings from the
    environment the supervisor prepared, its database by URL, its own pools. It stops
    (SIGTERM: gracefully) when its supervisor ends, even by SIGKILL."""
    supervisor = multiprocessing.parent_process()
    if supervisor is not None and supervisor.pid is not None:
        end_with_parent(supervisor.pid, signal.SIGTERM)
    return create_app(Settings.from_env())


def _serve_workers(settings: Settings, host: str, port: int, database: Database, workers: int,
                   log_level: str) -> None:
    # The workers are spawned: they get what they need through the environment. The database
    # by URL (the embedded server this process started, too: they must not start another);
    # the master key and the token secret as this process has them (an embedded data folder's
    # key files are made here, on first run, not by several workers at once).
    master_key = load_master_key(settings.master_key, settings.key_file,
                                 create=database.embedded)
    os.environ.update({"LEDGER_DATABASE_URL": database.url, "LEDGER_SCHEMA": settings.schema,
                       "LEDGER_MASTER_KEY": base64.b64encode(master_key).decode(),
                       "LEDGER_JWT_SECRET": token_secret(settings).decode(),
                       "LEDGER_SPEEDUPS": str(settings.speedups)})
    config = uvicorn.Config("ledger_collect.api.app:worker_app", factory=True, host=host,
                            port=port, workers=workers, lifespan="on", log_level=log_level,
                            access_log=bool(settings.development), server_header=False)
    if settings.speedups.on(SOCKETS):  # a socket of its own for each worker
        try:
            listening = shared_port(host, port)
        except OSError as error:
            raise SystemExit(f"Error: cannot listen on {host}:{port}: {error.strerror}"
                             f" (is another server running there?)") from None
    else:  # uvicorn's one socket for all
        listening = config.bind_socket()
    with listening:
        logger.info("serving on http://%s:%d with %d workers", host, port, workers)
        Multiprocess(config, sockets=[listening]).run()  # uvicorn.run's


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Give a read connection back to the pool as it is. asyncpg's default reset costs a round
    trip per release (``RESET ALL; UNLISTEN *; ...``: an overview's fifteen queries made fifteen
    more); the pool still rolls back an open transaction and drops listener callbacks itself,
    and our readers change nothing else in a session (the search path is a startup setting,
    waiting for read models has a connection of its own, no advisory locks are taken on this
    pool)."""
