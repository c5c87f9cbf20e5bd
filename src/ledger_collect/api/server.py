"""The API's HTTP side: the Starlette app serving ``/graphql`` and ``/health``, its read pools,
and uvicorn serving it (one process, or several sharing the port). What it serves with (the
database, ``Collections``, the pools, the read models' watch) is wired by the composition root,
``ledger_collect.app``, through the app's lifespan.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import date
from types import FrameType

import asyncpg
import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp
from uvicorn.supervisors import Multiprocess

from ledger_collect.api import graphiql
from ledger_collect.api.auth import token_secret
from ledger_collect.api.http import GraphQLView
from ledger_collect.config import Settings
from ledger_collect.projections.status import DEGRADED
from ledger_collect.projections.status import health as projection_health
from ledger_collect.speedups import SOCKETS
from ledger_collect.speedups.sockets import shared_port
from ledger_collect.storage.database import Database

logger = logging.getLogger("ledger_collect.api")

HEALTH_TIMEOUT = 2.0  # seconds: a health check that hangs is a failed one


def http_app(settings: Settings, schema: strawberry.Schema, today: Callable[[], date],
             lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]]) -> Starlette:
    """The ASGI app: ``/health``, ``/graphql`` (and GraphiQL in development). ``lifespan``
    puts on ``app.state`` what requests use: settings, collections, pool, keyed_pool and
    read_models. ``today`` gives the business date of each request's commands."""
    view = GraphQLView(schema, secret=token_secret(settings),
                       development=bool(settings.development), today=today,
                       max_body_bytes=settings.max_body_bytes,
                       max_token_lifetime=settings.max_token_lifetime)
    ide = [graphiql.assets()] if settings.development else []
    return Starlette(routes=[Route("/health", health, methods=["GET"]),
                             Route("/graphql", view), *ide],
                     lifespan=lifespan)


def read_pool(db: Database, settings: Settings, **session: str) -> asyncpg.Pool:
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
    longer, behind a rebuild's swap for instance.

    The pool connects when awaited or entered (``async with``), and closes on leaving."""
    return asyncpg.create_pool(
        db.url, min_size=1, max_size=settings.pool_size, timeout=settings.connect_timeout,
        reset=_keep_session, server_settings={
            "search_path": settings.schema, "application_name": "ledger-collect api",
            "default_transaction_read_only": "on",
            "statement_timeout": f"{settings.statement_timeout}s", **session})


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


def serve_app(app: ASGIApp, settings: Settings, host: str, port: int, *,
              log_level: str = "info") -> None:
    """Serve ``app`` with uvicorn in this process until SIGINT or SIGTERM, then return.

    uvicorn shuts down gracefully on SIGTERM and then raises the signal again for the previous
    handler; with Python's default one the process would die there, before the caller could
    stop an embedded PostgreSQL. Our handler turns it into a normal return instead.
    """
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


def serve_workers(factory: str, settings: Settings, host: str, port: int, workers: int, *,
                  log_level: str = "info") -> None:
    """Serve with ``workers`` processes sharing the port, each running the app that
    ``factory`` (``module:function``) makes, with its own pools; GraphQL execution is Python
    work, one core per process. This process only supervises them (uvicorn's
    ``Multiprocess``, which stops them on SIGTERM or SIGINT and returns). The workers are
    spawned: what they need comes through the environment."""
    config = uvicorn.Config(factory, factory=True, host=host, port=port, workers=workers,
                            lifespan="on", log_level=log_level,
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
