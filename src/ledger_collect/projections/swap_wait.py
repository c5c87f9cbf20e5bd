"""A rebuild's swap waits a short, bounded time for the model's readers, and says who blocked it.

The swap drops the live tables, which needs each one to itself (ACCESS EXCLUSIVE). While it waits
for a reader to finish, every reader that comes after queues behind it: one long report would
hold up every request reading that model for as long as the swap is willing to wait. So the swap
waits ``SWAP_LOCK_WAIT`` at most; if the tables are still in use then, it gives up (the old tables
stay live, nothing is lost, the rebuild can run again) and names the sessions holding them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from ledger_collect.projections.eventlog import ProjectionError

#: How long the swap waits for readers of the live tables before giving up.
SWAP_LOCK_WAIT = 5


class SwapBlockedError(ProjectionError):
    pass


def swap_when_free(conn: psycopg.Connection[Any], model: str, schema: str,
                   relations: Sequence[str], swap: Callable[[], None]) -> None:
    """Run ``swap`` (inside the caller's transaction) with a lock timeout of
    ``SWAP_LOCK_WAIT``; when it runs out, raise ``SwapBlockedError`` naming the sessions that
    hold ``relations`` of ``schema``. The caller's transaction stays usable."""
    try:
        with conn.transaction():  # a savepoint: its failure leaves the caller's open
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(
                sql.Literal(f"{SWAP_LOCK_WAIT}s")))
            swap()
    except psycopg.errors.LockNotAvailable:
        holders = blockers(conn, schema, relations)
        raise SwapBlockedError(
            f"read model {model}: the swap waited {SWAP_LOCK_WAIT} s for "
            f"{'; '.join(holders) or 'a session that has since ended'}; the old tables stay "
            f"live: run the rebuild again when they are free") from None


def blockers(conn: psycopg.Connection[Any], schema: str, relations: Sequence[str]) -> list[str]:
    """Each other session holding a lock on one of ``relations``: its pid, how long its
    statement has run, the statement's start and the locked tables."""
    rows = conn.execute(
        "SELECT a.pid, coalesce(extract(epoch FROM now() - a.query_start), 0),"
        " a.state, left(regexp_replace(a.query, '\\s+', ' ', 'g'), 80),"
        " string_agg(DISTINCT c.relname || ' (' || l.mode || ')', ', ')"
        " FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE n.nspname = %s AND c.relname = ANY(%s) AND l.granted"
        " AND l.pid <> pg_backend_pid()"
        " GROUP BY a.pid, a.query_start, a.state, a.query ORDER BY a.pid",
        (schema, list(relations))).fetchall()
    return [f"pid {pid} ({state} {seconds:.0f} s: {query}) holding {locked}"
            for pid, seconds, state, query, locked in rows]
