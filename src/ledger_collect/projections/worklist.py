"""Worklist (réserve de travail): per customer, the facts a collection strategy scores, and the
specialists' morning lists ranked from them.

Writer. The model keeps its own rows per customer, open invoice, dispute case and follow-up
(it never reads another model's tables: each model is rebuilt on its own). A page of events is
folded in memory over the rows it touches (one load per table), written back with one upsert
per table, and then the per-customer figures the ranking reads (open amounts by due date,
highest dunning level, open disputes, follow-ups) are recomputed in one statement for the
customers the page touched (``worklist_figures``; while the model is built from zero, once for
every customer after the last page).

Casework recorded on a customer on a business day — a contact, a promise made or withdrawn, a
dispute opened or annotated, a follow-up set, moved or completed, a note, an email — marks the
customer "processed" on that day, with who did it.

The day's rankings (``worklist_scores``) are kept in step here too: the customers a page
touched are rescored in every ranking kept, in the page's transaction. The follower's upkeep
ranks the business date (``worklist_snapshots``) when the day turns or the active strategies
change: readers never write.

Readers are in ``worklist_ranking`` (ranking, explanations, the amount to be collected).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain.contact import CustomerContact
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.promise import BROKEN, PARTIALLY_KEPT, PromiseToPay
from ledger_collect.domain.resubmission import Resubmission
from ledger_collect.projections import Projection, in_order, load, upsert
from ledger_collect.projections.rows import names
from ledger_collect.projections.worklist_figures import recompute
from ledger_collect.projections.worklist_ranking import rescore_sql
from ledger_collect.projections.worklist_snapshots import keep_current
from ledger_collect.worklist_strategy import Strategy, UnknownStrategyError
from ledger_collect.worklist_strategy_store import strategy_set

ZERO = Decimal("0.00")
#: Outcomes that count as a broken promise: the customer did not pay what they promised.
BROKEN_OUTCOMES = (BROKEN, PARTIALLY_KEPT)

CUSTOMER_COLUMNS = (
    ("id", "uuid"), ("number", "key"), ("name", "text"), ("segment", "key"),
    ("currency", "text"), ("risk_class", "text"), ("specialist", "key"),
    ("broken_promises", "date[]"))
ITEM_COLUMNS = (
    ("id", "uuid"), ("customer_id", "uuid"), ("document_number", "text"), ("currency", "text"),
    ("due_date", "date"), ("open_amount", "numeric"), ("dunning_level", "int"),
    ("last_dunned_on", "date"), ("promise_id", "uuid"), ("promised", "numeric"))
DISPUTE_COLUMNS = (
    ("id", "uuid"), ("customer_id", "uuid"), ("invoice_ids", "uuid[]"), ("currency", "text"),
    ("amount", "numeric"), ("active", "bool"))
FOLLOW_UP_COLUMNS = (
    ("id", "uuid"), ("customer_id", "uuid"), ("invoice_ids", "uuid[]"),
    ("follow_up_date", "date"), ("open", "bool"))

#: Casework that marks a customer processed on the event's business day.
PROCESSING = (
    CustomerContact.Recorded, PromiseToPay.Issued, PromiseToPay.Withdrawn, DisputeCase.Opened,
    DisputeCase.NoteAdded, Resubmission.Created, Resubmission.Moved, Resubmission.Completed,
    Customer.NoteAdded, CollectionEmail.Created)


class Worklist(Projection):
    name = "worklist"
    tables = ("worklist_customers", "worklist_items", "worklist_disputes",
              "worklist_follow_ups", "worklist_processed", "worklist_snapshots",
              "worklist_scores")
    #: The day's rankings: a cache, not part of what a rebuild must equal.
    caches = ("worklist_snapshots", "worklist_scores")
    handles = (
        Customer.Registered, Customer.MasterDataChanged, Customer.Assigned,
        Customer.Unassigned, Customer.NoteAdded,
        Invoice.Posted, Invoice.PaymentApplied, Invoice.CreditMemoApplied,
        Invoice.PaymentReversed, Invoice.Cleared, Invoice.WrittenOff,
        Invoice.DunningLevelRaised,
        PromiseToPay.Issued, PromiseToPay.PaymentCounted, PromiseToPay.PaymentUncounted,
        PromiseToPay.Withdrawn, PromiseToPay.Closed, PromiseToPay.Valued,
        DisputeCase.Opened, DisputeCase.ProgressRecorded, DisputeCase.SettledOnInvoice,
        DisputeCase.Resolved, DisputeCase.Closed, DisputeCase.NoteAdded,
        Resubmission.Created, Resubmission.Moved, Resubmission.Completed,
        CustomerContact.Recorded, CollectionEmail.Created)

    def __init__(self, today: Callable[[], date] = date.today) -> None:
        self.strategies: dict[tuple[str, int], Strategy] = {}  # versions never change
        self.today = today  # the business date, as the API's (the server's local date)

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        page = _Page(conn, events)
        for event in events:
            fold = _FOLD.get(type(event))
            if fold is not None:
                fold(page, event)
            if type(event) in _PROCESSING:
                page.processed_by(_customer_of(event), event)
        page.write(figures=not self.building)
        touched = in_order(page.affected | page.changed["customers"]
                         | {customer for customer, _ in page.processed})
        if touched:
            for snapshot, day, key in conn.execute(
                    _SNAPSHOTS).fetchall():
                for statement in rescore_sql(strategy_set(conn, key, self.strategies), day,
                                             snapshot, touched):
                    conn.execute(statement)


    def upkeep(self, conn: psycopg.Connection[Any]) -> None:
        """Rank the business date with the active strategies if that is not done yet (the day
        turned, a strategy was published), and drop the rankings nobody reads any more."""
        try:
            keep_current(conn, self.today(), known=self.strategies)
        except UnknownStrategyError:
            pass  # nothing to rank with: readers are told to publish a default strategy

    def built(self, conn: psycopg.Connection[Any]) -> None:
        """Every customer's figures, once, instead of after each page of a build (a customer's
        invoices, payments and casework are spread over the whole log)."""
        ids = [row[0] for row in conn.execute("SELECT id FROM worklist_customers ORDER BY id")]
        for start in range(0, len(ids), 5000):
            recompute(conn, ids[start:start + 5000])


#: The rankings kept in step, their days brought into the calendar Python reads: a ranking
#: stored for -infinity or infinity (as asyncpg writes the first and last day) is kept as of
#: 0001-01-01 or 9999-12-31.
_SNAPSHOTS = ("SELECT id, greatest(least(day, '9999-12-31'::date), '0001-01-01'::date),"
              " strategies FROM worklist_snapshots ORDER BY id")


def _customer_of(event: Any) -> UUID:
    return event.customer_id if hasattr(event, "customer_id") else event.originator_id


class _Page:
    """The rows one page of events touches, loaded in bulk and written back in bulk."""

    def __init__(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        self.conn = conn
        self.customers = load(conn, "worklist_customers", names(CUSTOMER_COLUMNS), {
            _customer_of(e) for e in events if type(e) in _CUSTOMER_EVENTS
            and type(e) is not Customer.Registered})
        self.items = load(conn, "worklist_items", names(ITEM_COLUMNS), {
            e.originator_id if type(e) in _INVOICE_EVENTS else e.invoice_id
            for e in events if type(e) in _INVOICE_EVENTS or type(e) in _PROMISE_EVENTS
            if type(e) is not Invoice.Posted})
        self.disputes = load(conn, "worklist_disputes", names(DISPUTE_COLUMNS), {
            e.originator_id for e in events
            if type(e) in _DISPUTE_EVENTS and type(e) is not DisputeCase.Opened})
        self.follow_ups = load(conn, "worklist_follow_ups", names(FOLLOW_UP_COLUMNS), {
            e.originator_id for e in events
            if type(e) in _FOLLOW_UP_EVENTS and type(e) is not Resubmission.Created})
        self.changed: dict[str, set[UUID]] = {
            "customers": set(), "items": set(), "disputes": set(), "follow_ups": set()}
        self.closed_items: set[UUID] = set()
        self.affected: set[UUID] = set()  # customers whose figures must be recomputed
        self.processed: dict[tuple[UUID, Any], tuple[set[str], int]] = {}

    def customer(self, customer_id: UUID) -> dict[str, Any] | None:
        row = self.customers.get(customer_id)
        if row is not None:
            self.changed["customers"].add(customer_id)
        return row

    def item(self, invoice_id: UUID) -> dict[str, Any] | None:
        row = self.items.get(invoice_id)
        if row is not None:
            self.changed["items"].add(invoice_id)
            self.affected.add(row["customer_id"])
        return row

    def dispute(self, dispute_id: UUID) -> dict[str, Any] | None:
        row = self.disputes.get(dispute_id)
        if row is not None:
            self.changed["disputes"].add(dispute_id)
            self.affected.add(row["customer_id"])
        return row

    def follow_up(self, follow_up_id: UUID) -> dict[str, Any] | None:
        row = self.follow_ups.get(follow_up_id)
        if row is not None:
            self.changed["follow_ups"].add(follow_up_id)
            self.affected.add(row["customer_id"])
        return row

    def processed_by(self, customer_id: UUID, event: Any) -> None:
        actors, count = self.processed.get((customer_id, event.business_date), (set(), 0))
        actors.add(event.actor)
        self.processed[(customer_id, event.business_date)] = (actors, count + 1)

    def write(self, *, figures: bool = True) -> None:
        changed = self.changed
        upsert(self.conn, "worklist_customers", CUSTOMER_COLUMNS,
               [_values(self.customers[i], CUSTOMER_COLUMNS)
                for i in in_order(changed["customers"])])
        upsert(self.conn, "worklist_items", ITEM_COLUMNS,
               [_values(self.items[i], ITEM_COLUMNS)
                for i in in_order(changed["items"] - self.closed_items)])
        if self.closed_items:
            self.conn.execute("DELETE FROM worklist_items WHERE id = ANY(%s)",
                              (in_order(self.closed_items),))
        upsert(self.conn, "worklist_disputes", DISPUTE_COLUMNS,
               [_values(self.disputes[i], DISPUTE_COLUMNS)
                for i in in_order(changed["disputes"])])
        upsert(self.conn, "worklist_follow_ups", FOLLOW_UP_COLUMNS,
               [_values(self.follow_ups[i], FOLLOW_UP_COLUMNS)
                for i in in_order(changed["follow_ups"])])
        if self.processed:
            keys = sorted(self.processed)
            self.conn.execute(_MARK_PROCESSED, (
                [k[0] for k in keys], [k[1] for k in keys],
                ["{" + ",".join(_quoted(a) for a in sorted(self.processed[k][0])) + "}"
                 for k in keys],
                [self.processed[k][1] for k in keys]))
        if self.affected and figures:
            recompute(self.conn, in_order(self.affected))


def _values(row: dict[str, Any], columns: Sequence[tuple[str, str]]) -> tuple[Any, ...]:
    return tuple(row[name] for name, _ in columns)


def _quoted(text: str) -> str:
    """An element of a text array literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_MARK_PROCESSED = """
INSERT INTO worklist_processed AS p (customer_id, day, actors, events)
SELECT u.customer_id, u.day, u.actors::text[], u.events
FROM unnest(%s::uuid[], %s::date[], %s::text[], %s::int[]) AS u(customer_id, day, actors, events)
ON CONFLICT (customer_id, day) DO UPDATE SET
    actors = ARRAY(SELECT DISTINCT a FROM unnest(p.actors || EXCLUDED.actors) AS a ORDER BY a),
    events = p.events + EXCLUDED.events
"""


# -- the fold: one function per event ------------------------------------------------------
def _registered(page: _Page, e: Any) -> None:
    page.customers[e.originator_id] = {
        "id": e.originator_id, "number": e.number, "name": e.name, "segment": e.segment,
        "currency": e.currency, "risk_class": e.risk_class, "specialist": None,
        "broken_promises": []}
    page.changed["customers"].add(e.originator_id)


def _master_data_changed(page: _Page, e: Any) -> None:
    row = page.customer(e.originator_id)
    if row is None:
        return
    for key in ("name", "segment", "currency", "risk_class"):
        if key in e.changes:
            row[key] = e.changes[key]
    if "currency" in e.changes:
        page.affected.add(e.originator_id)


def _assigned(specialist: bool) -> Any:
    def fold(page: _Page, e: Any) -> None:
        row = page.customer(e.originator_id)
        if row is not None:
            row["specialist"] = e.specialist if specialist else None
    return fold


def _posted(page: _Page, e: Any) -> None:
    page.items[e.originator_id] = {
        "id": e.originator_id, "customer_id": e.customer_id,
        "document_number": e.document_number, "currency": e.currency,
        "due_date": e.due_date, "open_amount": e.amount, "dunning_level": 0,
        "last_dunned_on": None, "promise_id": None, "promised": None}
    page.changed["items"].add(e.originator_id)
    page.affected.add(e.customer_id)


def _open_amount(sign: int) -> Any:
    def fold(page: _Page, e: Any) -> None:
        row = page.item(e.originator_id)
        if row is not None:
            row["open_amount"] += sign * e.amount
    return fold


def _closed(page: _Page, e: Any) -> None:
    if page.item(e.originator_id) is not None:
        page.closed_items.add(e.originator_id)


def _dunned(page: _Page, e: Any) -> None:
    row = page.item(e.originator_id)
    if row is not None:
        row["dunning_level"] = e.level
        row["last_dunned_on"] = e.business_date


def _promise_issued(page: _Page, e: Any) -> None:
    row = page.item(e.invoice_id)
    if row is not None:
        row["promise_id"] = e.originator_id
        row["promised"] = e.amount


def _promise_paid(sign: int) -> Any:
    """Money counted towards (sign -1) or taken back from (+1) the promise the item shows."""
    def fold(page: _Page, e: Any) -> None:
        row = page.items.get(e.invoice_id)
        if row is not None and row["promise_id"] == e.originator_id:
            page.item(e.invoice_id)["promised"] += sign * e.amount  # type: ignore[index]
    return fold


def _promise_ended(page: _Page, e: Any) -> None:
    """Withdrawn, closed or valued: the promise is confirmed, the invoice free again."""
    row = page.items.get(e.invoice_id)
    if row is not None and row["promise_id"] == e.originator_id:
        page.item(e.invoice_id).update(promise_id=None, promised=None)  # type: ignore[union-attr]
    if type(e) is PromiseToPay.Valued and e.status in BROKEN_OUTCOMES:
        customer = page.customer(e.customer_id)
        if customer is not None:
            customer["broken_promises"] = sorted([*customer["broken_promises"], e.as_of])


def _dispute_opened(page: _Page, e: Any) -> None:
    page.disputes[e.originator_id] = {
        "id": e.originator_id, "customer_id": e.customer_id, "invoice_ids": list(e.invoice_ids),
        "currency": e.currency, "amount": e.amount, "active": True}
    page.changed["disputes"].add(e.originator_id)
    page.affected.add(e.customer_id)


def _dispute_settled(active: bool) -> Any:
    def fold(page: _Page, e: Any) -> None:
        row = page.dispute(e.originator_id)
        if row is not None:
            row["amount"] -= e.credited + e.paid + e.written_off
            row["active"] = active
    return fold


def _dispute_closed(page: _Page, e: Any) -> None:
    row = page.dispute(e.originator_id)
    if row is not None:
        row["active"] = False


def _follow_up_created(page: _Page, e: Any) -> None:
    page.follow_ups[e.originator_id] = {
        "id": e.originator_id, "customer_id": e.customer_id, "invoice_ids": list(e.invoice_ids),
        "follow_up_date": e.follow_up_date, "open": True}
    page.changed["follow_ups"].add(e.originator_id)
    page.affected.add(e.customer_id)


def _follow_up_moved(page: _Page, e: Any) -> None:
    row = page.follow_up(e.originator_id)
    if row is not None:
        row["follow_up_date"] = e.follow_up_date


def _follow_up_completed(page: _Page, e: Any) -> None:
    row = page.follow_up(e.originator_id)
    if row is not None:
        row["open"] = False


_FOLD: dict[type, Any] = {
    Customer.Registered: _registered,
    Customer.MasterDataChanged: _master_data_changed,
    Customer.Assigned: _assigned(True),
    Customer.Unassigned: _assigned(False),
    Invoice.Posted: _posted,
    Invoice.PaymentApplied: _open_amount(-1),
    Invoice.CreditMemoApplied: _open_amount(-1),
    Invoice.PaymentReversed: _open_amount(+1),
    Invoice.Cleared: _closed,
    Invoice.WrittenOff: _closed,
    Invoice.DunningLevelRaised: _dunned,
    PromiseToPay.Issued: _promise_issued,
    PromiseToPay.PaymentCounted: _promise_paid(-1),
    PromiseToPay.PaymentUncounted: _promise_paid(+1),
    PromiseToPay.Withdrawn: _promise_ended,
    PromiseToPay.Closed: _promise_ended,
    PromiseToPay.Valued: _promise_ended,
    DisputeCase.Opened: _dispute_opened,
    DisputeCase.ProgressRecorded: _dispute_settled(True),
    DisputeCase.SettledOnInvoice: _dispute_settled(True),
    DisputeCase.Resolved: _dispute_settled(False),
    DisputeCase.Closed: _dispute_closed,
    Resubmission.Created: _follow_up_created,
    Resubmission.Moved: _follow_up_moved,
    Resubmission.Completed: _follow_up_completed,
}
_PROCESSING = frozenset(PROCESSING)
assert set(_FOLD) | _PROCESSING == set(Worklist.handles)
_CUSTOMER_EVENTS = frozenset(
    {Customer.Registered, Customer.MasterDataChanged, Customer.Assigned, Customer.Unassigned,
     PromiseToPay.Valued})
_INVOICE_EVENTS = frozenset(c for c in Worklist.handles if c.__qualname__.startswith("Invoice."))
_PROMISE_EVENTS = frozenset(
    c for c in _FOLD if c.__qualname__.startswith("PromiseToPay."))
_DISPUTE_EVENTS = frozenset(c for c in _FOLD if c.__qualname__.startswith("DisputeCase."))
_FOLLOW_UP_EVENTS = frozenset(c for c in _FOLD if c.__qualname__.startswith("Resubmission."))
