"""Reading the worklist: a specialist's customers ranked by their collection strategy on a day,
one page at a time, each entry with its score explained rule by rule.

The score is an SQL expression built from the strategy rules (a CASE on the customer's segment
when segments have strategies of their own) with the day as a parameter. Scoring a whole list
at every request would cost each page time in proportion to the list, so the ranking of the
business day with the active strategies is stored by the projector (or a job:
``day_rankings``) in ``worklist_scores``. A page is then one query: an index range scan for
the next customers, joined to their rows and their open items for the amounts to be collected
(computed for the page's customers only).

Readers never write. A day (or a set of strategy versions) without a stored ranking — a past
day, a day ahead, today before the projector ranked it — is ranked in the query itself, for the
one list asked for, with the same SQL (``ranking_sql``): the same entries in the same order,
only slower (every customer of that list is scored to find the first page).

A day whose worklists were generated (``daily_worklists``: each segment's list spread over its
team, stored each morning) is read from those lists instead: a specialist's list is then the
customers the generation gave them — their own, their share of the unassigned ones, those of a
colleague they stand in for — in the order they were ranked in when generated, each entry
telling why it is there; the unassigned list is then the customers placed with nobody. Its
amounts and explanation read the facts as they are now.

Customers processed on the day are left out, shown, or listed alone (``processed``). The order
is a total one (``ranking_sql``), so pages never overlap or skip (keyset cursors).

Amount to be collected on the day: ``amounts_to_collect``, the definition the customer overview
shares.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger_collect.projections.forgetting import not_erased
from ledger_collect.projections.worklist.amounts_to_collect import (
    Amounts,
    amounts_of_row,
    amounts_sql,
)
from ledger_collect.projections.worklist.generated_lists import GENERATED, stored_rows_sql
from ledger_collect.projections.worklist.ranking_sql import check_day, score_rows_sql
from ledger_collect.projections.worklist.strategy_rules import Facts, Line, Strategy, StrategySet
from ledger_collect.projections.worklist.strategy_versions import strategy_version

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
    #: The keys the entry was ranked by (score, overdue amount, oldest due date): on a
    #: generated list, as they were when it was generated.
    ranked: tuple[int, Decimal, date]
    assignment: str | None = None  # on a generated list: why it is there (``distribution``)
    owner: str | None = None  # on a generated list: the customer's assigned specialist then
    list_version: int | None = None  # on a generated list: the version of its segment's list
    tasks_due: int = 0  # open follow-ups and activities due on the day or before

    @property
    def processed(self) -> bool:
        return bool(self.processed_by)

    @property
    def cursor(self) -> str:
        """Where the next page starts when this entry ends one."""
        return encode_cursor(*self.ranked, self.number, self.rank)

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


_MARKED = {mode: f"{marked} AND {not_erased('r.customer_id')}" for mode, marked in (
    ("exclude", " AND NOT r.processed"), ("include", ""), ("only", " AND r.processed"))}
_UNRANKED = ("NOT EXISTS (SELECT 1 FROM worklist_snapshots WHERE day = $1::date"
             " AND strategies = $2::text)")


def _listed(*, processed: str, gate: str) -> str:
    """Which rows of the day's ranking: $1 day, $2 strategies key, $3 specialist (NULL: the
    unassigned customers); none when ``gate`` holds (a day with generated lists)."""
    if processed not in PROCESSED_MODES:
        raise ValueError(f"processed must be one of {', '.join(PROCESSED_MODES)}")
    return ("r.snapshot = (SELECT id FROM worklist_snapshots WHERE day = $1::date"
            " AND strategies = $2::text) AND r.specialist = coalesce($3::text, '')"
            f" AND NOT {gate}{_MARKED[processed]}")


#: The columns every kind of row hands the page query (a ranking's rows have no placement).
_RANKED_COLUMNS = ("r.customer_id, r.processed, r.neg_score, r.neg_overdue, r.oldest_due,"
                   " r.number, r.strategy, NULL::text AS kind, NULL::text AS owner,"
                   " NULL::text AS list_segment")


def _ranked_now(strategies: StrategySet, rest: str, gate: str) -> str:
    """The rows ``_listed`` reads, ranked in the query: the specialist's list only, and only
    when the day has no stored ranking (a one-time filter: nothing is scored when it has).
    ``rest``: more of the WHERE clause, ORDER BY, LIMIT."""
    rows = score_rows_sql(strategies, day="$1::date", snapshot="NULL::int",
                          specialist="$3::text")
    return (f"(SELECT {_RANKED_COLUMNS} FROM ({rows}) AS r WHERE {_UNRANKED}"
            f" AND NOT {gate}{rest})")


def page_sql(strategies: StrategySet, *, processed: str, after: bool,
             unranked: bool = False, generated: bool = True) -> str:
    """A page: $4 limit, $5-$8 the previous page's last keys (``after``). ``unranked``: read
    the stored ranking if there is one, else rank the list in the query. On a day with
    generated lists, the rows of those lists instead (unless not ``generated``: a list
    ranked with other strategies than the active ones)."""
    gate = GENERATED if generated else "false"
    d = "$1::date"
    keys = "r.neg_score, r.neg_overdue, r.oldest_due, r.number"
    cursor = f" AND ({keys}) > ($5::int, $6::numeric, $7::date, $8::text)" if after else ""
    rows = (f"SELECT {_RANKED_COLUMNS} FROM worklist_scores r\n"
            f"      WHERE {_listed(processed=processed, gate=gate)}{cursor}\n"
            f"      ORDER BY {keys} LIMIT $4")
    generated = stored_rows_sql(processed=processed, rest=cursor.replace("r.", "e.")
                                + f" ORDER BY {keys.replace('r.', 'e.')} LIMIT $4", gate=gate)
    rows = f"({rows})\n      UNION ALL\n      ({generated})"
    if unranked:
        now = _ranked_now(strategies, f"{_MARKED[processed]}{cursor} ORDER BY {keys} LIMIT $4",
                          gate)
        rows = f"{rows}\n      UNION ALL\n      {now}"
    return f"""
SELECT r.neg_score, r.neg_overdue, r.oldest_due AS ranked_due, r.strategy, r.kind, r.owner,
       g.version AS list_version, g.strategy_code, g.strategy_version, c.id, c.number, c.name,
       c.segment, c.currency, c.risk_class, c.specialist,
       coalesce(c.oldest_due, r.oldest_due) AS oldest_due, c.open_amount, c.dunning_level,
       c.broken_promises, c.open_disputes, c.disputed_amount, p.actors AS processed_by,
       (SELECT min(f.follow_up_date) FROM worklist_follow_ups f WHERE f.customer_id = c.id
        AND f.open AND f.follow_up_date > {d}) AS next_follow_up,
       (SELECT count(*) FROM worklist_follow_ups f WHERE f.customer_id = c.id AND f.open
        AND f.follow_up_date <= {d}) + (SELECT count(*) FROM worklist_activities t
        WHERE t.customer_id = c.id AND t.open AND t.due_date <= {d}) AS tasks_due, a.*
FROM ({rows}) AS r
JOIN worklist_customers c ON c.id = r.customer_id
LEFT JOIN daily_worklists g ON g.day = {d} AND g.segment = r.list_segment
LEFT JOIN worklist_processed p ON p.customer_id = c.id AND p.day = {d}
LEFT JOIN LATERAL ({amounts_sql(strategies, d)}) AS a ON true
ORDER BY {keys}"""


def count_sql(strategies: StrategySet, *, processed: str, unranked: bool = False,
              generated: bool = True) -> str:
    gate = GENERATED if generated else "false"
    stored = (f"SELECT count(*) FROM worklist_scores r"
              f" WHERE {_listed(processed=processed, gate=gate)}")
    listed = (f"SELECT count(*) FROM ({stored_rows_sql(processed=processed, rest='', gate=gate)})"
              " AS e")
    if not unranked:
        return f"SELECT ({stored}) + ({listed})"
    now = _ranked_now(strategies, _MARKED[processed], gate)
    return f"SELECT ({stored}) + ({listed}) + (SELECT count(*) FROM {now} AS r)"


async def worklist(pool: Any, strategies: StrategySet, *, specialist: str | None, as_of: date,
                   processed: str = "exclude", limit: int = 50,
                   after: str | None = None, generated: bool = True) -> Page:
    """One page of a specialist's list (``specialist=None``: the unassigned customers): one
    query when the day's ranking with these strategies is stored (or the day's lists were
    generated), else ranked in a second one. ``generated``: False to rank with ``strategies``
    even on a day with generated lists. Reads only."""
    if limit < 1:
        raise ValueError(f"a page needs at least one entry, got {limit}")
    limit = min(limit, MAX_PAGE)
    args: list[Any] = [check_day(as_of), strategies.key, specialist, limit + 1]
    rank = 0
    if after is not None:
        score, overdue, due, number, rank = decode_cursor(after)
        args += [-score, -overdue, due, number]
    rows = await pool.fetch(page_sql(strategies, processed=processed, after=after is not None,
                                     generated=generated), *args)
    if not rows:  # an empty list, or no ranking stored: one statement tells which
        rows = await pool.fetch(page_sql(strategies, processed=processed,
                                         after=after is not None, unranked=True,
                                         generated=generated), *args)
    used = strategies.all
    for code, version in {(row["strategy_code"], row["strategy_version"]) for row in rows
                          if row["strategy"] is None} - {(s.code, s.version) for s in used}:
        used = [*used, await strategy_version(pool, code, version)]  # an earlier version's list
    entries = [_entry(row, rank + n, as_of, used) for n, row in enumerate(rows[:limit], 1)]
    seen = {(e.strategy.code, e.strategy.version) for e in entries}
    return Page(entries, len(rows) > limit,
                [s for s in used if (s.code, s.version) in seen] or strategies.all)


async def count(pool: Any, strategies: StrategySet, *, specialist: str | None, as_of: date,
                processed: str = "exclude", generated: bool = True) -> int:
    """How many customers the whole list holds."""
    args = (check_day(as_of), strategies.key, specialist)
    found = await pool.fetchval(count_sql(strategies, processed=processed,
                                          generated=generated), *args)
    if not found:
        found = await pool.fetchval(count_sql(strategies, processed=processed, unranked=True,
                                              generated=generated), *args)
    return int(found)


def _entry(row: Any, rank: int, as_of: date, used: list[Strategy]) -> Entry:
    ranked = (-row["neg_score"], -row["neg_overdue"], row["ranked_due"])
    amounts = amounts_of_row(row)
    generated = row["strategy"] is None
    if generated:
        strategy = next(s for s in used if (s.code, s.version) == (row["strategy_code"],
                                                                   row["strategy_version"]))
    else:
        strategy = used[row["strategy"]]
    facts = Facts(currency=row["currency"],
                  overdue_amount=amounts.overdue if generated else ranked[1],
                  days_overdue=max(0, (as_of - row["oldest_due"]).days),
                  broken_promise_dates=tuple(row["broken_promises"]),
                  dunning_level=row["dunning_level"], risk_class=row["risk_class"],
                  open_disputes=row["open_disputes"], disputed_amount=row["disputed_amount"])
    return Entry(rank=rank, customer_id=row["id"],
                 number=row["number"], name=row["name"], segment=row["segment"],
                 currency=row["currency"], risk_class=row["risk_class"],
                 specialist=row["specialist"], as_of=as_of,
                 score=strategy.score(facts, as_of) if generated else ranked[0],
                 strategy=strategy, facts=facts, oldest_due=row["oldest_due"],
                 open_amount=row["open_amount"], amounts=amounts,
                 processed_by=tuple(row["processed_by"] or ()),
                 next_follow_up=row["next_follow_up"], ranked=ranked,
                 assignment=row["kind"], owner=row["owner"], list_version=row["list_version"],
                 tasks_due=row["tasks_due"])
