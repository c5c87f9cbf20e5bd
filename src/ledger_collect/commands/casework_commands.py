"""A specialist's casework: disputes, follow-ups (resubmissions), customer contacts and
activities. Collection emails have their own module (``email_commands``); their commands are
named here too, where the casework's callers have always found them.

Each command function takes the batch, the command's arguments, the actor and the business date;
it loads what it needs and lets the aggregates decide every rule before anything is recorded, so
a refused command leaves the batch untouched (``Collections.run`` runs them). Creating commands
return the new record's id (uuid4).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID

from ledger_collect.commands.email_commands import (  # noqa: F401 - named here too
    correct_and_resend_email,
    create_email,
    mark_email_failed,
    mark_email_partly_sent,
    mark_email_sent,
)
from ledger_collect.commands.values import UNCHECKED, checked
from ledger_collect.domain.activity import Activity
from ledger_collect.domain.base import ZERO, CollectionsAggregate, NotFoundError
from ledger_collect.domain.contact import CustomerContact
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dispute import DisputeCase, WrongCustomerError
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.resubmission import Resubmission

if TYPE_CHECKING:
    from ledger_collect.commands import Batch

#: What a contact links to, by the pinned topic of each kind's aggregate (the promise aggregate
#: is its own module's business; its pinned topic is the contract).
LINKABLE_TOPICS = {"promise": "ledger_collect.PromiseToPay",
                   "dispute": DisputeCase.TOPIC,
                   "resubmission": Resubmission.TOPIC}


def _customer(batch: Batch, customer_id: UUID) -> Customer:
    return batch.get(Customer, customer_id, "customer")


def _invoices(batch: Batch, invoice_ids: Iterable[UUID]) -> list[Invoice]:
    return [batch.get(Invoice, invoice_id, "invoice") for invoice_id in invoice_ids]


# -- disputes ----------------------------------------------------------------------------------
@checked
def open_dispute(batch: Batch, customer_id: UUID, invoice_ids: Sequence[UUID], *,
                 amount: Decimal | str, reason: str, processor: str, note: str | None = None,
                 actor: str, business_date: date) -> UUID:
    """Open a dispute over open invoices of one customer, and link it to each invoice in the
    same save (so the invoices show it, and a concurrent change to them collides)."""
    _customer(batch, customer_id)
    invoices = _invoices(batch, invoice_ids)
    dispute = DisputeCase.open(customer_id=customer_id, invoices=invoices, amount=amount,
                               reason=reason, processor=processor, note=note, actor=actor,
                               business_date=business_date)
    for invoice in invoices:
        invoice.link_dispute(dispute.id, actor=actor, business_date=business_date)
    return batch.add(dispute).id


def _dispute(batch: Batch, dispute_id: UUID) -> DisputeCase:
    return batch.get(DisputeCase, dispute_id, "dispute")


#: What a fact recorded on an invoice settles of a dispute over it.
_SETTLES = {Invoice.PaymentApplied: "paid", Invoice.CreditMemoApplied: "credited",
            Invoice.Cleared: "paid", Invoice.WrittenOff: "written_off"}


def disputes_follow_invoice(batch: Batch, invoice: Invoice, change: object, *,
                            actor: str) -> None:
    """Let the open disputes over the invoice follow the fact just recorded on it (``change``,
    one of its events): each records what the money settled of it, as of the fact's business
    date (see ``DisputeCase.follow_invoice``). Most invoices have no dispute: nothing is loaded
    for them."""
    kind = _SETTLES.get(type(change))
    if kind is None or not invoice.dispute_ids:
        return
    for dispute_id in sorted(invoice.dispute_ids):
        dispute = _dispute(batch, dispute_id)
        if dispute.is_active:
            open_total = sum((batch.get(Invoice, i, "invoice").open_amount
                              for i in dispute.invoice_ids), ZERO)
            dispute.follow_invoice(invoice.id, change.source_id,  # type: ignore[attr-defined]
                                   kind, open_total, actor=actor,
                                   business_date=change.business_date)  # type: ignore[attr-defined]


@checked
def start_dispute_processing(batch: Batch, dispute_id: UUID, *, actor: str,
                             business_date: date) -> None:
    _dispute(batch, dispute_id).start_processing(actor=actor, business_date=business_date)


@checked
def change_dispute_processor(batch: Batch, dispute_id: UUID, processor: str, *, actor: str,
                             business_date: date) -> None:
    _dispute(batch, dispute_id).change_processor(processor, actor=actor,
                                                 business_date=business_date)


@checked
def record_dispute_progress(batch: Batch, dispute_id: UUID, *, credited: Decimal | str = ZERO,
                            paid: Decimal | str = ZERO, written_off: Decimal | str = ZERO,
                            actor: str, business_date: date) -> Decimal:
    """Part of the disputed amount was settled; returns what is still disputed."""
    dispute = _dispute(batch, dispute_id)
    dispute.record_progress(credited=credited, paid=paid, written_off=written_off, actor=actor,
                            business_date=business_date)
    return dispute.still_disputed


@checked
def resolve_dispute(batch: Batch, dispute_id: UUID, resolution: str, *,
                    credited: Decimal | str = ZERO, paid: Decimal | str = ZERO,
                    written_off: Decimal | str = ZERO, actor: str,
                    business_date: date) -> Decimal:
    """Resolve an in-process dispute; returns what is still disputed."""
    dispute = _dispute(batch, dispute_id)
    dispute.resolve(resolution, credited=credited, paid=paid, written_off=written_off,
                    actor=actor, business_date=business_date)
    return dispute.still_disputed


@checked
def add_dispute_note(batch: Batch, dispute_id: UUID, text: str, *, actor: str,
                     business_date: date) -> str:
    return _dispute(batch, dispute_id).add_note(text, actor=actor, business_date=business_date)


@checked
def close_dispute(batch: Batch, dispute_id: UUID, *, actor: str, business_date: date) -> None:
    _dispute(batch, dispute_id).close(actor=actor, business_date=business_date)


# -- resubmissions (follow-ups) ----------------------------------------------------------------
@checked
def create_resubmission(batch: Batch, customer_id: UUID, *, follow_up_date: date, reason: str,
                        invoice_ids: Sequence[UUID] = (), actor: str,
                        business_date: date) -> UUID:
    """A follow-up for the customer, or (with invoice ids) for those invoices of it."""
    _customer(batch, customer_id)
    resubmission = Resubmission.create(
        customer_id=customer_id, invoices=_invoices(batch, invoice_ids),
        follow_up_date=follow_up_date, reason=reason, actor=actor, business_date=business_date)
    return batch.add(resubmission).id


def _resubmission(batch: Batch, resubmission_id: UUID) -> Resubmission:
    return batch.get(Resubmission, resubmission_id, "follow-up")


@checked
def move_resubmission(batch: Batch, resubmission_id: UUID, follow_up_date: date, *,
                      reason: str, actor: str, business_date: date) -> None:
    _resubmission(batch, resubmission_id).move(follow_up_date, reason=reason, actor=actor,
                                               business_date=business_date)


@checked
def complete_resubmission(batch: Batch, resubmission_id: UUID, *, actor: str,
                          business_date: date) -> None:
    _resubmission(batch, resubmission_id).complete(actor=actor, business_date=business_date)


# -- customer contacts -------------------------------------------------------------------------
@checked
def record_contact(batch: Batch, customer_id: UUID, *, channel: str, result: str,
                   contact_person_id: str | None = None, summary: str | None = None,
                   notes: str | None = None, contact_date: date | None = None,
                   specialist: str | None = None, actor: str, business_date: date) -> UUID:
    """Record one conversation. The specialist defaults to the actor, the date to the
    business date; the person reached must be one of the customer's collection contacts."""
    contact = CustomerContact.record(
        customer=_customer(batch, customer_id), contact_person_id=contact_person_id,
        channel=channel, result=result, specialist=specialist or actor, summary=summary,
        notes=notes, contact_date=contact_date or business_date, actor=actor,
        business_date=business_date)
    return batch.add(contact).id


def _contact(batch: Batch, contact_id: UUID) -> CustomerContact:
    return batch.get(CustomerContact, contact_id, "customer contact")


@checked(contact_id=UNCHECKED)
def link_to_contact(batch: Batch, contact_id: UUID, *, promise_ids: Iterable[UUID] = (),
                    dispute_ids: Iterable[UUID] = (), resubmission_ids: Iterable[UUID] = (),
                    actor: str, business_date: date) -> int:
    """Link the promises, disputes and follow-ups that came out of a conversation. Each must
    exist, be of that kind and concern the contact's customer. Returns how many links are new."""
    contact = _contact(batch, contact_id)
    wanted = {"promise": list(promise_ids), "dispute": list(dispute_ids),
              "resubmission": list(resubmission_ids)}
    for kind, ids in wanted.items():
        for object_id in ids:
            found = batch.find(CollectionsAggregate, object_id)
            if found is None or getattr(type(found), "TOPIC", None) != LINKABLE_TOPICS[kind]:
                raise NotFoundError(f"{kind} {object_id} does not exist")
            if getattr(found, "customer_id", None) != contact.customer_id:
                raise WrongCustomerError(
                    f"{kind} {object_id} concerns another customer than this conversation")
    return contact.link(promise_ids=wanted["promise"], dispute_ids=wanted["dispute"],
                        resubmission_ids=wanted["resubmission"], actor=actor,
                        business_date=business_date)


# -- activities --------------------------------------------------------------------------------
@checked
def create_activity(batch: Batch, customer_id: UUID, *, specialist: str, due_date: date,
                    description: str, actor: str, business_date: date) -> UUID:
    _customer(batch, customer_id)
    activity = Activity.create(customer_id=customer_id, specialist=specialist,
                               due_date=due_date, description=description, actor=actor,
                               business_date=business_date)
    return batch.add(activity).id


def _activity(batch: Batch, activity_id: UUID) -> Activity:
    return batch.get(Activity, activity_id, "activity")


@checked
def reschedule_activity(batch: Batch, activity_id: UUID, due_date: date, *, actor: str,
                        business_date: date) -> None:
    _activity(batch, activity_id).reschedule(due_date, actor=actor, business_date=business_date)


@checked
def close_activity(batch: Batch, activity_id: UUID, *, note: str | None = None, actor: str,
                   business_date: date) -> None:
    _activity(batch, activity_id).close(note=note, actor=actor, business_date=business_date)
