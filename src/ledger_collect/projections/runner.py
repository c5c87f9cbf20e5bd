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

Rebuild. The model is built from zero in a scratch schema while readers keep the live tables,
then, holding the model's lock, the tail is applied, the live tables are dropped and the new
ones moved in (``ALTER … SET SCHEMA``) with the position, in one transaction: readers see the
old model or the new one, never half of one. While it builds, the next page is read and
decoded in a thread (``prefetch``) as the current one is applied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg import sql

from ledger_collect.collector import tuned_collector
from ledger_collect.projections import Projection, select
from ledger_collect.projections.prefetch import Page, Prefetch
from ledger_collect.projections.swap_wait import SwapBlockedError, swap_when_free

#: Events per transaction when catching up and following.
PAGE_SIZE = 1000
#: Events per transaction when building a model from zero, where only throughput counts: fewer,
#: larger pages load and write each touched row fewer times (at 100,000 customers: the worklist
#: rebuilt 14 % faster than with pages of 1,000, the customer directory 6 %).
REBUILD_PAGE_SIZE = 4000
SWAP_WAIT = "60s"
#: NOTIFY channel a page commit signals on (payload ``<schema>:<name>:<position>``).
CHANNEL = "ledger_collect_projections"

Progress = Callable[[int, int], None]


class ProjectionError(RuntimeError):
    pass


class StaleProjectionError(ProjectionError):
    """The model's tables were built from another version of its SQL file."""


class RebuildRunningError(ProjectionError):
    pass


def lock_key(schema: str, name: str, purpose: str = "apply") -> int:
    """A pg_advisory_lock key per schema, model and purpose."""
    digest = hashlib.blake2b(f"ledger-collect:{purpose}:{schema}:{name}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def rebuild_command(name: str) -> str:
    return f"ledger-collect projections rebuild {name}"


class EventLog:
    """The app's notification log as the projections read it, and their positions."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.mapper = app.mapper
        self.database = app.database
        self.schema: str = app.database.schema
        self.events = sql.Identifier(self.schema, app.recorder.events_table_name)
        self.positions = sql.Identifier(self.schema, "projection_positions")
        self._page_sql = sql.SQL(
            "SELECT h.head, e.notification_id, e.originator_id, e.originator_version, e.topic,"
            " e.state FROM (SELECT max(notification_id) AS head FROM {t}) AS h"
            " LEFT JOIN LATERAL (SELECT notification_id, originator_id, originator_version,"
            " topic, state FROM {t} WHERE notification_id > %s AND topic = ANY(%s)"
            " ORDER BY notification_id LIMIT %s) AS e ON true ORDER BY e.notification_id"
        ).format(t=self.events)

    @contextmanager
    def connect(self, search_path: str | None = None) -> Iterator[psycopg.Connection[Any]]:
        """An autocommit connection (transactions are explicit) with tables resolved in
        ``search_path`` (the live schema by default)."""
        settings = self.database.settings
        with psycopg.connect(self.database.url, autocommit=True,
                             connect_timeout=settings.connect_timeout) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(
                sql.Identifier(search_path or self.schema)))
            # A page may wait for a rebuild's swap, and the swap for readers to finish their
            # statements; not forever, though: then the page fails and is retried.
            conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(SWAP_WAIT)))
            yield conn

    def head(self, conn: psycopg.Connection[Any]) -> int:
        row = conn.execute(sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(
            self.events)).fetchone()
        return int(row[0]) if row else 0

    def count(self, conn: psycopg.Connection[Any], after: int,
              topics: Sequence[str] | None = None) -> int:
        query = sql.SQL("SELECT count(*) FROM {} WHERE notification_id > %s").format(self.events)
        params: list[Any] = [after]
        if topics is not None:
            query += sql.SQL(" AND topic = ANY(%s)")
            params.append(list(topics))
        row = conn.execute(query, params).fetchone()
        return int(row[0]) if row else 0

    def decode(self, stored: Sequence[StoredEvent]) -> list[Any]:
        """Domain events, personal data unsealed (the mapper's job: the page's data keys in
        one query)."""
        return self.mapper.to_domain_events(stored)

    def read_page(self, conn: psycopg.Connection[Any], topics: Sequence[str], after: int,
                  limit: int) -> Page:
        """The next page of events of these topics after ``after``, decoded, and the position
        a model reaches by applying it."""
        rows = conn.execute(self._page_sql, (after, list(topics), limit)).fetchall()
        head = int(rows[0][0] or 0) if rows else 0
        stored = [StoredEvent(originator_id=r[2], originator_version=r[3], topic=r[4],
                              state=bytes(r[5])) for r in rows if r[1] is not None]
        if not stored:
            return Page([], max(head, after), full=False)
        last = int(rows[-1][1])
        full = len(stored) == limit
        return Page(self.decode(stored), last if full else max(head, last, after), full)

    def apply_page(self, conn: psycopg.Connection[Any], projection: Projection, after: int,
                   limit: int) -> tuple[int, int]:
        """Apply the next page after ``after`` (inside the caller's transaction). Returns the
        number of events applied and the position reached."""
        page = self.read_page(conn, projection.topics(), after, limit)
        if page.events:
            projection.apply(conn, page.events)
        return len(page.events), page.position

    # -- positions -------------------------------------------------------------------------
    def read_position(self, conn: psycopg.Connection[Any],
                      cls: type[Projection]) -> tuple[int, str] | None:
        row = conn.execute(
            sql.SQL("SELECT position, checksum FROM {} WHERE name = %s").format(self.positions),
            (cls.name,)).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def save_position(self, conn: psycopg.Connection[Any], cls: type[Projection],
                      position: int) -> None:
        conn.execute(sql.SQL(
            "INSERT INTO {} (name, position, checksum, updated_at) VALUES (%s, %s, %s, now())"
            " ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position,"
            " checksum = EXCLUDED.checksum, updated_at = now()").format(self.positions),
            (cls.name, position, cls.checksum()))
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{self.schema}:{cls.name}:{position}"))

    def lock(self, conn: psycopg.Connection[Any], cls: type[Projection]) -> int:
        """Take the model's lock for this transaction and return its position, installing the
        model's tables (position 0) on first use. A changed definition is refused."""
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(self.schema, cls.name),))
        found = self.read_position(conn, cls)
        if found is None:
            _drop_relations(conn, self.schema, cls.tables)
            conn.execute(cls.sql())
            self.save_position(conn, cls, 0)
            return 0
        position, checksum = found
        if checksum != cls.checksum():
            raise StaleProjectionError(
                f"read model {cls.name} was built from another version of projections/"
                f"{cls.name}.sql; rebuild it: {rebuild_command(cls.name)}")
        return position


# -- catch-up -------------------------------------------------------------------------------
@tuned_collector()
def catch_up(app: Any, names: Sequence[str] | str | None = None, *, page_size: int = PAGE_SIZE,
             progress: Progress | None = None) -> dict[str, int]:
    """Bring the named models (all by default) to the head of the log, one transaction per
    page. Safe to run at any time, concurrently with a follower; returns the positions."""
    log = EventLog(app)
    reached: dict[str, int] = {}
    with log.connect() as conn:
        for cls in select(names):
            projection = cls()
            total = done = 0
            if progress is not None:
                with conn.transaction():
                    total = log.count(conn, log.lock(conn, cls), cls.topics())
                progress(0, total)
            while True:
                with conn.transaction():
                    position = log.lock(conn, cls)
                    applied, reached[cls.name] = log.apply_page(conn, projection, position,
                                                                page_size)
                    if reached[cls.name] != position:
                        log.save_position(conn, cls, reached[cls.name])
                done += applied
                if progress is not None:
                    progress(done, max(total, done))
                if applied < page_size:
                    break
    return reached


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
                        projection.apply(conn, page.events)
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
            live = sorted({name for name, _ in _relations(conn, scratch)} | set(cls.tables))
            try:
                swap_when_free(conn, cls.name, log.schema, live,
                               lambda: _swap(conn, scratch, log.schema, cls))
            except SwapBlockedError as error:
                raise ProjectionError(str(error)) from None
            log.save_position(conn, cls, position)
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(scratch)))
    if progress is not None:
        progress(done, max(total, done))
    return position


def _vacuum(conn: psycopg.Connection[Any], schema: str) -> None:
    """VACUUM (ANALYZE) the freshly built tables before they go live. Without it the planner
    has no statistics for them, and no visibility map, until autovacuum comes by: it then
    prices every index-only scan as if each row needed a visit to the table, and reads the
    portfolio's aging from a sequential scan of every invoice (measured on 1.06M open
    items: see the README's aging figures)."""
    for name, kind in _relations(conn, schema):
        if kind == "TABLE":
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(schema, name)))


_KINDS = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}


def _relations(conn: psycopg.Connection[Any], schema: str) -> list[tuple[str, str]]:
    return [(str(name), _KINDS[kind]) for name, kind in conn.execute(
        "SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n"
        " ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = ANY(%s)"
        " ORDER BY c.relname", (schema, list(_KINDS))).fetchall()]


def _drop_relations(conn: psycopg.Connection[Any], schema: str, names: Sequence[str]) -> None:
    """Drop these relations of ``schema`` if they exist: views first, then tables. Without
    CASCADE: another model's view on one of them makes the drop (and the swap) fail loudly."""
    present = {name: kind for name, kind in _relations(conn, schema) if name in set(names)}
    order = ("VIEW", "MATERIALIZED VIEW", "TABLE", "SEQUENCE")
    for kind in order:
        for name in sorted(n for n, k in present.items() if k == kind):
            exists = conn.execute(  # a table's owned sequence went with the table
                "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relname = %s", (schema, name)).fetchone()
            if exists:
                conn.execute(sql.SQL("DROP {} {}").format(
                    sql.SQL(kind), sql.Identifier(schema, name)))


def _swap(conn: psycopg.Connection[Any], scratch: str, live: str,
          cls: type[Projection]) -> None:
    """Replace the live model's relations by the scratch schema's (inside the caller's
    transaction). Tables move first, taking their indexes and owned sequences along."""
    new = _relations(conn, scratch)
    _drop_relations(conn, live, sorted({name for name, _ in new} | set(cls.tables)))
    for only_tables in (True, False):
        for name, kind in _relations(conn, scratch):
            if (kind == "TABLE") == only_tables:
                conn.execute(sql.SQL("ALTER {} {} SET SCHEMA {}").format(
                    sql.SQL(kind), sql.Identifier(scratch, name), sql.Identifier(live)))


# -- status ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    position: int  # last notification id the model has taken into account
    head: int  # last notification id in the log
    lag: int  # events written after the position
    state: str  # "current", "behind", "stale" (definition changed: rebuild), "not built"


def status(app: Any, names: Sequence[str] | str | None = None) -> list[ProjectionStatus]:
    log = EventLog(app)
    found: list[ProjectionStatus] = []
    with log.connect() as conn:
        head = log.head(conn)
        for cls in select(names):
            row = log.read_position(conn, cls)
            found.append(describe(cls, row, head, log.count(conn, row[0] if row else 0)))
    return found


def describe(cls: type[Projection], row: tuple[int, str] | None, head: int,
             lag: int) -> ProjectionStatus:
    """A model's status from its stored (position, checksum) row, if any, the log's head and
    the number of events after its position."""
    if row is None:
        return ProjectionStatus(cls.name, 0, head, lag, "not built")
    position, checksum = row
    state = "stale" if checksum != cls.checksum() else "behind" if lag else "current"
    return ProjectionStatus(cls.name, position, head, lag, state)
