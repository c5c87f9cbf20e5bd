"""Timeline (contact history): everything that happened with a customer, one row per event,
newest first — invoices posted, payments, credit memos, reversals, clearings, write-offs,
reminder letters, conversations, promises, disputes, follow-ups, notes, emails and tasks.

Writer. Later events of an invoice, a promise or a dispute do not repeat its customer, document
number or currency; the model remembers those from the record's first event in small lookup
tables. A page costs a handful of statements: the lookups it needs (one query per table), the
highest ``seq`` so far, one upsert per lookup table and one COPY of the page's new rows.

Each row has a short ``description`` free of personal data (amounts, dates, document numbers,
codes) and, apart, the ``personal`` text a person wrote or is (a note, a conversation summary, a
reason, email addresses), which the API serves only through the personal-data guard.

Readers (asyncpg, for the API): ``timeline_by_customer`` pages many customers' timelines in one
query, filtered by type, from ``since`` (365 days before today by default: an event of exactly
365 days ago is in, one of 366 days ago is out).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.promise import PromiseToPay
from ledger_collect.domain.resubmission import Resubmission
from ledger_collect.projections import Projection
from ledger_collect.projections.forgetting import Personal
from ledger_collect.projections.rows import (
    DEFAULT_PAGE,
    MAX_PAGE,
    CursorError,
    ListArgumentError,
    PageRows,
    Part,
)
from ledger_collect.projections.tables import BigInt, Table
from ledger_collect.projections.timeline_events import (
    CUSTOMERS,
    DISPUTES,
    ENTRIES,
    FOLD,
    INVOICES,
    PROMISES,
)

#: The kinds of rows, as clients filter them.
TYPES = ("invoice", "payment", "credit_memo", "reversal", "clearing", "write_off", "reminder",
         "contact", "promise", "dispute", "resubmission", "note", "email", "activity")
#: How far back a timeline reaches unless asked otherwise.
DEFAULT_DAYS = 365
_CURSOR_PREFIX = "tl1:"


# -- tables ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimelineEntry:
    seq: BigInt
    customer_id: UUID
    occurred: date
    recorded_at: datetime
    type: str
    event: str
    actor: str
    description: str
    amount: Decimal | None
    currency: str | None
    personal: str | None  # serve only through the personal-data guard
    object_id: UUID
    object_version: int

    @property
    def cursor(self) -> str:
        key = f"{self.occurred.isoformat()}|{self.recorded_at.isoformat()}|{self.seq}"
        return _CURSOR_PREFIX + base64.urlsafe_b64encode(key.encode()).decode()


@dataclass(frozen=True)
class SeenCustomer:
    id: UUID
    segment: str  # decides who sees the personal parts


@dataclass(frozen=True)
class SeenInvoice:
    id: UUID
    customer_id: UUID
    document_number: str
    currency: str


@dataclass(frozen=True)
class SeenPromise:
    id: UUID
    document_number: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class SeenDispute:
    id: UUID
    currency: str


ENTRY_TABLE = Table(ENTRIES, TimelineEntry, key=("seq",),
                    unique=(("object_id", "object_version"),), numbered=True)
CUSTOMER_TABLE = Table(CUSTOMERS, SeenCustomer)
INVOICE_TABLE = Table(INVOICES, SeenInvoice)
PROMISE_TABLE = Table(PROMISES, SeenPromise)
DISPUTE_TABLE = Table(DISPUTES, SeenDispute)


class Timeline(Projection):
    name = "timeline"
    declared = (ENTRY_TABLE, CUSTOMER_TABLE, INVOICE_TABLE, PROMISE_TABLE, DISPUTE_TABLE)
    stream_rows = (("timeline", "object_id"), ("timeline_invoices", "id"),
                   ("timeline_promises", "id"), ("timeline_disputes", "id"))
    #: The personal part reads ERASED whole; an email's description no longer counts its
    #: attachments or the recipients that refused it (erased lists are one value).
    personal = (Personal("timeline", ("personal",), {
        "description": r"regexp_replace(regexp_replace({c}, '^Email with \d+ attachments?"
                       r"( \(zipped\))? created', 'Email created'), "
                       r"'^Email refused by \d+ of', 'Email refused by some of')"}),)
    #: Every event that adds a row or tells the model something for later rows (the
    #: customer's segment; an invoice's, promise's or dispute's first event).
    handles = tuple(FOLD)

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        page = PageRows(conn, (CUSTOMER_TABLE, INVOICE_TABLE, PROMISE_TABLE, DISPUTE_TABLE,
                               ENTRY_TABLE))
        _load(page, events)
        for event in events:
            FOLD[type(event)](page, event)
        page.write()


def _load(page: PageRows, events: Sequence[Any]) -> None:
    """What the page's later events of invoices, promises and disputes need remembered."""
    invoices: set[UUID] = set()
    promises: set[UUID] = set()
    disputes: set[UUID] = set()
    for e in events:
        kind = type(e)
        if kind in _LATER_INVOICE_EVENTS:
            invoices.add(e.originator_id)
        elif kind in (DisputeCase.Opened, Resubmission.Created):
            invoices.update(e.invoice_ids)
        elif kind is PromiseToPay.Issued:
            continue
        elif kind.__qualname__.startswith("PromiseToPay."):
            promises.add(e.originator_id)
        elif kind.__qualname__.startswith("DisputeCase.") and kind is not DisputeCase.Opened:
            disputes.add(e.originator_id)
    page[INVOICE_TABLE].load(invoices)
    page[PROMISE_TABLE].load(promises)
    page[DISPUTE_TABLE].load(disputes)


_LATER_INVOICE_EVENTS = frozenset(
    c for c in FOLD if c.__qualname__.startswith("Invoice.") and c is not Invoice.Posted)


# -- readers (asyncpg; the pool's search_path is the app's schema) ----------------------------
class InvalidCursorError(CursorError):
    """A cursor this model did not hand out (or one of another list)."""


def decode_cursor(cursor: str) -> tuple[date, datetime, int]:
    """(occurred, recorded_at, seq) of the entry a cursor points at."""
    try:
        if not cursor.startswith(_CURSOR_PREFIX):
            raise ValueError(cursor)
        occurred, recorded_at, seq = base64.urlsafe_b64decode(
            cursor[len(_CURSOR_PREFIX):].encode()).decode().split("|")
        return date.fromisoformat(occurred), datetime.fromisoformat(recorded_at), int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursorError(f"{cursor!r} is not a cursor of a timeline; pass the "
                                 f"endCursor of the page before") from None


@dataclass(frozen=True)
class TimelineWindow:
    """Which part of a timeline to read: a hashable loader key, checked when made."""

    since: date
    first: int = DEFAULT_PAGE
    after: str | None = None
    types: tuple[str, ...] | None = None

    @classmethod
    def of(cls, *, since: date | None = None, first: int = DEFAULT_PAGE,
           after: str | None = None, types: Iterable[str] | None = None,
           today: date | None = None) -> TimelineWindow:
        """``since`` defaults to ``DEFAULT_DAYS`` before ``today``; ``first`` is capped at
        ``MAX_PAGE``; unknown types and foreign cursors are refused."""
        if first < 1:
            raise ListArgumentError(f"ask for at least one entry (first: {first})")
        chosen = None
        if types is not None:
            chosen = tuple(sorted(set(types)))
            unknown = [t for t in chosen if t not in TYPES]
            if unknown:
                raise ListArgumentError(f"{', '.join(unknown)} is not a kind of timeline "
                                        f"entry; known: {', '.join(TYPES)}")
        if after is not None:
            decode_cursor(after)
        start = since if since is not None else (
            (today or date.today()) - timedelta(days=DEFAULT_DAYS))
        return cls(since=start, first=min(first, MAX_PAGE), after=after, types=chosen)


@dataclass(frozen=True)
class TimelinePage:
    customer_id: UUID
    segment: str | None  # None: the model does not know the customer
    entries: list[TimelineEntry]
    has_next: bool

    @property
    def end_cursor(self) -> str | None:
        return self.entries[-1].cursor if self.entries else None


_ENTRY = ", ".join(f"t.{name}" for name in ENTRY_TABLE.names if name != "customer_id")
_ORDER = "occurred DESC, recorded_at DESC, seq DESC"


def _page_sql(window: TimelineWindow) -> tuple[str, list[Any]]:
    params: list[Any] = [window.since, window.first + 1]
    conditions = ["customer_id = c.id", "occurred >= $2"]
    if window.types is not None:
        params.append(list(window.types))
        conditions.append(f"type = ANY(${len(params) + 1}::text[])")
    if window.after is not None:
        params.extend(decode_cursor(window.after))
        n = len(params) + 1
        conditions.append(f"(occurred, recorded_at, seq) < (${n - 2}::date, "
                          f"${n - 1}::timestamptz, ${n}::bigint)")
    query = (
        f"SELECT c.id AS customer_id, tc.segment, {_ENTRY}"
        " FROM unnest($1::uuid[]) WITH ORDINALITY AS c(id, n)"
        " LEFT JOIN timeline_customers tc ON tc.id = c.id"
        f" LEFT JOIN LATERAL (SELECT * FROM timeline WHERE {' AND '.join(conditions)}"
        f" ORDER BY {_ORDER} LIMIT $3) t ON true"
        f" ORDER BY c.n, t.occurred DESC, t.recorded_at DESC, t.seq DESC")
    return query, params


async def timeline_by_customer(pool: Any, customer_ids: Sequence[UUID], *,
                               types: Iterable[str] | None = None, since: date | None = None,
                               first: int = DEFAULT_PAGE, after: str | None = None,
                               today: date | None = None) -> dict[UUID, TimelinePage]:
    """A page of each customer's timeline, newest first, in one query (every id asked for is
    in the answer; ``segment`` None marks customers the model does not know)."""
    window = TimelineWindow.of(since=since, first=first, after=after, types=types, today=today)
    return await _read(pool, list(dict.fromkeys(customer_ids)), window)


async def _read(pool: Any, customer_ids: list[UUID],
                window: TimelineWindow) -> dict[UUID, TimelinePage]:
    query, params = _page_sql(window)
    return pages_of(await pool.fetch(query, customer_ids, *params), customer_ids, window)


def pages_of(rows: Iterable[Any], customer_ids: Sequence[UUID],
             window: TimelineWindow) -> dict[UUID, TimelinePage]:
    """The window's page of each customer from the rows of its query (one row per entry, and
    one of nulls but the segment for a customer with none)."""
    segments: dict[UUID, str | None] = {}
    entries: dict[UUID, list[TimelineEntry]] = {c: [] for c in customer_ids}
    for row in rows:
        customer_id = row["customer_id"]
        segments[customer_id] = row["segment"]
        if row["seq"] is not None:
            entries[customer_id].append(TimelineEntry(**{name: row[name]
                                                          for name in ENTRY_TABLE.names}))
    return {c: TimelinePage(c, segments.get(c), found[:window.first],
                            len(found) > window.first) for c, found in entries.items()}


def window_part(window: TimelineWindow) -> Part[dict[str, Any]]:
    """The window's query as a part of the overview's one statement (``fetch_parts``, whose
    only parameter is the customers' ids): the window's date and length are written into the
    statement (values made here, never a client's text). Windows with types or a cursor are
    read on their own (``load_timelines``). Rows come out as dicts for ``pages_of``."""
    if window.types is not None or window.after is not None:
        raise ValueError("only a first page of every type is read with the overview")
    query, _ = _page_sql(window)
    query = query.replace("$2", f"'{window.since.isoformat()}'::date").replace(
        "$3", str(window.first + 1))
    return Part(query, _PAGE_COLUMNS, dict)


_PAGE_COLUMNS = ("customer_id", "segment",
                 *(name for name in ENTRY_TABLE.names if name != "customer_id"))


async def load_timelines(pool: Any, keys: Sequence[tuple[UUID, TimelineWindow]],
                         ) -> list[TimelinePage]:
    """For a per-request DataLoader keyed by (customer id, window): one query per distinct
    window, whatever the number of customers."""
    windows: dict[TimelineWindow, list[UUID]] = {}
    for customer_id, window in keys:
        windows.setdefault(window, []).append(customer_id)
    pages: dict[tuple[UUID, TimelineWindow], TimelinePage] = {}
    for window, customer_ids in windows.items():
        found = await _read(pool, list(dict.fromkeys(customer_ids)), window)
        pages.update(((c, window), page) for c, page in found.items())
    return [pages[key] for key in keys]
