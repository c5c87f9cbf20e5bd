"""Aging grids and the supervisor's balance lists, read from the open items model.

Days past due are counted at query time (``as_of - due_date``) from the stored due dates, for
any as-of date: nothing stored goes stale overnight. Amounts are those open now. One query
per grid or list, whatever the number of items: the database sums, Python only lays out.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger_collect.projections.aging import DEFAULT_BUCKETS, Bucket, check_buckets, thresholds
from ledger_collect.projections.open_items import OPEN_CONDITION, ZERO, CustomerBalance, OpenItem

#: The longest balance list one query returns.
MAX_LIMIT = 500

@dataclass(frozen=True)
class AgingGrid:
    """Open amounts (and item counts) per currency, one entry per bucket."""

    as_of: date
    labels: tuple[str, ...]
    amounts: dict[str, tuple[Decimal, ...]]
    items: dict[str, tuple[int, ...]]

    def total(self, currency: str) -> Decimal:
        return sum(self.amounts.get(currency, ()), ZERO)


@dataclass(frozen=True)
class Balance(CustomerBalance):
    """One customer's open balance in one currency (the supervisor's grids), with what of it
    is overdue on the as-of date."""

    overdue_amount: Decimal
    days_overdue: int


def _grid(as_of: date, buckets: tuple[Bucket, ...], rows: Iterable[Any]) -> AgingGrid:
    amounts: dict[str, list[Decimal]] = {}
    items: dict[str, list[int]] = {}
    for row in rows:
        amounts.setdefault(row["currency"], [ZERO] * len(buckets))[row["bucket"]] = row["amount"]
        items.setdefault(row["currency"], [0] * len(buckets))[row["bucket"]] = row["items"]
    return AgingGrid(as_of, tuple(b.label for b in buckets),
                     {c: tuple(a) for c, a in sorted(amounts.items())},
                     {c: tuple(n) for c, n in sorted(items.items())})


_CONDITIONS = {
    "customer_id": "customer_id = {}",
    "currency": "currency = {}",
    # customers of a segment, as the customers read model has them
    "segment": "customer_id IN (SELECT id FROM customers WHERE segment = {})",
}
_AGING = ("SELECT currency, width_bucket($1::date - due_date, $2::int[]) AS bucket,"
          f" sum(open_amount) AS amount, count(*) AS items FROM open_items WHERE {OPEN_CONDITION}"
          " {where} GROUP BY currency, bucket")


async def aging(pool: Any, as_of: date, customer_id: UUID | None = None,
                buckets: Iterable[Bucket | tuple[str, int | None, int | None]] = DEFAULT_BUCKETS,
                *, currency: str | None = None, segment: str | None = None) -> AgingGrid:
    """The aging grid of one customer, or of the whole portfolio (``customer_id`` None),
    of one currency and of customers of one segment when those are given."""
    checked = check_buckets(buckets)
    args: list[Any] = [as_of, thresholds(checked)]
    where = _narrowed(args, customer_id=customer_id, currency=currency, segment=segment)
    rows = await pool.fetch(_AGING.format(where=where), *args)
    return _grid(as_of, checked, rows)


def _narrowed(args: list[Any], **wanted: Any) -> str:
    """The ``AND ...`` conditions of the narrowings given (not None), their values appended to
    ``args``: only those asked for, so that the planner sees real values and a portfolio-wide
    report needs no other table than open_items."""
    where = ""
    for name, value in wanted.items():
        if value is not None:
            args.append(value)
            where += " AND " + _CONDITIONS[name].format(f"${len(args)}")
    return where


def aged(items: Iterable[OpenItem], as_of: date,
         buckets: Iterable[Bucket | tuple[str, int | None, int | None]] = DEFAULT_BUCKETS,
         ) -> AgingGrid:
    """The aging grid of open items already read (a customer's, for its overview), as the
    database's ``width_bucket`` over the same thresholds would sum them (``aging``): the
    overview reads its open items anyway, and ages them without a query of its own."""
    checked = check_buckets(buckets)
    limits = thresholds(checked)
    sums: dict[tuple[str, int], dict[str, Any]] = {}
    for item in items:
        if item.status != "open" or item.open_amount <= 0:  # OPEN_CONDITION
            continue
        bucket = bisect_right(limits, (as_of - item.due_date).days)
        row = sums.setdefault((item.currency, bucket), {
            "currency": item.currency, "bucket": bucket, "amount": ZERO, "items": 0})
        row["amount"] += item.open_amount
        row["items"] += 1
    return _grid(as_of, checked, sums.values())  # laid out as the database's rows are


#: The lists rank the balances the writer keeps (``customer_balances``: one index read); only
#: the rows listed sum their overdue part, which depends on the as-of date. (Inside the
#: subquery, OPEN_CONDITION's bare names are open_items' own: the innermost table wins.)
_BALANCES = (
    "SELECT customer_id, currency, open_amount, coalesce((SELECT sum(o.open_amount)"
    " FROM open_items o WHERE o.customer_id = b.customer_id AND o.currency = b.currency"
    f" AND o.due_date < $1 AND {OPEN_CONDITION}), 0) AS overdue_amount,"
    " items, oldest_due_date, greatest($1::date - oldest_due_date, 0) AS days_overdue"
    " FROM customer_balances b WHERE true {where}"
    " ORDER BY {order}, customer_id, currency LIMIT $2")


async def top_balances(pool: Any, as_of: date, limit: int = 20, currency: str | None = None,
                       segment: str | None = None) -> list[Balance]:
    """Customers with the highest open balances (per currency), highest first."""
    return await _balances(pool, "open_amount DESC", as_of, limit, currency, segment)


async def oldest_balances(pool: Any, as_of: date, limit: int = 20,
                          currency: str | None = None, segment: str | None = None,
                          ) -> list[Balance]:
    """Customers whose oldest open item is the most overdue, oldest first (then largest)."""
    return await _balances(pool, "oldest_due_date, open_amount DESC", as_of, limit, currency,
                           segment)


async def _balances(pool: Any, order: str, as_of: date, limit: int, currency: str | None,
                    segment: str | None) -> list[Balance]:
    args: list[Any] = [as_of, _limit(limit)]
    where = _narrowed(args, currency=currency, segment=segment)
    rows = await pool.fetch(_BALANCES.format(order=order, where=where), *args)
    return [Balance(**dict(row)) for row in rows]


def _limit(limit: int) -> int:
    if limit < 1:
        raise ValueError(f"a list needs a limit of at least 1, got {limit}")
    return min(limit, MAX_LIMIT)
