"""The per-customer figures the worklist ranking reads, recomputed from the worklist's own rows:
open amounts by due date (running totals), the oldest due date, the highest dunning level, open
disputes and their amount, customer-level follow-ups, the first open follow-up or activity.

One statement for many customers. Its parts are materialized once each and every join is
restricted to the customers asked for: without statistics (a model being rebuilt has none) the
planner otherwise re-aggregates the customers' open items once per customer, several times
slower.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg

_RECOMPUTE = """
WITH target AS (SELECT unnest(%(ids)s::uuid[]) AS id),
days AS MATERIALIZED (
    SELECT i.customer_id, i.due_date, sum(i.open_amount) AS amount
    FROM worklist_items i JOIN worklist_customers c ON c.id = i.customer_id
    WHERE i.customer_id = ANY(%(ids)s::uuid[]) AND c.id = ANY(%(ids)s::uuid[])
      AND i.currency = c.currency
      AND i.open_amount > 0
    GROUP BY i.customer_id, i.due_date),
dues AS MATERIALIZED (
    SELECT customer_id, array_agg(due_date ORDER BY due_date) AS due_dates,
           array_agg(running ORDER BY due_date) AS open_by_due, min(due_date) AS oldest_due,
           sum(amount) AS open_amount
    FROM (SELECT customer_id, due_date, amount,
                 sum(amount) OVER (PARTITION BY customer_id ORDER BY due_date) AS running
          FROM days) AS d
    GROUP BY customer_id),
levels AS MATERIALIZED (
    SELECT customer_id, max(dunning_level) AS level FROM worklist_items
    WHERE customer_id = ANY(%(ids)s::uuid[]) AND open_amount > 0 GROUP BY customer_id),
disputes AS MATERIALIZED (
    SELECT d.customer_id, count(*) AS n,
           sum(d.amount) FILTER (WHERE d.currency = c.currency) AS amount
    FROM worklist_disputes d JOIN worklist_customers c ON c.id = d.customer_id
    WHERE d.customer_id = ANY(%(ids)s::uuid[]) AND c.id = ANY(%(ids)s::uuid[]) AND d.active
    GROUP BY d.customer_id),
follow AS MATERIALIZED (
    SELECT customer_id, array_agg(follow_up_date ORDER BY follow_up_date) AS dates
    FROM worklist_follow_ups
    WHERE customer_id = ANY(%(ids)s::uuid[]) AND open AND cardinality(invoice_ids) = 0
    GROUP BY customer_id),
tasks AS MATERIALIZED (
    SELECT customer_id, min(day) AS first FROM (
        SELECT customer_id, follow_up_date AS day FROM worklist_follow_ups
        WHERE customer_id = ANY(%(ids)s::uuid[]) AND open
        UNION ALL
        SELECT customer_id, due_date FROM worklist_activities
        WHERE customer_id = ANY(%(ids)s::uuid[]) AND open) AS t
    GROUP BY customer_id)
UPDATE worklist_customers c SET
    due_dates = coalesce(dues.due_dates, '{}'), open_by_due = coalesce(dues.open_by_due, '{}'),
    oldest_due = dues.oldest_due, open_amount = coalesce(dues.open_amount, 0),
    dunning_level = coalesce(levels.level, 0), open_disputes = coalesce(disputes.n, 0),
    disputed_amount = coalesce(disputes.amount, 0), follow_ups = coalesce(follow.dates, '{}'),
    resubmitted_until = follow.dates[cardinality(follow.dates)], tasks_from = tasks.first
FROM target t
LEFT JOIN dues ON dues.customer_id = t.id
LEFT JOIN levels ON levels.customer_id = t.id
LEFT JOIN disputes ON disputes.customer_id = t.id
LEFT JOIN follow ON follow.customer_id = t.id
LEFT JOIN tasks ON tasks.customer_id = t.id
WHERE c.id = t.id AND c.id = ANY(%(ids)s::uuid[])
"""


def recompute(conn: psycopg.Connection[Any], customer_ids: Sequence[UUID]) -> None:
    """Recompute the figures of these customers (in the caller's transaction). Planned for
    each call (not prepared): a plan made for "some array" can be far off for the customers at
    hand, and a model being rebuilt has no statistics yet (a prepared statement's generic plan
    slowed a whole rebuild many times over)."""
    conn.execute(_RECOMPUTE, {"ids": list(customer_ids)}, prepare=False)
