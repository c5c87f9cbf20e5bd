"""The day's rankings of the worklist (``worklist_snapshots`` / ``worklist_scores``): built by
the projector for its business date — when the day turns, and as soon as a collection strategy
is published or activated — or by a job (``build_rankings``, ``ledger-collect worklist
build``), never by a reader: a query must not write.

A ranking is built under the model's lock, in one transaction: a page of events is applied
before the build or after it, and from then on the writer keeps the ranking in step
(``rescore``: each page rescores the customers it touched in every ranking kept). Each ranking
kept costs the writer two statements per page, so only rankings readers of the day ask for are
kept: the business date, and days ahead a job ranked, with the active strategies. Rankings of
past days and of strategy versions no longer active are dropped; a reader asking for one of
those ranks its list in the query (``ranked_pages``: slower, same entries).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.projections import select
from ledger_collect.projections.eventlog import EventLog
from ledger_collect.projections.worklist.ranking_sql import check_day, score_rows_sql
from ledger_collect.projections.worklist.strategy_rules import Strategy, StrategySet
from ledger_collect.projections.worklist.strategy_versions import (
    active_strategy_set,
    strategy_set,
)

#: Rankings kept at once, at most (the business date and a few days ahead).
MAX_SNAPSHOTS = 8

_INSERT_SCORES = ("INSERT INTO worklist_scores (snapshot, customer_id, specialist, processed,"
                  " neg_score, neg_overdue, oldest_due, number, strategy) ")

#: The rankings kept, their days brought into the calendar Python reads: a ranking stored for
#: -infinity or infinity (as asyncpg writes the first and last day) is kept as of 0001-01-01
#: or 9999-12-31.
_KEPT = ("SELECT id, greatest(least(day, '9999-12-31'::date), '0001-01-01'::date),"
         " strategies FROM worklist_snapshots ORDER BY id")

_UNREAD = """
SELECT id FROM worklist_snapshots
WHERE day < %(today)s OR strategies <> %(key)s
   OR id NOT IN (SELECT id FROM worklist_snapshots ORDER BY built_at DESC, id DESC
                 LIMIT %(keep)s)
"""


def build_ranking(conn: psycopg.Connection[Any], strategies: StrategySet, day: date) -> bool:
    """Rank every customer for ``day`` with ``strategies``, unless it is done already, in the
    caller's transaction (which holds the model's lock). True when it was built."""
    check_day(day)
    if conn.execute("SELECT 1 FROM worklist_snapshots WHERE day = %s AND strategies = %s",
                    (day, strategies.key)).fetchone():
        return False
    row = conn.execute("INSERT INTO worklist_snapshots (day, strategies) VALUES (%s, %s)"
                       " RETURNING id", (day, strategies.key)).fetchone()
    assert row is not None
    # Literals, not parameters: psycopg would take a % in the strategies' SQL for a placeholder.
    conn.execute(_INSERT_SCORES + score_rows_sql(
        strategies, day=f"'{day.isoformat()}'::date", snapshot=str(int(row[0]))))
    conn.execute("ANALYZE worklist_scores")  # the planner must know lists are long
    return True


def keep_rankings_current(conn: psycopg.Connection[Any], today: date, *days_ahead: date,
                          known: dict[tuple[str, int], Strategy] | None = None) -> list[date]:
    """Rank ``today`` (and ``days_ahead``) with the active strategies where not done yet, and
    drop the rankings of earlier days, of other strategies, and beyond ``MAX_SNAPSHOTS`` (in
    the caller's transaction, holding the model's lock). Returns the days it ranked.
    ``UnknownStrategyError`` while no default strategy is active."""
    strategies = active_strategy_set(conn, known)
    ranked = [day for day in (today, *days_ahead) if build_ranking(conn, strategies, day)]
    unread = [row[0] for row in conn.execute(_UNREAD, {
        "today": today, "key": strategies.key, "keep": MAX_SNAPSHOTS})]
    if unread:
        conn.execute("DELETE FROM worklist_scores WHERE snapshot = ANY(%s)", (unread,))
        conn.execute("DELETE FROM worklist_snapshots WHERE id = ANY(%s)", (unread,))
    return ranked


def rescore(conn: psycopg.Connection[Any], customer_ids: list[UUID],
            known: dict[tuple[str, int], Strategy] | None = None) -> None:
    """The writer's part: the customers a page of events touched, ranked again in every
    ranking kept, in the page's transaction (statements without parameters: uuids and days
    are literals, for the reason ``build_ranking`` gives)."""
    if not customer_ids:
        return
    ids = "'{" + ",".join(map(str, customer_ids)) + "}'::uuid[]"
    for snapshot, day, key in conn.execute(_KEPT).fetchall():
        strategies = strategy_set(conn, key, known)
        conn.execute(f"DELETE FROM worklist_scores WHERE snapshot = {int(snapshot)}"
                     f" AND customer_id = ANY({ids})")
        conn.execute(_INSERT_SCORES + score_rows_sql(
            strategies, day=f"'{day.isoformat()}'::date", snapshot=str(int(snapshot)),
            customers=ids))


def build_rankings(app: Any, days: Sequence[date] = (), *,
                   today: date | None = None) -> list[date]:
    """A job's ranking on the live model: today and ``days`` (none before today) ranked with
    the active strategies, and what the projector would drop dropped, under the model's lock.
    Returns the days newly ranked."""
    today = today or date.today()
    for day in days:
        if day < today:
            raise ValueError(f"{day.isoformat()} is before today ({today.isoformat()}): a past "
                             "day's list is ranked when it is asked for, not kept")
        check_day(day)
    (model,) = select("worklist")
    log = EventLog(app)
    with log.connect() as conn, conn.transaction():
        log.lock(conn, model)
        return keep_rankings_current(conn, today, *sorted(set(days) - {today}))
