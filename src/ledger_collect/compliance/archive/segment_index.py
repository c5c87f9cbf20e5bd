"""The archive's index in PostgreSQL (``archive_segments``, ``archived_streams``): which
segment holds which stream, so that a purged stream is found without reading every segment.

The signed manifest is the authority; these rows are written after it, in one transaction per
segment, and ``Archive.reconcile`` adds what a crash left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.compliance.archive.segment import Segment, SegmentInfo

Connection = psycopg.Connection[Any]


def indexed_segments(conn: Connection) -> dict[int, SegmentInfo]:
    rows = conn.execute(
        "SELECT segment_number, sha256, previous_sha256, event_count, stream_count, stored_bytes"
        " FROM archive_segments ORDER BY segment_number").fetchall()
    return {row[0]: SegmentInfo(*row) for row in rows}


def indexed_stream_counts(conn: Connection) -> dict[int, int]:
    rows = conn.execute("SELECT segment_number, count(*) FROM archived_streams"
                        " GROUP BY segment_number").fetchall()
    return {row[0]: row[1] for row in rows}


def index_segment(conn: Connection, info: SegmentInfo, segment: Segment) -> None:
    """The segment's row and one row per stream in it, together."""
    runs: dict[UUID, list[int]] = {}
    for stream, version, _, _, _ in segment.events:
        run = runs.get(stream)
        if run is None:
            runs[stream] = [version, version, 1]
            continue
        if version < run[0]:
            run[0] = version
        elif version > run[1]:
            run[1] = version
        run[2] += 1
    with conn.transaction():
        conn.execute(
            "INSERT INTO archive_segments (segment_number, sha256, previous_sha256, event_count,"
            " stream_count, stored_bytes) VALUES (%s, %s, %s, %s, %s, %s)",
            (info.number, info.sha256, info.previous_sha256, info.events, info.streams,
             info.bytes))
        with conn.cursor().copy(
                "COPY archived_streams (stream_id, segment_number, first_version, last_version,"
                " event_count) FROM STDIN") as copy:
            for stream, run in runs.items():
                copy.write_row((stream, info.number, *run))


def archived_stream_ids(conn: Connection, ids: Iterable[UUID]) -> set[UUID]:
    """Those of ``ids`` that have events in an indexed segment."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return set()
    rows = conn.execute("SELECT DISTINCT stream_id FROM archived_streams"
                        " WHERE stream_id = ANY(%s)", (wanted,)).fetchall()
    return {row[0] for row in rows}


def segments_of(conn: Connection, stream_id: UUID) -> list[int]:
    rows = conn.execute("SELECT segment_number FROM archived_streams WHERE stream_id = %s"
                        " ORDER BY first_version", (stream_id,)).fetchall()
    return [row[0] for row in rows]
