"""What each stream added to a customer's processed marks and broken promises, kept per stream
and day (``worklist_stream_marks``) so that a purge can take it out again.

A customer's processed marks (casework events and their actors by business day) and broken
promises (by as-of day) are folded over many streams. A rebuild after a purge never sees the
purged streams' events; the live model has counted them. So the model keeps each stream's
share, drops the purged streams' shares with their other rows (``Projection.stream_rows``) and
sums the marks and broken promises of the customers and days they touched again from the
shares left: both end as a rebuild has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

import psycopg


def add(conn: psycopg.Connection[Any],
        marks: dict[tuple[UUID, date], tuple[UUID, set[str], int, int]]) -> None:
    """Add a page's shares (one statement): actors merged, counts added."""
    if not marks:
        return
    keys = sorted(marks)
    conn.execute(_ADD, (
        [k[0] for k in keys], [k[1] for k in keys], [marks[k][0] for k in keys],
        ["{" + ",".join(quoted(a) for a in sorted(marks[k][1])) + "}" for k in keys],
        [marks[k][2] for k in keys], [marks[k][3] for k in keys]))


def marked(conn: psycopg.Connection[Any], stream_ids: Sequence[Any]) -> list[tuple[UUID, date]]:
    """The customers and days these streams have shares in (read before they are dropped)."""
    return [(row[0], row[1]) for row in conn.execute(
        "SELECT DISTINCT customer_id, day FROM worklist_stream_marks WHERE stream_id = ANY(%s)"
        " ORDER BY 1, 2", (list(stream_ids),))]


def recount(conn: psycopg.Connection[Any], keys: list[tuple[UUID, date]]) -> None:
    """Sum these customers' processed marks on these days, and their broken promises, again
    from the shares left."""
    if not keys:
        return
    args = {"customers": [k[0] for k in keys], "days": [k[1] for k in keys]}
    conn.execute(_RECOUNT_PROCESSED, args)
    conn.execute(_RECOUNT_BROKEN, {"ids": sorted({k[0] for k in keys})})


def quoted(text: str) -> str:
    """An element of a text array literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_ADD = """
INSERT INTO worklist_stream_marks AS m (stream_id, day, customer_id, actors, events, broken)
SELECT u.stream_id, u.day, u.customer_id, u.actors::text[], u.events, u.broken
FROM unnest(%s::uuid[], %s::date[], %s::uuid[], %s::text[], %s::int[], %s::int[])
    AS u(stream_id, day, customer_id, actors, events, broken)
ON CONFLICT (stream_id, day) DO UPDATE SET
    actors = ARRAY(SELECT DISTINCT a FROM unnest(m.actors || EXCLUDED.actors) AS a ORDER BY a),
    events = m.events + EXCLUDED.events, broken = m.broken + EXCLUDED.broken
"""

_RECOUNT_PROCESSED = """
WITH keys AS (SELECT DISTINCT * FROM unnest(%(customers)s::uuid[], %(days)s::date[])
              AS k(customer_id, day)),
fresh AS (
    SELECT m.customer_id, m.day, sum(m.events)::int AS events,
           ARRAY(SELECT DISTINCT a FROM worklist_stream_marks x, unnest(x.actors) AS a
                 WHERE x.customer_id = m.customer_id AND x.day = m.day AND x.events > 0
                 ORDER BY a) AS actors
    FROM worklist_stream_marks m JOIN keys USING (customer_id, day)
    WHERE m.events > 0 GROUP BY m.customer_id, m.day),
gone AS (
    DELETE FROM worklist_processed p USING keys k
    WHERE p.customer_id = k.customer_id AND p.day = k.day AND NOT EXISTS
        (SELECT 1 FROM fresh f WHERE f.customer_id = p.customer_id AND f.day = p.day))
UPDATE worklist_processed p SET actors = f.actors, events = f.events
FROM fresh f WHERE p.customer_id = f.customer_id AND p.day = f.day
"""

_RECOUNT_BROKEN = """
UPDATE worklist_customers c SET broken_promises = coalesce((
    SELECT array_agg(m.day ORDER BY m.day) FROM worklist_stream_marks m,
        generate_series(1, m.broken) AS n
    WHERE m.customer_id = c.id AND m.broken > 0), '{}')
WHERE c.id = ANY(%(ids)s::uuid[])
"""
