"""The event log as read models read it, their positions, and the model's lock.

Exactly-once. A page is applied in the transaction that also moves the model's row in
``projection_positions``, under a transaction-scoped advisory lock per model (``EventLog.lock``);
see ``runner`` for how catch-up, following and rebuilds use it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg import sql

from ledger_collect.projections import Projection, forgetting
from ledger_collect.projections.prefetch import Page
from ledger_collect.projections.tolerant import apply_events

SWAP_WAIT = "60s"
#: NOTIFY channel a page commit signals on (payload ``<schema>:<name>:<position>``).
CHANNEL = "ledger_collect_projections"

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
        # A model past the event it failed at is no longer failing: same statement, no
        # extra round trip per page.
        self._save_sql = sql.SQL(
            "WITH cleared AS (DELETE FROM {f} WHERE name = %s"
            " AND coalesce(notification_id, 0) <= %s)"
            " INSERT INTO {p} (name, position, checksum, updated_at) VALUES (%s, %s, %s, now())"
            " ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position,"
            " checksum = EXCLUDED.checksum, updated_at = now()").format(
            f=sql.Identifier(self.schema, "projection_failures"), p=self.positions)

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

    def next_event(self, conn: psycopg.Connection[Any], topics: Sequence[str],
                   after: int) -> int | None:
        """The notification id of the first event of these topics after ``after``."""
        row = conn.execute(sql.SQL(
            "SELECT min(notification_id) FROM {} WHERE notification_id > %s"
            " AND topic = ANY(%s)").format(self.events), (after, list(topics))).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def decode(self, stored: Sequence[StoredEvent]) -> list[Any]:
        """Domain events, personal data unsealed (the mapper's job: the page's data keys in
        one query). A page where a customer's erasure completes is decoded again once that
        customer's key is known gone (``forgetting``)."""
        events = self.mapper.to_domain_events(stored)
        erased = forgetting.erased_in(events)
        if erased and self.mapper.keyring.forget_keys(erased):
            events = self.mapper.to_domain_events(stored)
        return events

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
            apply_events(conn, projection, page.events)
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
        conn.execute(self._save_sql, (cls.name, position, cls.name, position, cls.checksum()))
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{self.schema}:{cls.name}:{position}"))

    def lock(self, conn: psycopg.Connection[Any], cls: type[Projection]) -> int:
        """Take the model's lock for this transaction and return its position, installing the
        model's tables (position 0) on first use. A changed definition is refused."""
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(self.schema, cls.name),))
        found = self.read_position(conn, cls)
        if found is None:
            drop_relations(conn, self.schema, cls.tables)
            conn.execute(cls.sql())
            self.save_position(conn, cls, 0)
            return 0
        position, checksum = found
        if checksum != cls.checksum():
            raise StaleProjectionError(
                f"read model {cls.name} was built from another version of projections/"
                f"{cls.name}.sql; rebuild it: {rebuild_command(cls.name)}")
        return position


_KINDS = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}


def relations(conn: psycopg.Connection[Any], schema: str) -> list[tuple[str, str]]:
    return [(str(name), _KINDS[kind]) for name, kind in conn.execute(
        "SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n"
        " ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = ANY(%s)"
        " ORDER BY c.relname", (schema, list(_KINDS))).fetchall()]


def drop_relations(conn: psycopg.Connection[Any], schema: str, names: Sequence[str]) -> None:
    """Drop these relations of ``schema`` if they exist: views first, then tables. Without
    CASCADE: another model's view on one of them makes the drop (and the swap) fail loudly."""
    present = {name: kind for name, kind in relations(conn, schema) if name in set(names)}
    order = ("VIEW", "MATERIALIZED VIEW", "TABLE", "SEQUENCE")
    for kind in order:
        for name in sorted(n for n, k in present.items() if k == kind):
            exists = conn.execute(  # a table's owned sequence went with the table
                "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relname = %s", (schema, name)).fetchone()
            if exists:
                conn.execute(sql.SQL("DROP {} {}").format(
                    sql.SQL(kind), sql.Identifier(schema, name)))
