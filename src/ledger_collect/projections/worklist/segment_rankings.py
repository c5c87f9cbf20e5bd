"""The customers of each segment to work on a day, in their strategy's order: what the day's
worklist generation spreads over the team (``jobs.worklists``). Read from the worklist model
with psycopg, with the same SQL that ranks the lists (``ranking_sql``), so a generated list
holds exactly the customers a ranked one shows, in the same order.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg

from ledger_collect.domain.daily_worklist import Ranked
from ledger_collect.projections.forgetting import not_erased
from ledger_collect.projections.worklist.ranking_sql import check_day, score_rows_sql
from ledger_collect.projections.worklist.strategy_rules import StrategySet


def segment_rankings(conn: psycopg.Connection[Any], strategies: StrategySet,
                     day: date) -> dict[str, list[Ranked]]:
    """Every customer on a list on ``day``, by segment (in name order), each segment's in the
    strategy's order: one query over the whole model, reading the day's stored ranking when
    the projector keeps one for these strategies (``day_rankings``), else scoring every
    customer."""
    check_day(day)
    stored = conn.execute("SELECT id FROM worklist_snapshots WHERE day = %s AND strategies = %s",
                          (day, strategies.key)).fetchone()
    if stored is not None:
        rows = f"SELECT * FROM worklist_scores WHERE snapshot = {int(stored[0])}"
    else:
        rows = score_rows_sql(strategies, day=f"'{day.isoformat()}'::date",
                              snapshot="NULL::int")
    found: dict[str, list[Ranked]] = {}
    with conn.cursor() as cursor:
        cursor.execute(
            f"SELECT c.segment, r.customer_id, nullif(r.specialist, ''), -r.neg_score,"
            f" -r.neg_overdue, r.oldest_due, r.number FROM ({rows}) AS r"
            f" JOIN worklist_customers c ON c.id = r.customer_id WHERE {not_erased('c.id')}"
            f" ORDER BY c.segment, r.neg_score, r.neg_overdue, r.oldest_due, r.number",
            prepare=False)
        for segment, customer_id, owner, score, overdue, oldest_due, number in cursor:
            found.setdefault(segment, []).append(
                Ranked(customer_id, owner, score, number, overdue, oldest_due))
    return found
