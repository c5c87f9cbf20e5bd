"""Open items: every invoice's open amount, due date, dunning, promise and dispute state; the
credits customers hold. Aging and the supervisor's balance lists are read from it by
``aging_report``.

Writer. A page of events is folded in memory: the rows it touches are loaded with one query
per table, the events applied in order, the rows written back with one upsert per table.

Readers (asyncpg, for the API): items and credits of many customers in one query each (the
overview's loaders). Days overdue are computed for any as-of date from the stored due dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain.credit import CustomerCredit
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.promise import PromiseToPay
from ledger_collect.projections import Projection, in_order, load, upsert
from ledger_collect.projections.rows import Part, fetch_part, names

ZERO = Decimal("0.00")
ACTIVE_DISPUTE = ("open", "in_process")

ITEM_COLUMNS = (
    ("id", "uuid"), ("customer_id", "uuid"), ("document_number", "text"), ("currency", "key"),
    ("amount", "numeric"), ("paid_amount", "numeric"), ("credited_amount", "numeric"),
    ("open_amount", "numeric"), ("posting_date", "date"), ("due_date", "date"),
    ("status", "text"), ("closed_on", "date"), ("dunning_level", "int"),
    ("last_dunned_on", "date"), ("promise_id", "uuid"), ("promise_amount", "numeric"),
    ("promise_date", "date"), ("promise_status", "text"), ("promise_paid", "numeric"),
    ("dispute_ids", "uuid[]"), ("open_disputes", "int"), ("disputed_amount", "numeric"))
DISPUTE_COLUMNS = (
    ("id", "uuid"), ("customer_id", "uuid"), ("invoice_ids", "uuid[]"),
    ("invoice_amounts", "numeric[]"), ("currency", "key"), ("reason", "text"),
    ("processor", "text"), ("status", "text"), ("resolution", "text"),
    ("original_amount", "numeric"), ("still_disputed", "numeric"), ("opened_on", "date"),
    ("resolved_on", "date"), ("closed_on", "date"))
CREDIT_COLUMNS = (
    ("id", "uuid"), ("customer_id", "uuid"), ("kind", "text"), ("source_id", "text"),
    ("amount", "numeric"), ("currency", "key"), ("document_date", "date"))


class OpenItems(Projection):
    name = "open_items"
    tables = ("open_items", "open_item_disputes", "customer_credits", "customer_balances")
    handles = (
        Invoice.Posted, Invoice.PaymentApplied, Invoice.CreditMemoApplied,
        Invoice.PaymentReversed, Invoice.Cleared, Invoice.WrittenOff,
        Invoice.DunningLevelRaised, Invoice.DisputeLinked,
        PromiseToPay.Issued, PromiseToPay.PaymentCounted, PromiseToPay.PaymentUncounted,
        PromiseToPay.Valued, PromiseToPay.Withdrawn, PromiseToPay.Closed,
        DisputeCase.Opened, DisputeCase.ProcessingStarted, DisputeCase.ProcessorChanged,
        DisputeCase.ProgressRecorded, DisputeCase.SettledOnInvoice, DisputeCase.Resolved,
        DisputeCase.Closed, CustomerCredit.Received)

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        page = _Page(conn, events)
        for event in events:
            _FOLD[type(event)](page, event)
        page.settle_disputes()
        page.write(balances=not self.building)

    def built(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(_ALL_BALANCES)  # once, rather than per page of the build


class _Page:
    """The rows one page of events touches, loaded in bulk and written back in bulk."""

    def __init__(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        self.conn = conn
        self.disputes = load(conn, "open_item_disputes", names(DISPUTE_COLUMNS), {
            e.originator_id for e in events
            if type(e) in _DISPUTE_EVENTS and type(e) is not DisputeCase.Opened})
        invoice_ids = {e.originator_id for e in events if type(e) in _INVOICE_EVENTS}
        invoice_ids.update(e.invoice_id for e in events if type(e) in _PROMISE_EVENTS)
        for e in events:
            if type(e) is DisputeCase.Opened:
                invoice_ids.update(e.invoice_ids)
        for dispute in self.disputes.values():
            invoice_ids.update(dispute["invoice_ids"])
        self.items = load(conn, "open_items", names(ITEM_COLUMNS), invoice_ids)
        self.credits: list[tuple[Any, ...]] = []
        self.changed_items: set[UUID] = set()
        self.changed_disputes: set[UUID] = set()

    def item(self, invoice_id: UUID) -> dict[str, Any] | None:
        row = self.items.get(invoice_id)
        if row is not None:
            self.changed_items.add(invoice_id)
        return row

    def dispute(self, dispute_id: UUID) -> dict[str, Any] | None:
        row = self.disputes.get(dispute_id)
        if row is not None:
            self.changed_disputes.add(dispute_id)
        return row

    def settle_disputes(self) -> None:
        """Per invoice: how many of its disputes are still open and what they dispute on it.
        Recomputed for invoices whose disputes, or whose own or fellow invoices' amounts,
        changed."""
        affected = {i for d in self.changed_disputes for i in self.disputes[d]["invoice_ids"]}
        affected.update(i for i in self.changed_items if self.items[i]["dispute_ids"])
        affected &= self.items.keys()
        missing = {d for i in affected for d in self.items[i]["dispute_ids"]} - self.disputes.keys()
        self.disputes.update(load(self.conn, "open_item_disputes", names(DISPUTE_COLUMNS),
                                  missing))
        others = {i for a in affected for d in self.items[a]["dispute_ids"]
                  if d in self.disputes for i in self.disputes[d]["invoice_ids"]}
        self.items.update(load(self.conn, "open_items", names(ITEM_COLUMNS),
                               others - self.items.keys()))
        affected |= others & self.items.keys()  # an invoice's share moves with the others'
        for invoice_id in affected:
            row = self.items[invoice_id]
            active = [self.disputes[d] for d in row["dispute_ids"]
                      if d in self.disputes and self.disputes[d]["status"] in ACTIVE_DISPUTE]
            share = sum((_share(d, invoice_id, self.items) for d in active), ZERO)
            row["open_disputes"] = len(active)
            row["disputed_amount"] = min(share, row["open_amount"])
            self.changed_items.add(invoice_id)

    def write(self, *, balances: bool) -> None:
        upsert(self.conn, "open_items", ITEM_COLUMNS,
               [_values(self.items[i], ITEM_COLUMNS) for i in in_order(self.changed_items)])
        if balances and self.changed_items:
            customers = {self.items[i]["customer_id"] for i in self.changed_items}
            self.conn.execute(_BALANCES_OF, {"ids": in_order(customers)})
        upsert(self.conn, "open_item_disputes", DISPUTE_COLUMNS,
               [_values(self.disputes[d], DISPUTE_COLUMNS)
                for d in in_order(self.changed_disputes)])
        upsert(self.conn, "customer_credits", CREDIT_COLUMNS, self.credits)



def _values(row: dict[str, Any], columns: Sequence[tuple[str, str]]) -> tuple[Any, ...]:
    return tuple(row[name] for name, _ in columns)


def _share(dispute: dict[str, Any], invoice_id: UUID,
           items: dict[UUID, dict[str, Any]]) -> Decimal:
    """The part of the still-disputed amount that falls on this invoice: spread over the
    case's invoices in the order they were named, each taking at most what it has open."""
    rest = dispute["still_disputed"]
    for other, cap in zip(dispute["invoice_ids"], dispute["invoice_amounts"], strict=True):
        if other in items:
            cap = items[other]["open_amount"]
        part = max(ZERO, min(rest, cap))
        if other == invoice_id:
            return Decimal(part)
        rest -= part
    return ZERO


# -- the fold: one function per event ------------------------------------------------------
def _posted(page: _Page, e: Any) -> None:
    page.items[e.originator_id] = {
        "id": e.originator_id, "customer_id": e.customer_id,
        "document_number": e.document_number, "currency": e.currency, "amount": e.amount,
        "paid_amount": ZERO, "credited_amount": ZERO, "open_amount": e.amount,
        "posting_date": e.posting_date, "due_date": e.due_date, "status": "open",
        "closed_on": None, "dunning_level": 0, "last_dunned_on": None, "promise_id": None,
        "promise_amount": None, "promise_date": None, "promise_status": None,
        "promise_paid": None, "dispute_ids": [], "open_disputes": 0, "disputed_amount": ZERO}
    page.changed_items.add(e.originator_id)


def _invoice_fact(change: Any) -> Any:
    def fold(page: _Page, e: Any) -> None:
        row = page.item(e.originator_id)
        if row is not None:
            change(row, e)
    return fold


def _moved(column: str, sign: int) -> Any:
    """Money applied to (sign 1) or taken back from (-1) the invoice: the open amount moves
    the other way."""
    def change(row: dict[str, Any], e: Any) -> None:
        row[column] += sign * e.amount
        row["open_amount"] -= sign * e.amount
    return change


def _closed_as(status: str) -> Any:
    def close(row: dict[str, Any], e: Any) -> None:
        row["open_amount"] -= e.amount
        row["status"] = status
        row["closed_on"] = e.business_date
    return close


def _dunned(row: dict[str, Any], e: Any) -> None:
    row["dunning_level"] = e.level
    row["last_dunned_on"] = e.business_date


def _dispute_linked(row: dict[str, Any], e: Any) -> None:
    row["dispute_ids"] = sorted(set(row["dispute_ids"]) | {e.dispute_id})


def _promise_issued(page: _Page, e: Any) -> None:
    row = page.item(e.invoice_id)
    if row is not None:
        row.update(promise_id=e.originator_id, promise_amount=e.amount,
                   promise_date=e.promised_date, promise_status="open", promise_paid=ZERO)


def _promise_fact(change: Any) -> Any:
    """Later promise events only touch the invoice while it shows that promise."""
    def fold(page: _Page, e: Any) -> None:
        row = page.items.get(e.invoice_id)
        if row is not None and row["promise_id"] == e.originator_id:
            page.changed_items.add(e.invoice_id)
            change(row, e)
    return fold


def _counted(row: dict[str, Any], e: Any) -> None:
    row["promise_paid"] += e.amount
    row["promise_status"] = "in_process"


def _uncounted(row: dict[str, Any], e: Any) -> None:
    row["promise_paid"] -= e.amount
    row["promise_status"] = "in_process" if row["promise_paid"] > 0 else "open"


def _promise_status(status: str | None) -> Any:
    def change(row: dict[str, Any], e: Any) -> None:
        row["promise_status"] = status or e.status
    return change


def _dispute_opened(page: _Page, e: Any) -> None:
    amounts = []
    for invoice_id in e.invoice_ids:
        row = page.item(invoice_id)
        amounts.append(row["open_amount"] if row is not None else ZERO)
        if row is not None:
            row["dispute_ids"] = sorted(set(row["dispute_ids"]) | {e.originator_id})
    page.disputes[e.originator_id] = {
        "id": e.originator_id, "customer_id": e.customer_id, "invoice_ids": list(e.invoice_ids),
        "invoice_amounts": amounts, "currency": e.currency, "reason": e.reason,
        "processor": e.processor, "status": "open", "resolution": None,
        "original_amount": e.amount, "still_disputed": e.amount, "opened_on": e.business_date,
        "resolved_on": None, "closed_on": None}
    page.changed_disputes.add(e.originator_id)


def _dispute_fact(change: Any) -> Any:
    def fold(page: _Page, e: Any) -> None:
        row = page.dispute(e.originator_id)
        if row is not None:
            change(row, e)
    return fold


def _settled(row: dict[str, Any], e: Any) -> None:
    row["still_disputed"] -= e.credited + e.paid + e.written_off


def _resolved(row: dict[str, Any], e: Any) -> None:
    _settled(row, e)
    row.update(status="resolved", resolution=e.resolution, resolved_on=e.business_date)


def _credit_received(page: _Page, e: Any) -> None:
    page.credits.append((e.originator_id, e.customer_id, e.kind, e.source_id, e.amount,
                         e.currency, e.document_date))


_FOLD: dict[type, Any] = {
    Invoice.Posted: _posted,
    Invoice.PaymentApplied: _invoice_fact(_moved("paid_amount", 1)),
    Invoice.CreditMemoApplied: _invoice_fact(_moved("credited_amount", 1)),
    Invoice.PaymentReversed: _invoice_fact(_moved("paid_amount", -1)),
    Invoice.Cleared: _invoice_fact(_closed_as("cleared")),
    Invoice.WrittenOff: _invoice_fact(_closed_as("written_off")),
    Invoice.DunningLevelRaised: _invoice_fact(_dunned),
    Invoice.DisputeLinked: _invoice_fact(_dispute_linked),
    PromiseToPay.Issued: _promise_issued,
    PromiseToPay.PaymentCounted: _promise_fact(_counted),
    PromiseToPay.PaymentUncounted: _promise_fact(_uncounted),
    PromiseToPay.Valued: _promise_fact(_promise_status(None)),
    PromiseToPay.Withdrawn: _promise_fact(_promise_status("withdrawn")),
    PromiseToPay.Closed: _promise_fact(_promise_status("closed")),
    DisputeCase.Opened: _dispute_opened,
    DisputeCase.ProcessingStarted: _dispute_fact(lambda row, e: row.update(status="in_process")),
    DisputeCase.ProcessorChanged: _dispute_fact(lambda row, e: row.update(processor=e.processor)),
    DisputeCase.ProgressRecorded: _dispute_fact(_settled),
    DisputeCase.SettledOnInvoice: _dispute_fact(_settled),
    DisputeCase.Resolved: _dispute_fact(_resolved),
    DisputeCase.Closed: _dispute_fact(
        lambda row, e: row.update(status="closed", closed_on=e.business_date)),
    CustomerCredit.Received: _credit_received,
}
assert set(_FOLD) == set(OpenItems.handles)
_INVOICE_EVENTS = frozenset(c for c in OpenItems.handles if c.__qualname__.startswith("Invoice."))
_PROMISE_EVENTS = frozenset(
    c for c in OpenItems.handles if c.__qualname__.startswith("PromiseToPay."))
_DISPUTE_EVENTS = frozenset(
    c for c in OpenItems.handles if c.__qualname__.startswith("DisputeCase."))


# -- readers (asyncpg; the pool's search_path is the app's schema) ----------------------------
#: Items still to be collected (the readers here and in aging_report).
OPEN_CONDITION = "status = 'open' AND open_amount > 0"

_SUMMED = ("SELECT customer_id, currency, sum(open_amount), count(*), min(due_date)"
           f" FROM open_items WHERE {OPEN_CONDITION}")
#: Every customer's balances, from scratch (a build's last step).
_ALL_BALANCES = f"INSERT INTO customer_balances {_SUMMED} GROUP BY customer_id, currency"
#: The balances of the customers given (%s: their ids) summed again: rows updated, added, and
#: deleted where nothing is open any more. The DELETE and the upsert see the same snapshot and
#: touch different keys.
_BALANCES_OF = (
    f"WITH fresh (customer_id, currency, open_amount, items, oldest_due_date) AS ({_SUMMED}"
    " AND customer_id = ANY(%(ids)s) GROUP BY customer_id, currency),"
    " gone AS (DELETE FROM customer_balances b WHERE b.customer_id = ANY(%(ids)s) AND NOT EXISTS"
    " (SELECT 1 FROM fresh f WHERE f.customer_id = b.customer_id AND f.currency = b.currency))"
    " INSERT INTO customer_balances AS b SELECT * FROM fresh"
    " ON CONFLICT (customer_id, currency) DO UPDATE SET open_amount = EXCLUDED.open_amount,"
    " items = EXCLUDED.items, oldest_due_date = EXCLUDED.oldest_due_date"
    " WHERE (b.open_amount, b.items, b.oldest_due_date)"
    " IS DISTINCT FROM (EXCLUDED.open_amount, EXCLUDED.items, EXCLUDED.oldest_due_date)")


@dataclass(frozen=True)
class OpenItem:
    id: UUID
    customer_id: UUID
    document_number: str
    currency: str
    amount: Decimal
    paid_amount: Decimal
    credited_amount: Decimal
    open_amount: Decimal
    posting_date: date
    due_date: date
    status: str
    closed_on: date | None
    dunning_level: int
    last_dunned_on: date | None
    promise_id: UUID | None
    promise_amount: Decimal | None
    promise_date: date | None
    promise_status: str | None
    promise_paid: Decimal | None
    dispute_ids: list[UUID]
    open_disputes: int
    disputed_amount: Decimal

    def days_overdue(self, as_of: date) -> int:
        """Days past due on ``as_of`` (0 when not yet due)."""
        return max(0, (as_of - self.due_date).days)

    @property
    def has_open_promise(self) -> bool:
        return self.promise_status in ("open", "in_process")


@dataclass(frozen=True)
class Credit:
    id: UUID
    customer_id: UUID
    kind: str
    source_id: str
    amount: Decimal
    currency: str
    document_date: date


def _items(condition: str) -> Part[OpenItem]:
    return Part(f"SELECT {', '.join(names(ITEM_COLUMNS))} FROM open_items"
                f" WHERE customer_id = ANY($1::uuid[]){condition}"
                " ORDER BY customer_id, due_date, document_number",
                tuple(names(ITEM_COLUMNS)), lambda row: OpenItem(**dict(row)))


#: Each customer's open items, earliest due first (``ALL_ITEMS``: the cleared ones too).
OPEN_ITEMS, ALL_ITEMS = _items(f" AND {OPEN_CONDITION}"), _items("")
#: Unapplied payments and credit memos on account, oldest first.
CREDITS = Part(f"SELECT {', '.join(names(CREDIT_COLUMNS))} FROM customer_credits"
               " WHERE customer_id = ANY($1::uuid[]) ORDER BY customer_id, document_date,"
               " source_id", tuple(names(CREDIT_COLUMNS)), lambda row: Credit(**dict(row)))


async def open_items_by_customer(pool: Any, customer_ids: Sequence[UUID], *,
                                 include_closed: bool = False) -> dict[UUID, list[OpenItem]]:
    return await fetch_part(pool, ALL_ITEMS if include_closed else OPEN_ITEMS, customer_ids)


async def credits_by_customer(pool: Any,
                              customer_ids: Sequence[UUID]) -> dict[UUID, list[Credit]]:
    return await fetch_part(pool, CREDITS, customer_ids)
