"""How each event changes the worklist's rows: one function per event, folded in memory over
the rows a page touches (``WorklistPage``: the general page writer's rows of each table), and
which casework marks a customer processed on the event's business day.

An item shows its promise while the promise is unconfirmed and a dispute counts while it is
active: both by the aggregate's own status rule (``promise.status_after``,
``dispute.status_after``), of which the worklist keeps only that much.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain import dispute, promise
from ledger_collect.domain.activity import Activity
from ledger_collect.domain.contact import CustomerContact
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.promise import BROKEN, PARTIALLY_KEPT, PromiseToPay
from ledger_collect.domain.resubmission import Resubmission
from ledger_collect.projections.rows import PageRows
from ledger_collect.projections.worklist.model_tables import (
    ACTIVITY_TABLE,
    CUSTOMER_TABLE,
    DISPUTE_TABLE,
    FOLLOW_UP_TABLE,
    ITEM_TABLE,
)

#: Outcomes that count as a broken promise: the customer did not pay what they promised.
BROKEN_OUTCOMES = (BROKEN, PARTIALLY_KEPT)

#: Casework that marks a customer processed on the event's business day.
PROCESSING = frozenset({
    CustomerContact.Recorded, PromiseToPay.Issued, PromiseToPay.Withdrawn, DisputeCase.Opened,
    DisputeCase.NoteAdded, Resubmission.Created, Resubmission.Moved, Resubmission.Completed,
    Customer.NoteAdded, CollectionEmail.Created})


def customer_of(event: Any) -> UUID:
    return event.customer_id if hasattr(event, "customer_id") else event.originator_id


def promise_unconfirmed_after(event: Any) -> bool:
    """Whether a promise still waits for its money once ``event`` is applied. What counts
    towards it only tells open from in process, both unconfirmed: the rule is asked with
    nothing counted."""
    return promise.status_after(event, promise.ZERO) in promise.UNCONFIRMED


def dispute_active_after(event: Any, active: bool) -> bool:
    """Whether a case still follows the money once ``event`` is applied (``active``: before
    it). Which of the active (or of the other) statuses it had does not change the answer."""
    before = dispute.OPEN if active else dispute.CLOSED
    return dispute.status_after(event, before) in dispute.ACTIVE


class WorklistPage(PageRows):
    """The worklist's rows one page of events touches (a ``rows.Rows`` a table), and what else
    the page records: the customers whose currency changed (their figures count other items)
    and the casework that marks customers processed, by customer and day."""

    def __init__(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        super().__init__(conn, (CUSTOMER_TABLE, ITEM_TABLE, DISPUTE_TABLE, FOLLOW_UP_TABLE,
                                ACTIVITY_TABLE))
        self.customers, self.items = self[CUSTOMER_TABLE], self[ITEM_TABLE]
        self.disputes, self.follow_ups = self[DISPUTE_TABLE], self[FOLLOW_UP_TABLE]
        self.activities = self[ACTIVITY_TABLE]
        self.recounted: set[UUID] = set()
        self.processed: dict[tuple[UUID, date], tuple[set[str], int]] = {}
        #: By stream and day: its customer, the casework's actors and events, broken promises.
        self.marks: dict[tuple[UUID, date], tuple[UUID, set[str], int, int]] = {}
        self.customers.load(customer_of(e) for e in events if type(e) in _CUSTOMER_EVENTS)
        self.items.load(e.originator_id if type(e) in _INVOICE_EVENTS else e.invoice_id
                        for e in events if type(e) in _ITEM_EVENTS)
        self.disputes.load(e.originator_id for e in events if type(e) in _DISPUTE_EVENTS)
        self.follow_ups.load(e.originator_id for e in events if type(e) in _FOLLOW_UP_EVENTS)
        self.activities.load(e.originator_id for e in events if type(e) in _ACTIVITY_EVENTS)

    def processed_by(self, customer_id: UUID, event: Any) -> None:
        actors, count = self.processed.get((customer_id, event.business_date), (set(), 0))
        actors.add(event.actor)
        self.processed[(customer_id, event.business_date)] = (actors, count + 1)
        self._mark(event.originator_id, event.business_date, customer_id, event.actor, 1, 0)

    def broken(self, customer_id: UUID, event: Any) -> None:
        self._mark(event.originator_id, event.as_of, customer_id, None, 0, 1)

    def _mark(self, stream_id: UUID, day: date, customer_id: UUID, actor: str | None,
              events: int, broken: int) -> None:
        _, actors, counted, broke = self.marks.get((stream_id, day), (customer_id, set(), 0, 0))
        if actor is not None:
            actors.add(actor)
        self.marks[(stream_id, day)] = (customer_id, actors, counted + events, broke + broken)

    def affected(self) -> set[UUID]:
        """The customers whose figures must be recomputed: those of the items, disputes,
        follow-ups and activities the page created, changed or removed, and those whose
        currency changed."""
        found = set(self.recounted)
        for rows in (self.items, self.disputes, self.follow_ups, self.activities):
            found.update([rows.rows[key]["customer_id"] for key in rows.changed])
        found.update([row["customer_id"] for row in self.items.removed.values()])
        return found


def _registered(page: WorklistPage, e: Any) -> None:
    page.customers.add({
        "id": e.originator_id, "number": e.number, "name": e.name, "segment": e.segment,
        "currency": e.currency, "risk_class": e.risk_class, "specialist": None,
        "broken_promises": []})


def _master_data_changed(page: WorklistPage, e: Any) -> None:
    row = page.customers.get(e.originator_id)
    if row is None:
        return
    for key in ("name", "segment", "currency", "risk_class"):
        if key in e.changes:
            row[key] = e.changes[key]
    if "currency" in e.changes:
        page.recounted.add(e.originator_id)


def _assigned(specialist: bool) -> Any:
    def fold(page: WorklistPage, e: Any) -> None:
        row = page.customers.get(e.originator_id)
        if row is not None:
            row["specialist"] = e.specialist if specialist else None
    return fold


def _posted(page: WorklistPage, e: Any) -> None:
    page.items.add({
        "id": e.originator_id, "customer_id": e.customer_id,
        "document_number": e.document_number, "currency": e.currency,
        "due_date": e.due_date, "open_amount": e.amount, "dunning_level": 0,
        "last_dunned_on": None, "promise_id": None, "promised": None})


def _open_amount(sign: int) -> Any:
    def fold(page: WorklistPage, e: Any) -> None:
        row = page.items.get(e.originator_id)
        if row is not None:
            row["open_amount"] += sign * e.amount
    return fold


def _closed(page: WorklistPage, e: Any) -> None:
    page.items.remove(e.originator_id)


def _dunned(page: WorklistPage, e: Any) -> None:
    row = page.items.get(e.originator_id)
    if row is not None:
        row["dunning_level"] = e.level
        row["last_dunned_on"] = e.business_date


def _promise_issued(page: WorklistPage, e: Any) -> None:
    row = page.items.get(e.invoice_id)
    if row is not None:
        row["promise_id"] = e.originator_id
        row["promised"] = e.amount


def _promise_followed(sign: int) -> Any:
    """A later event of the promise its item shows: what is still to be paid moves by the
    money counted (``sign`` -1) or taken back (+1); once the promise is confirmed (kept,
    broken, withdrawn, closed), the item shows it no more: the invoice is free again."""
    def fold(page: WorklistPage, e: Any) -> None:
        row = page.items.rows.get(e.invoice_id)
        if row is None or row["promise_id"] != e.originator_id:
            return
        page.items.changed.add(e.invoice_id)
        if sign:
            row["promised"] += sign * e.amount
        if not promise_unconfirmed_after(e):
            row.update(promise_id=None, promised=None)
    return fold


_promise_ended = _promise_followed(0)


def _promise_valued(page: WorklistPage, e: Any) -> None:
    _promise_ended(page, e)
    if e.status in BROKEN_OUTCOMES:
        customer = page.customers.get(e.customer_id)
        if customer is not None:
            customer["broken_promises"] = sorted([*customer["broken_promises"], e.as_of])
            page.broken(e.customer_id, e)


def _dispute_opened(page: WorklistPage, e: Any) -> None:
    page.disputes.add({
        "id": e.originator_id, "customer_id": e.customer_id, "invoice_ids": list(e.invoice_ids),
        "currency": e.currency, "amount": e.amount, "active": True})


def _dispute_followed(settles: bool) -> Any:
    """A later event of a case: the money it settles (``settles``) is disputed no more, and
    the case counts while its status is active."""
    def fold(page: WorklistPage, e: Any) -> None:
        row = page.disputes.get(e.originator_id)
        if row is not None:
            if settles:
                row["amount"] -= e.credited + e.paid + e.written_off
            row["active"] = dispute_active_after(e, row["active"])
    return fold


def _follow_up_created(page: WorklistPage, e: Any) -> None:
    page.follow_ups.add({
        "id": e.originator_id, "customer_id": e.customer_id, "invoice_ids": list(e.invoice_ids),
        "follow_up_date": e.follow_up_date, "open": True})


def _follow_up_moved(page: WorklistPage, e: Any) -> None:
    row = page.follow_ups.get(e.originator_id)
    if row is not None:
        row["follow_up_date"] = e.follow_up_date


def _follow_up_completed(page: WorklistPage, e: Any) -> None:
    row = page.follow_ups.get(e.originator_id)
    if row is not None:
        row["open"] = False


def _activity_created(page: WorklistPage, e: Any) -> None:
    page.activities.add({"id": e.originator_id, "customer_id": e.customer_id,
                         "due_date": e.due_date, "open": True})


def _activity_changed(**change: Any) -> Any:
    def fold(page: WorklistPage, e: Any) -> None:
        row = page.activities.get(e.originator_id)
        if row is not None:
            row.update({key: getattr(e, value) if isinstance(value, str) else value
                        for key, value in change.items()})
    return fold


FOLD: dict[type, Any] = {
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
    PromiseToPay.PaymentCounted: _promise_followed(-1),
    PromiseToPay.PaymentUncounted: _promise_followed(+1),
    PromiseToPay.Withdrawn: _promise_ended,
    PromiseToPay.Closed: _promise_ended,
    PromiseToPay.Valued: _promise_valued,
    DisputeCase.Opened: _dispute_opened,
    DisputeCase.ProgressRecorded: _dispute_followed(settles=True),
    DisputeCase.SettledOnInvoice: _dispute_followed(settles=True),
    DisputeCase.Resolved: _dispute_followed(settles=True),
    DisputeCase.Closed: _dispute_followed(settles=False),
    Resubmission.Created: _follow_up_created,
    Resubmission.Moved: _follow_up_moved,
    Resubmission.Completed: _follow_up_completed,
    Activity.Created: _activity_created,
    Activity.Rescheduled: _activity_changed(due_date="due_date"),
    Activity.Closed: _activity_changed(open=False),
}


def of_aggregate(aggregate: type) -> frozenset[type]:
    """The events of ``aggregate`` the fold handles."""
    return frozenset(c for c in FOLD if c.__qualname__.startswith(f"{aggregate.__name__}."))


#: Which rows of each table a page's events touch (rows an event creates are not loaded).
_CUSTOMER_EVENTS = frozenset(
    {Customer.MasterDataChanged, Customer.Assigned, Customer.Unassigned, PromiseToPay.Valued})
_INVOICE_EVENTS = of_aggregate(Invoice) - {Invoice.Posted}
_ITEM_EVENTS = _INVOICE_EVENTS | of_aggregate(PromiseToPay)
_DISPUTE_EVENTS = of_aggregate(DisputeCase) - {DisputeCase.Opened}
_FOLLOW_UP_EVENTS = of_aggregate(Resubmission) - {Resubmission.Created}
_ACTIVITY_EVENTS = of_aggregate(Activity) - {Activity.Created}
