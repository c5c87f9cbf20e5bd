"""Reading the worklist model: a specialist's customers ranked by their collection strategy on a
day, one page at a time, each entry with its score explained rule by rule.

The score is an SQL expression built from the strategy rules (a CASE on the customer's segment
when segments have strategies of their own) with the day as a parameter. Scoring a whole list
at every request costs about a microsecond per customer — 100 ms for 100,000 — so the ranking
of a day with a set of strategy versions is computed once, by the first reader that needs it,
into ``worklist_scores``, and from then on kept in step by the writer: each page of events
rescores the customers it touched, in the same transaction. Nothing goes stale: the day is part
of the ranking's key, another day is another ranking. A page is then one query: an index range
scan for the 50 next customers, joined to their rows and their open items for the amounts to be
collected (computed for the page's customers only).

Who is on a list on day D: the customers of that specialist (or the unassigned ones) with an
item overdue on D (due before D, in the customer's currency) and no customer-level follow-up
after D (on the follow-up's own date the customer is back). Customers processed on D are left
out, shown, or listed alone (``processed``).

Order: score, highest first; then overdue amount, highest first; then the oldest due date;
then the customer number — a total order, so pages never overlap or skip (keyset cursors).

Amount to be collected on D: the overdue amount less what is disputed, promised, under a current
dunning notice or followed up later (``worklist_amounts``, the definition the customer overview
shares).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger_collect.projections.worklist_amounts import Amounts, amounts_of_row, amounts_sql
from ledger_collect.worklist_strategy import Facts, Line, Strategy, StrategySet

MAX_PAGE = 100
PROCESSED_MODES = ("exclude", "include", "only")


class CursorError(ValueError):
    pass


@dataclass(slots=True)
class Entry:
    rank: int  # 1 for the first customer of the list
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
    next_follow_up: date | None  # the first open follow-up after the day (for some invoices)

    @property
    def processed(self) -> bool:
        return bool(self.processed_by)

    @property
    def cursor(self) -> str:
        """Where the next page starts when this entry ends one."""
        return encode_cursor(self.score, self.facts.overdue_amount, self.oldest_due,
                             self.number, self.rank)

    def explanation(self) -> list[Line]:
        """Every rule of the strategy with the points it gave; they add up to ``score``."""
        return self.strategy.explain(self.facts, self.as_of)


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    has_next: bool
    strategies: list[Strategy]  # the versions the entries were ranked with


_SEPARATOR = "\x1f"  # the customer number comes last: it may hold any other character


def encode_cursor(score: int, overdue: Decimal, oldest_due: date, number: str,
                  rank: int) -> str:
    raw = _SEPARATOR.join((str(score), str(overdue), oldest_due.isoformat(), str(rank), number))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, Decimal, date, str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        score, overdue, due, rank, number = raw.split(_SEPARATOR, 4)
        found = (int(score), Decimal(overdue), date.fromisoformat(due), number, int(rank))
        if not found[1].is_finite():
            raise ValueError(overdue)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError,
            ArithmeticError) as error:
        raise CursorError(f"cursor {cursor!r} is not one this list handed out") from error
    return found



# -- rankings per day and strategy set (worklist_snapshots / worklist_scores) -------------------
INSERT_SCORES = ("INSERT INTO worklist_scores (snapshot, customer_id, specialist, processed,"
                 " neg_score, neg_overdue, oldest_due, number, strategy) ")


def score_rows_sql(strategies: StrategySet, *, day: str, snapshot: str,
                   customers: str | None = None) -> str:
    """The ranking rows of the customers on a list on ``day`` (an SQL date expression): those
    with an item overdue that day and no customer-level follow-up after it. ``customers``: an
    SQL uuid[] expression to rank only those."""
    overdue = f"coalesce(c.open_by_due[width_bucket({day} - 1, c.due_dates)], 0.00)"
    only = f" AND c.id = ANY({customers})" if customers else ""
    return f"""SELECT {snapshot}, c.id, coalesce(c.specialist, ''),
    EXISTS (SELECT 1 FROM worklist_processed p WHERE p.customer_id = c.id AND p.day = {day}),
    -({strategies.score_sql(day)}), -{overdue}, c.oldest_due, c.number,
    {strategies.index_sql()}
FROM worklist_customers c
WHERE c.oldest_due < {day}
  AND (c.resubmitted_until IS NULL OR c.resubmitted_until <= {day}){only}"""


def rescore_sql(strategies: StrategySet, day: date, snapshot: int,
                customer_ids: list[UUID]) -> list[str]:
    """The writer's upkeep of one snapshot for the customers a page of events touched, as
    statements without parameters (uuids and the day are literals)."""
    ids = "'{" + ",".join(map(str, customer_ids)) + "}'::uuid[]"
    literal_day = f"'{day.isoformat()}'::date"
    return [(f"DELETE FROM worklist_scores WHERE snapshot = {int(snapshot)}"
             f" AND customer_id = ANY({ids})"),
            INSERT_SCORES + score_rows_sql(strategies, day=literal_day,
                                           snapshot=str(int(snapshot)), customers=ids)]


async def build_snapshot(pool: Any, strategies: StrategySet, day: date) -> None:
    """Rank every customer for ``day`` with ``strategies``, unless it is done already. Under the
    model's lock: a page of events is applied before the build or after it, and then keeps
    the new ranking in step."""
    from ledger_collect.projections.runner import lock_key

    async with pool.acquire() as conn, conn.transaction():
        schema = await conn.fetchval("SELECT current_schema()")
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(schema, "worklist"))
        if await conn.fetchval("SELECT 1 FROM worklist_snapshots WHERE day = $1"
                               " AND strategies = $2", day, strategies.key):
            return
        snapshot = await conn.fetchval("INSERT INTO worklist_snapshots (day, strategies)"
                                       " VALUES ($1, $2) RETURNING id", day, strategies.key)
        await conn.execute(INSERT_SCORES + score_rows_sql(strategies, day="$1::date",
                                                          snapshot="$2::int"), day, snapshot)
        await conn.execute("ANALYZE worklist_scores")  # the planner must know lists are long
        old = await conn.fetchval(
            "SELECT array_agg(id) FROM (SELECT id FROM worklist_snapshots"
            " ORDER BY built_at DESC, id DESC OFFSET $1) AS o", MAX_SNAPSHOTS)
        if old:
            await conn.execute("DELETE FROM worklist_scores WHERE snapshot = ANY($1)", old)
            await conn.execute("DELETE FROM worklist_snapshots WHERE id = ANY($1)", old)


#: Rankings kept at once (each costs the writer two statements per page of events).
MAX_SNAPSHOTS = 8


def _listed(*, processed: str) -> str:
    """Which rows of the day's ranking: $1 day, $2 strategies key, $3 specialist (NULL: the
    unassigned customers)."""
    if processed not in PROCESSED_MODES:
        raise ValueError(f"processed must be one of {', '.join(PROCESSED_MODES)}")
    marked = {"exclude": " AND NOT r.processed", "include": "", "only": " AND r.processed"}
    return ("r.snapshot = (SELECT id FROM worklist_snapshots WHERE day = $1::date"
            " AND strategies = $2::text) AND r.specialist = coalesce($3::text, '')"
            f"{marked[processed]}")


def page_sql(strategies: StrategySet, *, processed: str, after: bool) -> str:
    """A page: $4 limit, $5-$8 the previous page's last keys (``after``)."""
    d = "$1::date"
    keys = "r.neg_score, r.neg_overdue, r.oldest_due, r.number"
    cursor = f" AND ({keys}) > ($5::int, $6::numeric, $7::date, $8::text)" if after else ""
    return f"""
SELECT r.neg_score, r.neg_overdue, r.strategy, c.id, c.number, c.name, c.segment, c.currency,
       c.risk_class, c.specialist, c.oldest_due, c.open_amount, c.dunning_level,
       c.broken_promises, c.open_disputes, c.disputed_amount, p.actors AS processed_by,
       (SELECT min(f.follow_up_date) FROM worklist_follow_ups f WHERE f.customer_id = c.id
        AND f.open AND f.follow_up_date > {d}) AS next_follow_up, a.*
FROM (SELECT * FROM worklist_scores r
      WHERE {_listed(processed=processed)}{cursor}
      ORDER BY {keys} LIMIT $4) AS r
JOIN worklist_customers c ON c.id = r.customer_id
LEFT JOIN worklist_processed p ON p.customer_id = c.id AND p.day = {d}
LEFT JOIN LATERAL ({amounts_sql(strategies, d)}) AS a ON true
ORDER BY {keys}"""


async def worklist(pool: Any, strategies: StrategySet, *, specialist: str | None, as_of: date,
                   processed: str = "exclude", limit: int = 50,
                   after: str | None = None) -> Page:
    """One page of a specialist's list (``specialist=None``: the unassigned customers): one
    query, once the day's ranking with these strategies exists (built here the first time)."""
    if limit < 1:
        raise ValueError(f"a page needs at least one entry, got {limit}")
    limit = min(limit, MAX_PAGE)
    args: list[Any] = [as_of, strategies.key, specialist, limit + 1]
    rank = 0
    if after is not None:
        score, overdue, due, number, rank = decode_cursor(after)
        args += [-score, -overdue, due, number]
    query = page_sql(strategies, processed=processed, after=after is not None)
    rows = await pool.fetch(query, *args)
    if not rows and not await _ranked(pool, strategies, as_of):
        await build_snapshot(pool, strategies, as_of)
        rows = await pool.fetch(query, *args)
    used = strategies.all
    entries = [_entry(row, rank + n, as_of, used) for n, row in enumerate(rows[:limit], 1)]
    seen = {e.strategy.code for e in entries}
    return Page(entries, len(rows) > limit, [s for s in used if s.code in seen] or used)


async def count(pool: Any, strategies: StrategySet, *, specialist: str | None, as_of: date,
                processed: str = "exclude") -> int:
    """How many customers the whole list holds."""
    query = (f"SELECT count(*) FROM worklist_scores r WHERE "
             f"{_listed(processed=processed)}")
    found = await pool.fetchval(query, as_of, strategies.key, specialist)
    if not found and not await _ranked(pool, strategies, as_of):
        await build_snapshot(pool, strategies, as_of)
        found = await pool.fetchval(query, as_of, strategies.key, specialist)
    return int(found)


async def _ranked(pool: Any, strategies: StrategySet, day: date) -> bool:
    return bool(await pool.fetchval("SELECT 1 FROM worklist_snapshots WHERE day = $1"
                                    " AND strategies = $2", day, strategies.key))


def _entry(row: Any, rank: int, as_of: date, used: list[Strategy]) -> Entry:
    score, overdue = -row["neg_score"], -row["neg_overdue"]
    facts = Facts(currency=row["currency"], overdue_amount=overdue,
                  days_overdue=max(0, (as_of - row["oldest_due"]).days),
                  broken_promise_dates=tuple(row["broken_promises"]),
                  dunning_level=row["dunning_level"], risk_class=row["risk_class"],
                  open_disputes=row["open_disputes"], disputed_amount=row["disputed_amount"])
    amounts = amounts_of_row(row)
    return Entry(rank=rank, customer_id=row["id"],
                 number=row["number"], name=row["name"], segment=row["segment"],
                 currency=row["currency"], risk_class=row["risk_class"],
                 specialist=row["specialist"], as_of=as_of, score=score,
                 strategy=used[row["strategy"]], facts=facts, oldest_due=row["oldest_due"],
                 open_amount=row["open_amount"], amounts=amounts,
                 processed_by=tuple(row["processed_by"] or ()),
                 next_follow_up=row["next_follow_up"])
