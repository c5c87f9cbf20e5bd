"""Read models forget purged streams as they meet the purge.

A stream leaves the store in the transaction that records ``ComplianceRun.StreamsPurged``
(``compliance.purge``). A model says which of its tables hold rows of one stream each, and
the column with the stream's id (``Projection.stream_rows``); when a page holds a purge, the
events before it are applied, the purged streams' rows deleted, then the events after it.
A rebuild meets the same purge after the streams' events are gone, so it gives the same rows.
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
        drop_streams(conn, projection.stream_rows, event.stream_ids)
    if kept:
        projection.apply(conn, kept)


def drop_streams(conn: psycopg.Connection[Any], stream_rows: Sequence[tuple[str, str]],
                 stream_ids: Sequence[Any]) -> None:
    for table, column in stream_rows:
        conn.execute(sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(
            sql.Identifier(table), sql.Identifier(column)), (list(stream_ids),))
