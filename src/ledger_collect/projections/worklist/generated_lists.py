"""The day's generated worklists (``DailyWorklist``), part of the worklist model: per segment
and day the current version's header, and one row per customer with who works it, why, and the
keys it was ranked by.

Writer (``write_lists``, called by the model's writer for these events). A version's header replaces the segment's list of that day; its parts follow it in the
log (the same transaction) and add their customers, decoded from the parts' columns. A page
loads the headers its parts need (one query), deletes the lists its headers replace (one
statement), writes headers back (one upsert) and the customers in (one COPY). Lists of days
more than ``KEEP_DAYS`` before the latest day listed are dropped, after every page: the result
depends only on the events, not on how they were paged (a rebuild equals the live model).

Readers: ``lists_of_day`` (the headers of a day, for the API), and ``stored_rows_sql``, the
rows of a specialist's list as ``ranked_pages`` reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain.daily_worklist import KIND_OF, DailyWorklist
from ledger_collect.domain.distribution import KINDS
from ledger_collect.projections.forgetting import not_erased
from ledger_collect.projections.tables import Key, Table
from ledger_collect.projections.tolerant import clip_key

#: Days of lists kept before the latest day listed.
KEEP_DAYS = 62


@dataclass(frozen=True)
class ListRecord:
    id: UUID
    segment: Key
    day: date
    version: int
    strategy_code: str
    strategy_version: int
    team: bool
    present: list[str]
    absent: list[str]
    substitutes: list[str]  # of absent[i]; an element is None when nobody was named
    people: list[str]
    customers: int
    own: int
    substitute: int
    unassigned: int
    owner_away: int
    unplaced: int
    generated_on: date
    generated_by: str
    generated_at: datetime


@dataclass(frozen=True)
class EntryRecord:
    segment: Key
    day: date
    customer_id: UUID
    worker: Key  # '' for nobody
    kind: Key
    owner: Key | None
    neg_score: int
    neg_overdue: Decimal
    oldest_due: date
    number: Key


LIST_TABLE = Table("daily_worklists", ListRecord, unique=(("day", "segment"),))
ENTRY_TABLE = Table("daily_worklist_entries", EntryRecord, key=("segment", "day", "customer_id"))
_HEADERS = (DailyWorklist.Generated, DailyWorklist.Regenerated)


#: The events written here.
LIST_EVENTS = (*_HEADERS, DailyWorklist.Listed)


def write_lists(conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
    """A page's ``LIST_EVENTS`` into the lists' rows, in the page's transaction."""
    known = LIST_TABLE.load(conn, {e.originator_id for e in events
                                   if type(e) is not DailyWorklist.Generated})
    changed: dict[UUID, dict[str, Any]] = {}
    entries: dict[UUID, list[tuple[Any, ...]]] = {}
    for e in events:
        if type(e) in _HEADERS:
            row = _header(known.get(e.originator_id), e)
            if row is not None:
                known[e.originator_id] = changed[e.originator_id] = row
                entries[e.originator_id] = []
        else:
            row = known.get(e.originator_id)
            if row is not None and row["version"] == e.number:
                entries.setdefault(e.originator_id, []).extend(_entries(row, e))
    if not changed and not entries:
        return
    if changed:
        conn.execute("DELETE FROM daily_worklist_entries WHERE (segment, day) IN"
                     " (SELECT * FROM unnest(%s::text[], %s::date[]))",
                     ([r["segment"] for r in changed.values()],
                      [r["day"] for r in changed.values()]))
        conn.cursor().executemany(_UPSERT, [tuple(r[name] for name in LIST_TABLE.names)
                                            for r in changed.values()])
    _copy(conn, [entry for found in entries.values() for entry in found])
    if changed:
        conn.execute(_PRUNE, {"keep": KEEP_DAYS})


_UPSERT = (f"INSERT INTO daily_worklists ({LIST_TABLE.select()}) VALUES"
           f" ({', '.join(['%s'] * len(LIST_TABLE.names))}) ON CONFLICT (id) DO UPDATE SET "
           + ", ".join(f"{name} = EXCLUDED.{name}" for name in LIST_TABLE.names[1:]))


def _header(row: dict[str, Any] | None, e: Any) -> dict[str, Any] | None:
    """The list's header as version ``e`` makes it (None for a version of a list the model
    no longer keeps)."""
    if type(e) is DailyWorklist.Generated:
        where = {"id": e.originator_id, "segment": e.segment, "day": e.day}
    elif row is None:
        return None
    else:
        where = {"id": row["id"], "segment": row["segment"], "day": row["day"]}
    return {**where, "version": e.number, "strategy_code": e.strategy_code,
            "strategy_version": e.strategy_version, "team": e.team,
            "present": list(e.present), "absent": [a for a, _ in e.absences],
            "substitutes": [s for _, s in e.absences], "people": list(e.people),
            "customers": e.customers, **{kind: e.counts.get(kind, 0) for kind in KINDS},
            "generated_on": e.business_date, "generated_by": e.actor,
            "generated_at": e.timestamp}


def _entries(row: dict[str, Any], e: Any) -> list[tuple[Any, ...]]:
    """A part's customers as rows of ``daily_worklist_entries``, in its column order."""
    segment, day, people = clip_key(row["segment"]), row["day"], row["people"]
    names = [clip_key(name) for name in people]
    found = []
    for n, customer in enumerate(e.customer_ids):
        worker, owner = e.workers[n], e.owners[n]
        found.append((segment, day, UUID(customer), names[worker] if worker >= 0 else "",
                      KIND_OF[e.kinds[n]], names[owner] if owner >= 0 else None,
                      -e.scores[n], -Decimal(e.overdue[n]),
                      day - timedelta(days=e.days_overdue[n]), clip_key(e.numbers[n])))
    return found


def _copy(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    columns = ", ".join(ENTRY_TABLE.names)
    with conn.cursor().copy(f"COPY daily_worklist_entries ({columns}) FROM STDIN"
                            " (FORMAT BINARY)") as copy:
        copy.set_types([column.cast for column in ENTRY_TABLE.columns])
        for row in rows:
            copy.write_row(row)


_PRUNE = """
WITH latest AS (SELECT max(day) - %(keep)s::int AS day FROM daily_worklists),
gone AS (DELETE FROM daily_worklists WHERE day < (SELECT day FROM latest)
         RETURNING segment, day)
DELETE FROM daily_worklist_entries WHERE day < (SELECT day FROM latest)
"""


# -- readers (asyncpg; the pool's search_path is the app's schema) ----------------------------
async def lists_of_day(pool: Any, day: date) -> list[ListRecord]:
    """The current version of each segment's list of ``day``, by segment."""
    rows = await pool.fetch(f"SELECT {LIST_TABLE.select()} FROM daily_worklists WHERE day = $1"
                            " ORDER BY segment", day)
    return [LIST_TABLE.make(row) for row in rows]


#: The day has generated lists: a one-time condition ($1 the day) that switches a specialist's
#: list from the stored ranking to the generated lists.
GENERATED = "EXISTS (SELECT 1 FROM daily_worklists WHERE day = $1::date)"

#: Whether a customer was processed on the day ($1).
_PROCESSED = ("EXISTS (SELECT 1 FROM worklist_processed p WHERE p.customer_id = e.customer_id"
              " AND p.day = $1::date)")
_MARKED = {mode: f"{marked} AND {not_erased('e.customer_id')}" for mode, marked in (
    ("exclude", f" AND NOT {_PROCESSED}"), ("include", ""), ("only", f" AND {_PROCESSED}"))}


def stored_rows_sql(*, processed: str, rest: str, gate: str = GENERATED) -> str:
    """A specialist's rows ($3; NULL: those placed with nobody) of the lists generated for the
    day ($1), in the columns ``ranked_pages`` reads, when the day has generated lists (when
    ``gate`` holds). ``rest``: more of the WHERE clause (a cursor), ORDER BY, LIMIT."""
    return (f"SELECT e.customer_id, {_PROCESSED} AS processed, e.neg_score, e.neg_overdue,"
            " e.oldest_due, e.number, NULL::smallint AS strategy, e.kind, e.owner,"
            " e.segment AS list_segment FROM daily_worklist_entries e"
            " WHERE e.day = $1::date AND e.worker = coalesce($3::text, '')"
            f" AND {gate}{_MARKED[processed]}{rest}")
