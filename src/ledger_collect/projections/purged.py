"""Read models forget purged streams as they meet the purge.

A stream leaves the store in the transaction that records ``ComplianceRun.StreamsPurged``
(``compliance.purge``). A model says which of its tables hold rows of one stream each, and
the column with the stream's id (``Projection.stream_rows``); when a page holds a purge, the
events before it are applied, the purged streams' rows deleted, then the events after it.
A rebuild meets the same purge after the streams' events are gone, so it gives the same rows.

Figures folded per customer over many streams must also end as a rebuild has them: either the
purge event carries what the model keeps of the purged streams (a customer's last activity:
``ComplianceRun.StreamsPurged.last_activity``), or the figure counts only what is still in the
store and the model sums it again for the customers whose rows were dropped (open balances, the
worklist's figures): ``Projection.purge``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from ledger_collect.domain.compliance_run import ComplianceRun

PURGED = ComplianceRun.StreamsPurged
TOPIC: str = PURGED.TOPIC


def apply_page(conn: psycopg.Connection[Any], projection: Any, events: Sequence[Any]) -> None:
    """``projection.apply`` on the page, with the purges in it carried out in their place."""
    if not projection.stream_rows or not any(type(e) is PURGED for e in events):
        projection.apply(conn, events)
        return
    kept: list[Any] = []
    for event in events:
        if type(event) is not PURGED:
            kept.append(event)
            continue
        if kept:
            projection.apply(conn, kept)
            kept = []
        projection.purge(conn, event)
    if kept:
        projection.apply(conn, kept)


def drop_streams(conn: psycopg.Connection[Any], stream_rows: Sequence[tuple[str, str]],
                 stream_ids: Sequence[Any]) -> None:
    """Delete the rows of these streams from the model's stream tables."""
    for table, column in stream_rows:
        conn.execute(sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(
            sql.Identifier(table), sql.Identifier(column)), (list(stream_ids),))


def customers_of(conn: psycopg.Connection[Any], tables: Sequence[str],
                 stream_ids: Sequence[Any]) -> list[Any]:
    """The customers that rows of these streams in ``tables`` (keyed ``id``, with a
    ``customer_id``) belong to, in order: read before the rows are dropped."""
    found: set[Any] = set()
    for table in tables:
        found.update(row[0] for row in conn.execute(sql.SQL(
            "SELECT DISTINCT customer_id FROM {} WHERE id = ANY(%s)").format(
            sql.Identifier(table)), (list(stream_ids),)))
    return sorted(found)
