"""Collection-agency hand-over: the criteria, submitting a customer's items as a case,
recalling it, and the agency's reports (statuses and payments, from its file through the ERP
feed's importer)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID

from ledger_collect.commands.dunning_commands import setup
from ledger_collect.commands.receivable_commands import apply_payment
from ledger_collect.commands.values import AMOUNT, CODE, UNCHECKED, checked
from ledger_collect.domain.agency_case import (
    CLOSED,
    AgencyCase,
    AgencyCriteria,
    AgencyCriteriaError,
)
from ledger_collect.domain.base import ZERO, ValidationError
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice

if TYPE_CHECKING:
    from ledger_collect.commands import Batch


@checked(days_overdue=UNCHECKED, minimum_amount=AMOUNT)
def set_agency_criteria(batch: Batch, *, minimum_amount: Decimal, days_overdue: int,
                        actor: str, business_date: date) -> None:
    """Customers may be handed over with at least ``minimum_amount`` in items at least
    ``days_overdue`` days overdue."""
    criteria = AgencyCriteria.of(minimum_amount, days_overdue)
    setup(batch, actor=actor, business_date=business_date).set_agency_criteria(
        criteria.minimum_amount, criteria.days_overdue, actor=actor,
        business_date=business_date)


def criteria(batch: Batch, *, actor: str, business_date: date) -> AgencyCriteria:
    found = setup(batch, actor=actor, business_date=business_date).agency_criteria
    if found is None:
        raise AgencyCriteriaError("no criteria for a hand-over to an agency are set")
    return AgencyCriteria.of(found["minimum_amount"], found["days_overdue"])


@checked(agency=CODE)
def submit_to_agency(batch: Batch, customer_id: UUID, *, agency: str,
                     invoice_ids: Sequence[UUID], actor: str, business_date: date) -> UUID:
    """Hand the customer's items over to ``agency`` as one case. Each must be an open item of
    the customer, at least the criteria's days overdue, under no unconfirmed promise and with
    no agency yet; together they must reach the criteria's minimum amount."""
    customer = batch.get(Customer, customer_id, "customer")
    wanted = criteria(batch, actor=actor, business_date=business_date)
    if len(set(invoice_ids)) != len(invoice_ids):
        raise ValidationError("an item is named twice")
    batch.load(invoice_ids)
    invoices = [batch.get(Invoice, i, "invoice") for i in invoice_ids]
    for invoice in invoices:
        what = f"invoice {invoice.document_number}"
        if invoice.customer_id != customer.id:
            raise ValidationError(f"{what} is not an item of customer {customer.number}")
        invoice.check_open("it cannot go to an agency")
        if invoice.agency_case_id is not None:
            raise ValidationError(f"{what} is with a collection agency already (case "
                                  f"{invoice.agency_case_id})")
        if (business_date - invoice.due_date).days < wanted.days_overdue:
            raise AgencyCriteriaError(f"{what} is not {wanted.days_overdue} days overdue")
        if invoice.open_promise_id is not None:
            raise AgencyCriteriaError(f"{what} is under a promise to pay")
    if len({invoice.currency for invoice in invoices}) > 1:
        raise ValidationError("a case holds items of one currency: submit each apart")
    total = sum((invoice.open_amount for invoice in invoices), ZERO)
    if not wanted.meets(total):
        raise AgencyCriteriaError(f"the items amount to {total}, under the minimum of "
                                  f"{wanted.minimum_amount} for a hand-over")
    case = AgencyCase.submit(
        customer_id=customer.id, agency=agency, items=[
            {"invoice_id": i.id, "document_number": i.document_number, "currency": i.currency,
             "open_amount": i.open_amount, "due_date": i.due_date} for i in invoices],
        actor=actor, business_date=business_date)
    for invoice in invoices:
        invoice.hand_to_agency(case.id, actor=actor, business_date=business_date)
    return batch.add(case).id


def _case(batch: Batch, case_id: UUID) -> AgencyCase:
    return batch.get(AgencyCase, case_id, "agency case")


def _release(batch: Batch, case: AgencyCase, *, actor: str, business_date: date) -> None:
    batch.load(case.invoice_ids)
    for invoice_id in case.invoice_ids:
        batch.get(Invoice, invoice_id, "invoice").return_from_agency(
            case.id, actor=actor, business_date=business_date)


@checked(case_id=UNCHECKED)
def recall_from_agency(batch: Batch, case_id: UUID, *, reason: str, actor: str,
                       business_date: date) -> None:
    """Take the case back: its items are dunned again."""
    case = _case(batch, case_id)
    case.recall(reason, actor=actor, business_date=business_date)
    _release(batch, case, actor=actor, business_date=business_date)


@checked(case_id=UNCHECKED, status=CODE)
def report_agency_status(batch: Batch, *, source_id: str, case_id: UUID, status: str,
                         note: str | None = None, actor: str, business_date: date) -> bool:
    """The agency's status of a case (once per source id); ``closed`` releases its items."""
    case = _case(batch, case_id)
    if not case.report_status(source_id, status, note, actor=actor,
                              business_date=business_date):
        return False
    if status == CLOSED:
        _release(batch, case, actor=actor, business_date=business_date)
    return True


@checked(case_id=UNCHECKED)
def record_agency_payment(batch: Batch, *, source_id: str, case_id: UUID, customer_number: str,
                          invoice_number: str, amount: Decimal, currency: str,
                          payment_date: date, actor: str, business_date: date) -> bool:
    """Money the agency collected on an item of the case: recorded on the invoice as any
    payment (as of ``payment_date``) and counted on the case; once per source id."""
    case = _case(batch, case_id)
    invoice = batch.get(Invoice, Invoice.create_id(invoice_number), "invoice", invoice_number)
    if not case.check_payment(source_id, invoice.id):
        return False
    customer = batch.get(Customer, case.customer_id, "customer")
    if customer.number != customer_number:
        raise ValidationError(f"agency case {case.id} is of customer {customer.number}, not "
                              f"{customer_number}")
    apply_payment(batch, source_id=source_id, customer_number=customer_number,
                  allocations=[(invoice_number, amount)], unapplied=None, currency=currency,
                  payment_date=payment_date, actor=actor, business_date=business_date)
    case.count_payment(source_id, invoice.id, amount, actor=actor, business_date=payment_date)
    return True
