"""Who is on a list on a day and where, as SQL: the one definition that the day's rankings
(built and kept in step on the writer's side, ``day_rankings``) and the readers (a list ranked
in the query, ``ranked_pages``) both use, so that either way gives the same entries in the
same order.

Who is on a list on day D: the customers of that specialist (or the unassigned ones) with an
item overdue on D (due before D, in the customer's currency), or with a follow-up or an
activity due on D (or due before D and still open: a task not done stays on the list), and no
customer-level follow-up after D (on the follow-up's own date the customer is back, even with
nothing overdue: the specialist asked to be reminded that day). Keys are stored negated so that
the order (score and overdue amount highest first, then the oldest due date — D itself for a
customer with nothing open — then the customer number) is one ascending index order.
"""

from __future__ import annotations

from datetime import date, timedelta

from ledger_collect.projections.worklist.strategy_rules import StrategySet


class DayOutOfRangeError(ValueError):
    """A day the database driver cannot send as itself: asyncpg sends 0001-01-01 and
    9999-12-31 as -infinity and infinity, on which no day arithmetic holds."""


#: The days a list can be ranked for.
FIRST_DAY, LAST_DAY = date.min + timedelta(days=1), date.max - timedelta(days=1)


def check_day(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise DayOutOfRangeError(f"date must be from {FIRST_DAY.isoformat()} to "
                                 f"{LAST_DAY.isoformat()}, got {day.isoformat()}")
    return day


def score_rows_sql(strategies: StrategySet, *, day: str, snapshot: str,
                   customers: str | None = None, specialist: str | None = None) -> str:
    """The ranking rows of the customers on a list on ``day`` (an SQL date expression), in the
    columns of ``worklist_scores``. ``customers``: an SQL uuid[] expression to rank only those;
    ``specialist``: an SQL text expression to rank only that specialist's customers (NULL: the
    unassigned ones)."""
    overdue = f"coalesce(c.open_by_due[width_bucket({day} - 1, c.due_dates)], 0.00)"
    only = f" AND c.id = ANY({customers})" if customers else ""
    if specialist is not None:  # two arms, so that either can use the specialist index
        only += (f" AND (c.specialist = {specialist}"
                 f" OR ({specialist} IS NULL AND c.specialist IS NULL))")
    return f"""SELECT {snapshot} AS snapshot, c.id AS customer_id,
    coalesce(c.specialist, '') AS specialist,
    EXISTS (SELECT 1 FROM worklist_processed p WHERE p.customer_id = c.id AND p.day = {day})
        AS processed,
    -({strategies.score_sql(day)}) AS neg_score, -{overdue} AS neg_overdue,
    coalesce(c.oldest_due, {day}) AS oldest_due, c.number, {strategies.index_sql()} AS strategy
FROM worklist_customers c
WHERE (c.oldest_due < {day} OR c.tasks_from <= {day})
  AND (c.resubmitted_until IS NULL OR c.resubmitted_until <= {day}){only}"""
