"""Reading the worklist model: a specialist's customers ranked by their collection strategy on a
day, one page at a time, each entry with its score explained rule by rule.

One query per page. The score is an SQL expression built from the strategy rules (a CASE on the
customer's segment when segments have strategies of their own) and the day is a parameter, so
nothing stored goes stale overnight; the candidates are found through the index on
(specialist, oldest due date). The page's amounts to be collected are computed for the page's
customers only, from their open items.

Who is on a list on day D: the customers of that specialist (or the unassigned ones) with an
item overdue on D (due before D, in the customer's currency) and no customer-level follow-up
after D (on the follow-up's own date the customer is back). Customers processed on D are left
out, shown, or listed alone (``processed``).

Order: score, highest first; then overdue amount, highest first; then the oldest due date;
then the customer number — a total order, so pages never overlap or skip (keyset cursors).

Amount to be collected on D: the overdue amount less the overdue items that are under an open
dispute, under an unconfirmed promise to pay, under a current dunning notice (dunned less than
the strategy's ``dunning_notice_days`` before D), or named in an invoice-level follow-up after
D. Each excluded item counts once, in that order of precedence, so the parts add up to the
overdue amount.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger_collect.worklist_strategy import Facts, Line, Strategy, StrategySet

MAX_PAGE = 100
PROCESSED_MODES = ("exclude", "include", "only")


class CursorError(ValueError):
    pass


@dataclass(frozen=True)
class Amounts:
    """The overdue amount on the day, and how much of it is to be collected."""

    overdue: Decimal
    to_collect: Decimal
    under_dispute: Decimal
    under_promise: Decimal
    under_dunning_notice: Decimal
    followed_up_later: Decimal


@dataclass(frozen=True)
class Entry:
    rank: int  # 1 for the first customer of the list
    cursor: str
    customer_id: UUID
    number: str
    name: str
    segment: str
    currency: str
    risk_class: str
    specialist: str | None
    as_of: date
    score: int
    strategy: Strategy
    facts: Facts
    oldest_due: date
    open_amount: Decimal
    amounts: Amounts
    processed_by: tuple[str, ...]  # who recorded casework on the customer that day

    @property
    def processed(self) -> bool:
        return bool(self.processed_by)

    def explanation(self) -> list[Line]:
        """Every rule of the strategy with the points it gave; they add up to ``score``."""
        return self.strategy.explain(self.facts, self.as_of)


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    total: int  # customers on the whole list
    has_next: bool
    strategies: list[Strategy]  # the versions the entries were ranked with


def _encode(entry: dict[str, Any], rank: int) -> str:
    raw = json.dumps([entry["score"], str(entry["overdue"]), entry["oldest_due"].isoformat(),
                      entry["number"], rank], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, Decimal, date, str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        score, overdue, due, number, rank = json.loads(raw)
        found = (int(score), Decimal(overdue), date.fromisoformat(due), str(number), int(rank))
    except (binascii.Error, ValueError, TypeError, ArithmeticError) as error:
        raise CursorError(f"cursor {cursor!r} is not one this list handed out") from error
    return found


def listed_sql(strategies: StrategySet, *, unassigned: bool, processed: str) -> str:
    """``WITH listed AS (...)``: the whole list, scored, unordered. $1 day, $2 specialist."""
    if processed not in PROCESSED_MODES:
        raise ValueError(f"processed must be one of {', '.join(PROCESSED_MODES)}")
    d = "$1::date"
    owner = ("(c.specialist IS NULL AND $2::text IS NULL)" if unassigned
             else "c.specialist = $2::text")
    marked = ("EXISTS (SELECT 1 FROM worklist_processed p"
              f" WHERE p.customer_id = c.id AND p.day = {d})")
    where = {"exclude": f"AND NOT {marked}", "include": "", "only": f"AND {marked}"}[processed]
    overdue = f"coalesce(c.open_by_due[width_bucket({d} - 1, c.due_dates)], 0.00)"
    return f"""
WITH listed AS MATERIALIZED (
    SELECT c.id, c.number, c.name, c.segment, c.currency, c.risk_class, c.specialist,
           c.oldest_due, c.open_amount, c.dunning_level, c.broken_promises, c.open_disputes,
           c.disputed_amount, {strategies.score_sql(d)} AS score, {overdue} AS overdue,
           {strategies.index_sql()} AS strategy, {strategies.notice_days_sql()} AS notice_days
    FROM worklist_customers c
    WHERE {owner} AND c.oldest_due < {d}
      AND (c.resubmitted_until IS NULL OR c.resubmitted_until <= {d}) {where})"""


def ranking_sql(strategies: StrategySet, *, unassigned: bool, processed: str) -> str:
    """The page query. $1 day, $2 specialist, $3 limit, $4-$7 the cursor's keys (NULLs for the
    first page)."""
    d = "$1::date"
    return listed_sql(strategies, unassigned=unassigned, processed=processed) + f""",
page AS (
    SELECT * FROM listed
    WHERE $4::int IS NULL
       OR (-score, -overdue, oldest_due, number) > (-$4::int, -$5::numeric, $6::date, $7::text)
    ORDER BY score DESC, overdue DESC, oldest_due, number
    LIMIT $3)
SELECT page.*, (SELECT count(*) FROM listed) AS total, p.actors AS processed_by, a.*
FROM page
LEFT JOIN worklist_processed p ON p.customer_id = page.id AND p.day = {d}
LEFT JOIN LATERAL (
    SELECT coalesce(sum(i.open_amount), 0.00) AS items_overdue,
           coalesce(sum(i.open_amount) FILTER (WHERE x.why = 'collect'), 0.00) AS to_collect,
           coalesce(sum(i.open_amount) FILTER (WHERE x.why = 'dispute'), 0.00) AS under_dispute,
           coalesce(sum(i.open_amount) FILTER (WHERE x.why = 'promise'), 0.00) AS under_promise,
           coalesce(sum(i.open_amount) FILTER (WHERE x.why = 'dunning'), 0.00) AS under_dunning,
           coalesce(sum(i.open_amount) FILTER (WHERE x.why = 'follow_up'), 0.00) AS later
    FROM worklist_items i
    CROSS JOIN LATERAL (SELECT CASE
        WHEN EXISTS (SELECT 1 FROM worklist_disputes s WHERE s.customer_id = page.id
                     AND s.active AND i.id = ANY(s.invoice_ids)) THEN 'dispute'
        WHEN i.promise_id IS NOT NULL THEN 'promise'
        WHEN i.last_dunned_on > {d} - page.notice_days THEN 'dunning'
        WHEN EXISTS (SELECT 1 FROM worklist_follow_ups f WHERE f.customer_id = page.id
                     AND f.open AND f.follow_up_date > {d} AND i.id = ANY(f.invoice_ids))
             THEN 'follow_up'
        ELSE 'collect' END AS why) AS x
    WHERE i.customer_id = page.id AND i.currency = page.currency AND i.open_amount > 0
      AND i.due_date < {d}) AS a ON true
ORDER BY score DESC, overdue DESC, oldest_due, number"""


async def worklist(pool: Any, strategies: StrategySet, *, specialist: str | None, as_of: date,
                   processed: str = "exclude", limit: int = 50,
                   after: str | None = None) -> Page:
    """One page of a specialist's list (``specialist=None``: the unassigned customers)."""
    if limit < 1:
        raise ValueError(f"a page needs at least one entry, got {limit}")
    limit = min(limit, MAX_PAGE)
    keys: tuple[Any, ...] = (None, None, None, None)
    rank = 0
    if after is not None:
        *cursor_keys, rank = decode_cursor(after)
        keys = tuple(cursor_keys)
    query = ranking_sql(strategies, unassigned=specialist is None, processed=processed)
    rows = await pool.fetch(query, as_of, specialist, limit + 1, *keys)
    used = strategies.all
    entries = [_entry(row, rank + n, as_of, used) for n, row in enumerate(rows[:limit], 1)]
    total = rows[0]["total"] if rows else await _count(pool, strategies, specialist, as_of,
                                                        processed)
    seen = sorted({e.strategy.code for e in entries})
    return Page(entries, int(total), len(rows) > limit,
                [s for s in used if s.code in seen] if entries else used)


async def _count(pool: Any, strategies: StrategySet, specialist: str | None, as_of: date,
                 processed: str) -> int:
    """Past the last page the page query has no row to carry the total: count alone."""
    query = listed_sql(strategies, unassigned=specialist is None, processed=processed)
    return int(await pool.fetchval(query + " SELECT count(*) FROM listed", as_of, specialist))


def _entry(row: Any, rank: int, as_of: date, used: list[Strategy]) -> Entry:
    facts = Facts(currency=row["currency"], overdue_amount=row["overdue"],
                  days_overdue=max(0, (as_of - row["oldest_due"]).days),
                  broken_promise_dates=tuple(row["broken_promises"]),
                  dunning_level=row["dunning_level"], risk_class=row["risk_class"],
                  open_disputes=row["open_disputes"], disputed_amount=row["disputed_amount"])
    amounts = Amounts(overdue=row["items_overdue"], to_collect=row["to_collect"],
                      under_dispute=row["under_dispute"], under_promise=row["under_promise"],
                      under_dunning_notice=row["under_dunning"],
                      followed_up_later=row["later"])
    return Entry(rank=rank, cursor=_encode(dict(row), rank), customer_id=row["id"],
                 number=row["number"], name=row["name"], segment=row["segment"],
                 currency=row["currency"], risk_class=row["risk_class"],
                 specialist=row["specialist"], as_of=as_of, score=row["score"],
                 strategy=used[row["strategy"]], facts=facts, oldest_due=row["oldest_due"],
                 open_amount=row["open_amount"], amounts=amounts,
                 processed_by=tuple(row["processed_by"] or ()))
