"""How each event changes the worklist's rows: one function per event, folded in memory over
the rows a page touches (``model_writer.PageRows``), and which casework marks a customer
processed on the event's business day.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger_collect.domain.contact import CustomerContact
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.promise import BROKEN, PARTIALLY_KEPT, PromiseToPay
from ledger_collect.domain.resubmission import Resubmission

if TYPE_CHECKING:
    from ledger_collect.projections.worklist.model_writer import PageRows

#: Outcomes that count as a broken promise: the customer did not pay what they promised.
BROKEN_OUTCOMES = (BROKEN, PARTIALLY_KEPT)

#: Casework that marks a customer processed on the event's business day.
PROCESSING = frozenset({
    CustomerContact.Recorded, PromiseToPay.Issued, PromiseToPay.Withdrawn, DisputeCase.Opened,
    DisputeCase.NoteAdded, Resubmission.Created, Resubmission.Moved, Resubmission.Completed,
    Customer.NoteAdded, CollectionEmail.Created})


def customer_of(event: Any) -> UUID:
    return event.customer_id if hasattr(event, "customer_id") else event.originator_id


def _registered(page: PageRows, e: Any) -> None:
    page.created("customers", {
        "id": e.originator_id, "number": e.number, "name": e.name, "segment": e.segment,
        "currency": e.currency, "risk_class": e.risk_class, "specialist": None,
        "broken_promises": []})


def _master_data_changed(page: PageRows, e: Any) -> None:
    row = page.customer(e.originator_id)
    if row is None:
        return
    for key in ("name", "segment", "currency", "risk_class"):
        if key in e.changes:
            row[key] = e.changes[key]
    if "currency" in e.changes:
        page.affected.add(e.originator_id)


def _assigned(specialist: bool) -> Any:
    def fold(page: PageRows, e: Any) -> None:
        row = page.customer(e.originator_id)
        if row is not None:
            row["specialist"] = e.specialist if specialist else None
    return fold


def _posted(page: PageRows, e: Any) -> None:
    page.created("items", {
        "id": e.originator_id, "customer_id": e.customer_id,
        "document_number": e.document_number, "currency": e.currency,
        "due_date": e.due_date, "open_amount": e.amount, "dunning_level": 0,
        "last_dunned_on": None, "promise_id": None, "promised": None})


def _open_amount(sign: int) -> Any:
    def fold(page: PageRows, e: Any) -> None:
        row = page.item(e.originator_id)
        if row is not None:
            row["open_amount"] += sign * e.amount
    return fold


def _closed(page: PageRows, e: Any) -> None:
    if page.item(e.originator_id) is not None:
        page.closed_items.add(e.originator_id)


def _dunned(page: PageRows, e: Any) -> None:
    row = page.item(e.originator_id)
    if row is not None:
        row["dunning_level"] = e.level
        row["last_dunned_on"] = e.business_date


def _promise_issued(page: PageRows, e: Any) -> None:
    row = page.item(e.invoice_id)
    if row is not None:
        row["promise_id"] = e.originator_id
        row["promised"] = e.amount


def _promise_paid(sign: int) -> Any:
    """Money counted towards (sign -1) or taken back from (+1) the promise the item shows."""
    def fold(page: PageRows, e: Any) -> None:
        row = page.items.get(e.invoice_id)
        if row is not None and row["promise_id"] == e.originator_id:
            page.item(e.invoice_id)["promised"] += sign * e.amount  # type: ignore[index]
    return fold


def _promise_ended(page: PageRows, e: Any) -> None:
    """Withdrawn, closed or valued: the promise is confirmed, the invoice free again."""
    row = page.items.get(e.invoice_id)
    if row is not None and row["promise_id"] == e.originator_id:
        page.item(e.invoice_id).update(promise_id=None, promised=None)  # type: ignore[union-attr]
    if type(e) is PromiseToPay.Valued and e.status in BROKEN_OUTCOMES:
        customer = page.customer(e.customer_id)
        if customer is not None:
            customer["broken_promises"] = sorted([*customer["broken_promises"], e.as_of])


def _dispute_opened(page: PageRows, e: Any) -> None:
    page.created("disputes", {
        "id": e.originator_id, "customer_id": e.customer_id, "invoice_ids": list(e.invoice_ids),
        "currency": e.currency, "amount": e.amount, "active": True})


def _dispute_settled(active: bool) -> Any:
    def fold(page: PageRows, e: Any) -> None:
        row = page.dispute(e.originator_id)
        if row is not None:
            row["amount"] -= e.credited + e.paid + e.written_off
            row["active"] = active
    return fold


def _dispute_closed(page: PageRows, e: Any) -> None:
    row = page.dispute(e.originator_id)
    if row is not None:
        row["active"] = False


def _follow_up_created(page: PageRows, e: Any) -> None:
    page.created("follow_ups", {
        "id": e.originator_id, "customer_id": e.customer_id, "invoice_ids": list(e.invoice_ids),
        "follow_up_date": e.follow_up_date, "open": True})


def _follow_up_moved(page: PageRows, e: Any) -> None:
    row = page.follow_up(e.originator_id)
    if row is not None:
        row["follow_up_date"] = e.follow_up_date


def _follow_up_completed(page: PageRows, e: Any) -> None:
    row = page.follow_up(e.originator_id)
    if row is not None:
        row["open"] = False


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


def of_aggregate(aggregate: type) -> frozenset[type]:
    """The events of ``aggregate`` the fold handles."""
    return frozenset(c for c in FOLD if c.__qualname__.startswith(f"{aggregate.__name__}."))
