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

from ledger_collect.domain import dispute, invoice, promise
from ledger_collect.domain.base import ZERO
from ledger_collect.domain.credit import CustomerCredit
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.promise import PromiseToPay
from ledger_collect.projections import Projection, in_order
from ledger_collect.projections.purged import customers_of
from ledger_collect.projections.rows import PageRows, Part
from ledger_collect.projections.tables import Key, Table


# -- tables ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpenItem:
    id: UUID
    customer_id: UUID
    document_number: str
    currency: Key
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
        return self.promise_status in promise.UNCONFIRMED


@dataclass(frozen=True)
class ItemDispute:
    """A dispute as open items need it: what it takes out of each of its invoices."""

    id: UUID
    customer_id: UUID
    invoice_ids: list[UUID]
    invoice_amounts: list[Decimal]
    currency: Key
    reason: str
    processor: str
    status: str
    resolution: str | None
    original_amount: Decimal
    still_disputed: Decimal
    opened_on: date
    resolved_on: date | None
    closed_on: date | None


@dataclass(frozen=True)
class Credit:
    id: UUID
    customer_id: UUID
    kind: str
    source_id: str
    amount: Decimal
    currency: Key
    document_date: date


@dataclass(frozen=True)
class CustomerBalance:
    customer_id: UUID
    currency: Key
    open_amount: Decimal
    items: int
    oldest_due_date: date


ITEM_TABLE = Table("open_items", OpenItem)
DISPUTE_TABLE = Table("open_item_disputes", ItemDispute)
CREDIT_TABLE = Table("customer_credits", Credit)
BALANCE_TABLE = Table("customer_balances", CustomerBalance, key=("customer_id", "currency"))


class OpenItems(Projection):
    name = "open_items"
    declared = (ITEM_TABLE, DISPUTE_TABLE, CREDIT_TABLE, BALANCE_TABLE)
    stream_rows = (("open_items", "id"), ("open_item_disputes", "id"), ("customer_credits", "id"))
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
        page = PageRows(conn, (ITEM_TABLE, DISPUTE_TABLE, CREDIT_TABLE))
        _load(page, events)
        for event in events:
            _FOLD[type(event)](page, event)
        _settle_disputes(page)
        page.write()
        items = page[ITEM_TABLE]
        if items.changed and not self.building:
            customers = {items.rows[i]["customer_id"] for i in items.changed}
            conn.execute(_BALANCES_OF, {"ids": in_order(customers)})

    def built(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(_ALL_BALANCES)  # once, rather than per page of the build

    def purge(self, conn: psycopg.Connection[Any], event: Any) -> None:
        """Balances count what is in the store: summed again for the purged items' customers."""
        customers = customers_of(conn, ("open_items",), event.stream_ids)
        super().purge(conn, event)
        if customers and not self.building:
            conn.execute(_BALANCES_OF, {"ids": customers})


def _load(page: PageRows, events: Sequence[Any]) -> None:
    """The rows the page's events touch: the disputes they name, and the invoices they or
    those disputes name."""
    disputes = page[DISPUTE_TABLE]
    disputes.load(e.originator_id for e in events
                  if type(e) in _DISPUTE_EVENTS and type(e) is not DisputeCase.Opened)
    invoice_ids = {e.originator_id for e in events if type(e) in _INVOICE_EVENTS}
    invoice_ids.update(e.invoice_id for e in events if type(e) in _PROMISE_EVENTS)
    for e in events:
        if type(e) is DisputeCase.Opened:
            invoice_ids.update(e.invoice_ids)
    for row in disputes.rows.values():
        invoice_ids.update(row["invoice_ids"])
    page[ITEM_TABLE].load(invoice_ids)


def _settle_disputes(page: PageRows) -> None:
    """Per invoice: how many of its disputes are still open and what they dispute on it.
    Recomputed for invoices whose disputes, or whose own or fellow invoices' amounts, changed."""
    items, disputes = page[ITEM_TABLE], page[DISPUTE_TABLE]
    affected = {i for d in disputes.changed for i in disputes.rows[d]["invoice_ids"]}
    affected.update(i for i in items.changed if items.rows[i]["dispute_ids"])
    affected &= items.rows.keys()
    disputes.load(d for i in affected for d in items.rows[i]["dispute_ids"])
    others = {i for a in affected for d in items.rows[a]["dispute_ids"]
              if d in disputes.rows for i in disputes.rows[d]["invoice_ids"]}
    items.load(others)
    affected |= others & items.rows.keys()  # an invoice's share moves with the others'
    for invoice_id in affected:
        row = items.rows[invoice_id]
        active = [disputes.rows[d] for d in row["dispute_ids"]
                  if d in disputes.rows and disputes.rows[d]["status"] in dispute.ACTIVE]
        share = sum((_share(d, invoice_id, items.rows) for d in active), ZERO)
        row["open_disputes"] = len(active)
        row["disputed_amount"] = min(share, row["open_amount"])
        items.changed.add(invoice_id)


def _share(case: dict[str, Any], invoice_id: UUID,
           items: dict[UUID, dict[str, Any]]) -> Decimal:
    """The part of the still-disputed amount that falls on this invoice: spread over the
    case's invoices in the order they were named, each taking at most what it has open."""
    rest = case["still_disputed"]
    for other, cap in zip(case["invoice_ids"], case["invoice_amounts"], strict=True):
        if other in items:
            cap = items[other]["open_amount"]
        part = max(ZERO, min(rest, cap))
        if other == invoice_id:
            return Decimal(part)
        rest -= part
    return ZERO


# -- the fold: one function per event ------------------------------------------------------
def _posted(page: PageRows, e: Any) -> None:
    page[ITEM_TABLE].add({
        "id": e.originator_id, "customer_id": e.customer_id,
        "document_number": e.document_number, "currency": e.currency, "amount": e.amount,
        "paid_amount": ZERO, "credited_amount": ZERO, "open_amount": e.amount,
        "posting_date": e.posting_date, "due_date": e.due_date, "status": invoice.OPEN,
        "closed_on": None, "dunning_level": 0, "last_dunned_on": None, "promise_id": None,
        "promise_amount": None, "promise_date": None, "promise_status": None,
        "promise_paid": None, "dispute_ids": [], "open_disputes": 0, "disputed_amount": ZERO})


def _fact(table: Table[Any], change: Any) -> Any:
    """An event that changes the row of its record (the originator), if the model has it."""
    def fold(page: PageRows, e: Any) -> None:
        row = page[table].get(e.originator_id)
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


def _promise_issued(page: PageRows, e: Any) -> None:
    row = page[ITEM_TABLE].get(e.invoice_id)
    if row is not None:
        row.update(promise_id=e.originator_id, promise_amount=e.amount,
                   promise_date=e.promised_date, promise_paid=ZERO,
                   promise_status=promise.OPEN)


def _promise_fact(sign: int) -> Any:
    """A later promise event, for the invoice while it shows that promise: what counts
    towards it moves by the event's amount (``sign``: 1 counted, -1 uncounted, 0 none), and
    its status follows the promise's rule."""
    def fold(page: PageRows, e: Any) -> None:
        items = page[ITEM_TABLE]
        row = items.rows.get(e.invoice_id)
        if row is not None and row["promise_id"] == e.originator_id:
            items.changed.add(e.invoice_id)
            if sign:
                row["promise_paid"] += sign * e.amount
            row["promise_status"] = promise.status_after(e, row["promise_paid"])
    return fold


def _dispute_opened(page: PageRows, e: Any) -> None:
    amounts = []
    for invoice_id in e.invoice_ids:
        row = page[ITEM_TABLE].get(invoice_id)
        amounts.append(row["open_amount"] if row is not None else ZERO)
        if row is not None:
            row["dispute_ids"] = sorted(set(row["dispute_ids"]) | {e.originator_id})
    page[DISPUTE_TABLE].add({
        "id": e.originator_id, "customer_id": e.customer_id, "invoice_ids": list(e.invoice_ids),
        "invoice_amounts": amounts, "currency": e.currency, "reason": e.reason,
        "processor": e.processor, "status": dispute.OPEN, "resolution": None,
        "original_amount": e.amount, "still_disputed": e.amount, "opened_on": e.business_date,
        "resolved_on": None, "closed_on": None})


def _dispute_fact(change: Any = None) -> Any:
    """A later dispute event: its change, and the status the case's rule gives it."""
    def fold(row: dict[str, Any], e: Any) -> None:
        if change is not None:
            change(row, e)
        row["status"] = dispute.status_after(e, row["status"])
    return _fact(DISPUTE_TABLE, fold)


def _settled(row: dict[str, Any], e: Any) -> None:
    row["still_disputed"] -= e.credited + e.paid + e.written_off


def _resolved(row: dict[str, Any], e: Any) -> None:
    _settled(row, e)
    row.update(resolution=e.resolution, resolved_on=e.business_date)


def _credit_received(page: PageRows, e: Any) -> None:
    page[CREDIT_TABLE].add({
        "id": e.originator_id, "customer_id": e.customer_id, "kind": e.kind,
        "source_id": e.source_id, "amount": e.amount, "currency": e.currency,
        "document_date": e.document_date})


def _invoice_fact(change: Any) -> Any:
    return _fact(ITEM_TABLE, change)


_FOLD: dict[type, Any] = {
    Invoice.Posted: _posted,
    Invoice.PaymentApplied: _invoice_fact(_moved("paid_amount", 1)),
    Invoice.CreditMemoApplied: _invoice_fact(_moved("credited_amount", 1)),
    Invoice.PaymentReversed: _invoice_fact(_moved("paid_amount", -1)),
    Invoice.Cleared: _invoice_fact(_closed_as(invoice.CLEARED)),
    Invoice.WrittenOff: _invoice_fact(_closed_as(invoice.WRITTEN_OFF)),
    Invoice.DunningLevelRaised: _invoice_fact(_dunned),
    Invoice.DisputeLinked: _invoice_fact(_dispute_linked),
    PromiseToPay.Issued: _promise_issued,
    PromiseToPay.PaymentCounted: _promise_fact(1),
    PromiseToPay.PaymentUncounted: _promise_fact(-1),
    PromiseToPay.Valued: _promise_fact(0),
    PromiseToPay.Withdrawn: _promise_fact(0),
    PromiseToPay.Closed: _promise_fact(0),
    DisputeCase.Opened: _dispute_opened,
    DisputeCase.ProcessingStarted: _dispute_fact(),
    DisputeCase.ProcessorChanged: _dispute_fact(lambda row, e: row.update(processor=e.processor)),
    DisputeCase.ProgressRecorded: _dispute_fact(_settled),
    DisputeCase.SettledOnInvoice: _dispute_fact(_settled),
    DisputeCase.Resolved: _dispute_fact(_resolved),
    DisputeCase.Closed: _dispute_fact(lambda row, e: row.update(closed_on=e.business_date)),
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


def _items(condition: str) -> Part[OpenItem]:
    return Part(f"SELECT {ITEM_TABLE.select()} FROM open_items"
                f" WHERE customer_id = ANY($1::uuid[]){condition}"
                " ORDER BY customer_id, due_date, document_number",
                ITEM_TABLE.names, ITEM_TABLE.make)


#: Each customer's open items, earliest due first (``ALL_ITEMS``: the cleared ones too).
OPEN_ITEMS, ALL_ITEMS = _items(f" AND {OPEN_CONDITION}"), _items("")
#: Unapplied payments and credit memos on account, oldest first.
CREDITS = Part(f"SELECT {CREDIT_TABLE.select()} FROM customer_credits"
               " WHERE customer_id = ANY($1::uuid[]) ORDER BY customer_id, document_date,"
               " source_id", CREDIT_TABLE.names, CREDIT_TABLE.make)
#: Batched readers, for per-request loaders: one query for many keys.
credits_by_customer = CREDITS.fetch


async def open_items_by_customer(pool: Any, customer_ids: Sequence[UUID], *,
                                 include_closed: bool = False) -> dict[UUID, list[OpenItem]]:
    return await (ALL_ITEMS if include_closed else OPEN_ITEMS).fetch(pool, customer_ids)
