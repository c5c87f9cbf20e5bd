"""Keeping read models in step with the event log: catch-up, rebuild, status.

Exactly-once. Each page of events is applied in one transaction that also moves the model's row
in ``projection_positions``; the position is read inside that transaction, under a
transaction-scoped advisory lock per model, so a page is applied once whoever runs it (a
follower, a second follower, a rebuild's swap) and a process killed at any moment leaves the
model at the end of its last committed page.

Positions move past events a model does not handle: a page that reaches the head of the log
takes the position to the head (read in the same statement, so in the same snapshot). The
log's writers hold a table lock until commit, so every id below a visible id is committed or
gone: nothing can appear behind a position later. That is what lets the API wait for "the
model reached the command's notification id" whatever the command's last event was.

Reading the log and the positions is ``eventlog``'s part; a model that fails is kept apart
from the others (``failures``).

Rebuild. The model is built from zero in a scratch schema while readers keep the live tables,
then, holding the model's lock, the tail is applied, the live tables are dropped and the new
ones moved in (``ALTER … SET SCHEMA``) with the position, in one transaction: readers see the
old model or the new one, never half of one. While it builds, the next page is read and
decoded in a thread (``prefetch``) as the current one is applied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from ledger_collect.projections import Projection, failures, select
from ledger_collect.projections.eventlog import (  # noqa: F401 - re-exported
    CHANNEL,
    SWAP_WAIT,
    EventLog,
    ProjectionError,
    RebuildRunningError,
    StaleProjectionError,
    drop_relations,
    lock_key,
    rebuild_command,
    relations,
)
from ledger_collect.projections.failures import ModelFailedError, connection_lost
from ledger_collect.projections.prefetch import Prefetch
from ledger_collect.projections.status import ProjectionStatus, describe, status  # noqa: F401
from ledger_collect.projections.swap_wait import swap_when_free
from ledger_collect.projections.tolerant import apply_events
from ledger_collect.runtime.collector import tuned_collector

#: Events per transaction when catching up and following.
PAGE_SIZE = 1000
#: Events per transaction when building a model from zero, where only throughput counts: fewer,
#: larger pages load and write each touched row fewer times.
REBUILD_PAGE_SIZE = 4000

Progress = Callable[[int, int], None]


# -- catch-up -------------------------------------------------------------------------------
@tuned_collector()
def catch_up(app: Any, names: Sequence[str] | str | None = None, *, page_size: int = PAGE_SIZE,
             progress: Progress | None = None) -> dict[str, int]:
    """Bring the named models (all by default) to the head of the log, one transaction per
    page. Safe to run at any time, concurrently with a follower; returns the positions.

    A model that fails stops alone: its failure is recorded (``failures``), the other models
    are caught up, then the first failure is raised (``ModelFailedError``, or
    ``StaleProjectionError`` for a model whose definition changed). A lost connection is
    raised at once."""
    log = EventLog(app)
    reached: dict[str, int] = {}
    failed: list[ProjectionError] = []
    with log.connect() as conn:
        for cls in select(names):
            try:
                reached[cls.name] = advance(log, conn, cls, page_size, progress)
            except StaleProjectionError as exc:
                failed.append(exc)
            except ModelFailedError as exc:
                failures.record(conn, log.schema, exc)
                failed.append(exc)
    if failed:
        raise failed[0]
    return reached


def advance(log: EventLog, conn: psycopg.Connection[Any], cls: type[Projection],
            page_size: int = PAGE_SIZE, progress: Progress | None = None) -> int:
    """Bring one model to the head of the log; returns its position. A page that fails is
    applied again one event per transaction, so the model moves up to the event that fails
    and ``ModelFailedError`` names it (or, the error gone, goes on)."""
    projection = cls()
    total = done = 0
    if progress is not None:
        with conn.transaction():
            total = log.count(conn, log.lock(conn, cls), cls.topics())
        progress(0, total)
    while True:
        try:
            with conn.transaction():
                position = log.lock(conn, cls)
                applied, reached = log.apply_page(conn, projection, position, page_size)
                if reached != position:
                    log.save_position(conn, cls, reached)
        except (StaleProjectionError, ModelFailedError):
            raise
        except Exception as exc:
            if connection_lost(conn, exc):
                raise
            projection = cls()  # whatever it kept in memory from the failed page
            applied, reached = _one_by_one(log, conn, cls, projection, page_size)
        done += applied
        if progress is not None:
            progress(done, max(total, done))
        if applied < page_size:
            return reached


def _one_by_one(log: EventLog, conn: psycopg.Connection[Any], cls: type[Projection],
                projection: Projection, count: int) -> tuple[int, int]:
    """Apply up to ``count`` events one per transaction; raise ``ModelFailedError`` at the
    first that fails. Returns the events applied and the position reached."""
    applied = position = 0
    while applied < count:
        at: int | None = None
        try:
            with conn.transaction():
                position = log.lock(conn, cls)
                page = log.read_page(conn, cls.topics(), position, 1)
                at = page.position if page.events else None
                if page.events:
                    apply_events(conn, projection, page.events)
                if page.position != position:
                    log.save_position(conn, cls, page.position)
        except StaleProjectionError:
            raise
        except Exception as exc:
            if connection_lost(conn, exc):
                raise
            if at is None:  # the event could not even be read (decoded)
                at = log.next_event(conn, cls.topics(), position)
            raise ModelFailedError(cls.name, at, exc) from exc
        position = page.position
        applied += len(page.events)
        if not page.full:
            break
    return applied, position


# -- rebuild --------------------------------------------------------------------------------
def scratch_schema(schema: str, name: str) -> str:
    """Where a model is rebuilt; PostgreSQL names stop at 63 bytes."""
    candidate = f"{schema}__rebuild_{name}"
    if len(candidate.encode()) <= 63:
        return candidate
    return f"rebuild_{hashlib.sha256(candidate.encode()).hexdigest()[:40]}"


@tuned_collector()
def build(app: Any, name: str, schema: str, *, page_size: int = REBUILD_PAGE_SIZE,
          progress: Progress | None = None) -> int:
    """Build the model from zero into ``schema`` (dropped first if it exists), up to the
    head of the log. Returns the position reached. The live model is not touched."""
    log = EventLog(app)
    (cls,) = select(name)
    with log.connect(schema) as conn:
        return _build(conn, log, cls, cls(), schema, page_size, progress)[0]


def _build(conn: psycopg.Connection[Any], log: EventLog, cls: type[Projection],
           projection: Projection, schema: str, page_size: int,
           progress: Progress | None) -> tuple[int, int, int]:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    conn.execute(cls.sql())
    total = log.count(conn, 0, cls.topics()) if progress is not None else 0
    position = done = 0
    if progress is not None:
        progress(0, total)
    projection.building = True
    try:
        with Prefetch(log, cls.topics(), page_size) as pages:
            for page in pages:
                with conn.transaction():
                    if page.events:
                        apply_events(conn, projection, page.events)
                position = page.position
                done += len(page.events)
                if progress is not None:
                    progress(done, max(total, done))
        with conn.transaction():
            projection.built(conn)
    finally:
        projection.building = False
    return position, done, total


@tuned_collector()
def rebuild(app: Any, names: Sequence[str] | str | None = None, *,
            page_size: int = REBUILD_PAGE_SIZE,
            progress: Progress | None = None) -> dict[str, int]:
    """Rebuild the named models (all by default) from zero and swap each in atomically when
    it has caught up. Readers keep the old tables until the swap; a follower waits for the
    swap (the model's lock) and carries on from the new position. Returns the positions."""
    log = EventLog(app)
    reached: dict[str, int] = {}
    for cls in select(names):
        with log.connect() as guard:
            key = lock_key(log.schema, cls.name, "rebuild")
            row = guard.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if not (row and row[0]):
                raise RebuildRunningError(f"read model {cls.name} is already being rebuilt")
            try:
                reached[cls.name] = _rebuild(log, cls, page_size, progress)
            finally:
                guard.execute("SELECT pg_advisory_unlock(%s)", (key,))
    return reached


def _rebuild(log: EventLog, cls: type[Projection], page_size: int,
             progress: Progress | None) -> int:
    scratch = scratch_schema(log.schema, cls.name)
    projection = cls()
    with log.connect(scratch) as conn:
        position, done, total = _build(conn, log, cls, projection, scratch, page_size, progress)
        _vacuum(conn, scratch)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(log.schema, cls.name),))
            while True:  # the tail written since, under the lock: the follower waits
                applied, position = log.apply_page(conn, projection, position, page_size)
                done += applied
                if applied < page_size:
                    break
            live = sorted({name for name, _ in relations(conn, scratch)} | set(cls.tables))
            swap_when_free(conn, cls.name, log.schema, live,
                           lambda: _swap(conn, scratch, log.schema, cls))
            log.save_position(conn, cls, position)
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(scratch)))
    if progress is not None:
        progress(done, max(total, done))
    return position


def _vacuum(conn: psycopg.Connection[Any], schema: str) -> None:
    """VACUUM (ANALYZE) the freshly built tables before they go live. Without it the planner
    has no statistics for them, and no visibility map, until autovacuum comes by: it then
    prices every index-only scan as if each row needed a visit to the table, and reads the
    portfolio's aging from a sequential scan of every invoice."""
    for name, kind in relations(conn, schema):
        if kind == "TABLE":
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(schema, name)))


def _swap(conn: psycopg.Connection[Any], scratch: str, live: str,
          cls: type[Projection]) -> None:
    """Replace the live model's relations by the scratch schema's (inside the caller's
    transaction). Tables move first, taking their indexes and owned sequences along."""
    new = relations(conn, scratch)
    drop_relations(conn, live, sorted({name for name, _ in new} | set(cls.tables)))
    for only_tables in (True, False):
        for name, kind in relations(conn, scratch):
            if (kind == "TABLE") == only_tables:
                conn.execute(sql.SQL("ALTER {} {} SET SCHEMA {}").format(
                    sql.SQL(kind), sql.Identifier(scratch, name), sql.Identifier(live)))
