"""The day's rankings of the worklist (``worklist_snapshots`` / ``worklist_scores``): built by
the projector for its business date, or by a job (``ledger-collect worklist build``), never by
a reader: a query must not write.

A ranking is built under the model's lock, in one transaction: a page of events is applied
before the build or after it, and from then on the writer keeps the ranking in step (each page
rescores the customers it touched in every ranking kept). Each ranking kept costs the writer
two statements per page, so only rankings readers of the day ask for are kept: the business
date, and days ahead a job ranked, with the active strategies. Rankings of past days and of
strategy versions no longer active are dropped; a reader asking for one of those ranks its list
in the query (``worklist_ranking``: slower, same entries).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import psycopg

from ledger_collect.projections.worklist_ranking import INSERT_SCORES, check_day, score_rows_sql
from ledger_collect.worklist_strategy import Strategy, StrategySet
from ledger_collect.worklist_strategy_store import active_strategy_set

#: Rankings kept at once, at most (the business date and a few days ahead).
MAX_SNAPSHOTS = 8

_UNREAD = """
SELECT id FROM worklist_snapshots
WHERE day < %(today)s OR strategies <> %(key)s
   OR id NOT IN (SELECT id FROM worklist_snapshots ORDER BY built_at DESC, id DESC
                 LIMIT %(keep)s)
"""


def build(conn: psycopg.Connection[Any], strategies: StrategySet, day: date) -> bool:
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
    conn.execute(INSERT_SCORES + score_rows_sql(
        strategies, day=f"'{day.isoformat()}'::date", snapshot=str(int(row[0]))))
    conn.execute("ANALYZE worklist_scores")  # the planner must know lists are long
    return True


def keep_current(conn: psycopg.Connection[Any], today: date, *days_ahead: date,
                 known: dict[tuple[str, int], Strategy] | None = None) -> list[date]:
    """Rank ``today`` (and ``days_ahead``) with the active strategies where not done yet, and
    drop the rankings of earlier days, of other strategies, and beyond ``MAX_SNAPSHOTS`` (in
    the caller's transaction, holding the model's lock). Returns the days it ranked.
    ``UnknownStrategyError`` while no default strategy is active."""
    strategies = active_strategy_set(conn, known)
    ranked = [day for day in (today, *days_ahead) if build(conn, strategies, day)]
    unread = [row[0] for row in conn.execute(_UNREAD, {
        "today": today, "key": strategies.key, "keep": MAX_SNAPSHOTS})]
    if unread:
        conn.execute("DELETE FROM worklist_scores WHERE snapshot = ANY(%s)", (unread,))
        conn.execute("DELETE FROM worklist_snapshots WHERE id = ANY(%s)", (unread,))
    return ranked


def rank_days(app: Any, days: Sequence[date] = (), *, today: date | None = None) -> list[date]:
    """A job's ranking on the live model: today and ``days`` (none before today) ranked with
    the active strategies, and what the projector would drop dropped. Returns the days newly
    ranked."""
    from ledger_collect.projections import select
    from ledger_collect.projections.engine import EventLog

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
        return keep_current(conn, today, *sorted(set(days) - {today}))
