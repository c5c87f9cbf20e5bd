"""The amount to be collected from a customer on a day, and the parts of its overdue amount left
out of it: one definition (``amounts_sql``) that the worklist's pages and the customer overview
both read, from the worklist model's rows.

Per overdue item (due before the day, in the customer's currency): first what its open disputes
still dispute on it, then what of its unconfirmed promise to pay is still to come, both within
its open amount; the rest of the item is under a current dunning notice (dunned less than the
strategy's ``dunning_notice_days`` before the day), or named in an invoice-level follow-up after
the day, or to be collected. An item of 200.00 with an open promise of 50.00 leaves 150.00 to
collect; a dispute of 80.00 over it, 120.00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger_collect.projections.worklist.strategy_rules import StrategySet


@dataclass(slots=True)
class Amounts:
    """The overdue amount on the day, and how much of it is to be collected."""

    overdue: Decimal
    to_collect: Decimal
    under_dispute: Decimal
    under_promise: Decimal
    under_dunning_notice: Decimal
    followed_up_later: Decimal


def amounts_sql(strategies: StrategySet, d: str) -> str:
    """The amounts of customer ``c`` (a ``worklist_customers`` row in the enclosing query) on
    day ``d`` (an SQL expression), as one row. A dispute's amount is spread over its invoices in
    the order they were named, each taking at most what it has open."""
    return f"""
    SELECT coalesce(sum(x.open_amount), 0.00) AS items_overdue,
           coalesce(sum(x.rest) FILTER (WHERE x.why = 'collect'), 0.00) AS to_collect,
           coalesce(sum(x.disputed), 0.00) AS under_dispute,
           coalesce(sum(x.promised), 0.00) AS under_promise,
           coalesce(sum(x.rest) FILTER (WHERE x.why = 'dunning'), 0.00) AS under_dunning,
           coalesce(sum(x.rest) FILTER (WHERE x.why = 'follow_up'), 0.00) AS later
    FROM (SELECT q.open_amount, q.disputed, q.promised,
                 q.open_amount - q.disputed - q.promised AS rest, CASE
            WHEN q.last_dunned_on > {d} - {strategies.notice_days_sql()} THEN 'dunning'
            WHEN EXISTS (SELECT 1 FROM worklist_follow_ups f WHERE f.customer_id = c.id
                         AND f.open AND f.follow_up_date > {d} AND q.id = ANY(f.invoice_ids))
                 THEN 'follow_up'
            ELSE 'collect' END AS why
          FROM (SELECT i.id, i.open_amount, i.last_dunned_on, t.disputed,
                       CASE WHEN i.promise_id IS NULL THEN 0.00 ELSE least(
                           i.open_amount - t.disputed, coalesce(i.promised, 0.00)) END
                           AS promised
                FROM worklist_items i
                CROSS JOIN LATERAL (SELECT CASE WHEN c.open_disputes = 0 THEN 0.00 ELSE
                    least(i.open_amount, coalesce((
                        SELECT sum(greatest(0, least(i.open_amount, s.amount
                            - coalesce((SELECT sum(o.open_amount) FROM worklist_items o
                                        WHERE o.id = ANY(s.invoice_ids[
                                            1:array_position(s.invoice_ids, i.id) - 1])
                                          AND o.open_amount > 0), 0))))
                        FROM worklist_disputes s WHERE s.customer_id = c.id
                          AND s.active AND i.id = ANY(s.invoice_ids)), 0)) END AS disputed
                    OFFSET 0) AS t
                WHERE i.customer_id = c.id AND i.currency = c.currency
                  AND i.open_amount > 0 AND i.due_date < {d}) AS q
          OFFSET 0) AS x"""


async def amounts_by_customer(pool: Any, strategies: StrategySet, customer_ids: list[UUID],
                              as_of: date) -> dict[UUID, Amounts]:
    """The amounts of each customer on ``as_of``, as its worklist entry shows them."""
    rows = await pool.fetch(
        f"SELECT c.id, a.* FROM worklist_customers c"
        f" LEFT JOIN LATERAL ({amounts_sql(strategies, '$1::date')}) AS a ON true"
        f" WHERE c.id = ANY($2::uuid[])", as_of, customer_ids)
    return {row["id"]: amounts_of_row(row) for row in rows}


def amounts_of_row(row: Any) -> Amounts:
    return Amounts(overdue=row["items_overdue"], to_collect=row["to_collect"],
                   under_dispute=row["under_dispute"], under_promise=row["under_promise"],
                   under_dunning_notice=row["under_dunning"], followed_up_later=row["later"])

