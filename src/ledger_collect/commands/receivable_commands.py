"""Customers and their open items: the facts the ERP feeds and the specialist's master-data work."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID

from ledger_collect.commands.casework_commands import disputes_follow_invoice
from ledger_collect.commands.promise_commands import after_invoice_change
from ledger_collect.commands.values import checked
from ledger_collect.domain.base import (
    CurrencyMismatchError,
    DomainError,
    ValidationError,
    currency_code,
)
from ledger_collect.domain.credit import CREDIT_MEMO, UNAPPLIED_PAYMENT, CustomerCredit
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice, same_posting

if TYPE_CHECKING:
    from ledger_collect.commands import Batch


@checked
def register_customer(batch: Batch, *, number: str, name: str, segment: str,
                      credit_limit: Decimal, currency: str, risk_class: str,
                      head_office_number: str | None = None, source_id: str, actor: str,
                      business_date: date) -> UUID:
    """Register a customer from the ERP, or bring its master data up to date (idempotent)."""
    currency = currency_code(currency)
    head_office_id = None
    if head_office_number:
        head_office = batch.get(Customer, Customer.create_id(head_office_number),
                                "head office customer",
                                head_office_number)
        head_office_id = head_office.id
    existing = batch.find(Customer, Customer.create_id(number))
    if existing is not None:
        existing.update_master_data(source_id=source_id, actor=actor, business_date=business_date,
                                    name=name, segment=segment, credit_limit=credit_limit,
                                    currency=currency, risk_class=risk_class,
                                    head_office_id=head_office_id)
        return existing.id
    customer = Customer.register(number=number, name=name, segment=segment,
                                 credit_limit=credit_limit, currency=currency,
                                 risk_class=risk_class, head_office_id=head_office_id,
                                 source_id=source_id, actor=actor, business_date=business_date)
    return batch.add(customer).id


@checked
def assign_customer(batch: Batch, customer_id: UUID, specialist: str, *, actor: str,
                    business_date: date) -> None:
    batch.get(Customer, customer_id, "customer").assign(specialist, actor=actor,
                                                        business_date=business_date)


@checked
def assign_customers(batch: Batch, assignments: Mapping[UUID, str], *, actor: str,
                     business_date: date) -> None:
    """Share customers out to specialists at once (customer id -> specialist): the customers
    are loaded together and the assignments saved in one transaction."""
    batch.load(assignments)
    for customer_id, specialist in assignments.items():
        assign_customer(batch, customer_id, specialist, actor=actor, business_date=business_date)


@checked
def unassign_customer(batch: Batch, customer_id: UUID, *, actor: str,
                      business_date: date) -> None:
    batch.get(Customer, customer_id, "customer").unassign(actor=actor, business_date=business_date)


@checked
def add_contact(batch: Batch, customer_id: UUID, contact_id: str, *, name: str,
                email: str | None = None, phone: str | None = None, role: str | None = None,
                actor: str, business_date: date) -> None:
    batch.get(Customer, customer_id, "customer").add_contact(
        contact_id, name=name, email=email, phone=phone, role=role, actor=actor,
        business_date=business_date)


@checked
def change_contact(batch: Batch, customer_id: UUID, contact_id: str, *, name: str,
                   email: str | None = None, phone: str | None = None, role: str | None = None,
                   actor: str, business_date: date) -> None:
    batch.get(Customer, customer_id, "customer").change_contact(
        contact_id, name=name, email=email, phone=phone, role=role, actor=actor,
        business_date=business_date)


@checked
def remove_contact(batch: Batch, customer_id: UUID, contact_id: str, *, actor: str,
                   business_date: date) -> None:
    batch.get(Customer, customer_id, "customer").remove_contact(
        contact_id, actor=actor, business_date=business_date)


@checked
def set_default_contact(batch: Batch, customer_id: UUID, contact_id: str, *, actor: str,
                        business_date: date) -> None:
    batch.get(Customer, customer_id, "customer").set_default_contact(
        contact_id, actor=actor, business_date=business_date)


@checked
def add_customer_note(batch: Batch, customer_id: UUID, note_id: str, text: str, *, actor: str,
                      business_date: date) -> None:
    batch.get(Customer, customer_id, "customer").add_note(note_id, text, actor=actor,
                                                          business_date=business_date)


@checked
def post_invoice(batch: Batch, *, customer_number: str, document_number: str, amount: Decimal,
                 currency: str, posting_date: date, due_date: date, source_id: str, actor: str,
                 business_date: date) -> UUID:
    """Post an ERP invoice; posting the same document again is a no-op, a different one with
    the same number is refused."""
    currency = currency_code(currency)
    customer = batch.get(Customer, Customer.create_id(customer_number),
                         "customer", customer_number)
    existing = batch.find(Invoice, Invoice.create_id(document_number))
    if existing is not None:
        if not same_posting(existing, customer_id=customer.id, amount=amount, currency=currency,
                            posting_date=posting_date, due_date=due_date):
            raise ValidationError(
                f"invoice {document_number} was already posted with other data (amount "
                f"{existing.amount} {existing.currency}, due {existing.due_date})"
            )
        return existing.id
    invoice = Invoice.post(customer_id=customer.id, document_number=document_number,
                           amount=amount, currency=currency, posting_date=posting_date,
                           due_date=due_date, source_id=source_id, actor=actor,
                           business_date=business_date)
    return batch.add(invoice).id


def _invoice(batch: Batch, document_number: str) -> Invoice:
    return batch.get(Invoice, Invoice.create_id(document_number), "invoice", document_number)


def _follow(batch: Batch, invoice: Invoice, *, actor: str, business_date: date) -> None:
    """What hangs on the invoice follows the fact just recorded on it: its open disputes
    (what the money settled of them), then its promise (the money counted, or the promise
    closed or valued)."""
    disputes_follow_invoice(batch, invoice, invoice.pending_events[-1], actor=actor)
    after_invoice_change(batch, invoice, actor=actor, business_date=business_date)


def _new_credit(batch: Batch, *, kind: str, source_id: str, customer_number: str,
                amount: Decimal, currency: str, document_date: date, actor: str,
                business_date: date) -> CustomerCredit | None:
    """The credit on account to add, fully checked but not yet in the batch; None when the
    ERP sent it before (idempotent)."""
    customer = batch.get(Customer, Customer.create_id(customer_number), "customer",
                         customer_number)
    if batch.find(CustomerCredit, CustomerCredit.create_id(source_id)) is not None:
        return None
    if currency != customer.currency:
        raise CurrencyMismatchError(
            f"{kind.replace('_', ' ')} {source_id} is in {currency} but customer "
            f"{customer_number} is kept in {customer.currency}")
    return CustomerCredit.receive(
        source_id=source_id, customer_id=customer.id, kind=kind, amount=amount,
        currency=currency, document_date=document_date, actor=actor,
        business_date=business_date)


class InvoiceOfAnotherCustomerError(DomainError):
    """Money is allocated to an invoice of a customer that is neither the payer nor one of
    its branches."""


def check_payer(batch: Batch, payer: Customer, invoices: list[Invoice]) -> None:
    """A customer pays (or is credited for) its own invoices, or those of its branches."""
    for invoice in invoices:
        if invoice.customer_id == payer.id:
            continue
        owner = batch.find(Customer, invoice.customer_id)
        if owner is None or owner.head_office_id != payer.id:
            raise InvoiceOfAnotherCustomerError(
                f"invoice {invoice.document_number} belongs to customer "
                f"{owner.number if owner else '?'}, which is neither customer {payer.number} "
                f"nor one of its branches")


@checked
def apply_payment(batch: Batch, *, source_id: str, customer_number: str,
                  allocations: list[tuple[str, Decimal]], unapplied: Decimal | None,
                  currency: str, payment_date: date, actor: str, business_date: date) -> int:
    """A customer payment: parts allocated to invoices of the customer (or of its branches),
    an optional unapplied rest on account. Every part is checked before anything is recorded.
    The parts are recorded on the invoices as of ``payment_date``, the day the money came: that
    is the day promise windows, the timeline and aging go by. Returns the number of parts
    recorded."""
    currency = currency_code(currency)
    payer = batch.get(Customer, Customer.create_id(customer_number), "customer",
                      customer_number)
    invoices = [(_invoice(batch, number), amount) for number, amount in allocations]
    check_payer(batch, payer, [invoice for invoice, _ in invoices])
    if len(invoices) > 1 or unapplied:  # decide all before recording any (alone, an
        # allocation decides as it records)
        for invoice, amount in invoices:
            if not invoice.knows(source_id):
                invoice.check_reduction(source_id, amount, currency, "payment")
    if len({invoice.id for invoice, _ in invoices}) != len(invoices):
        raise ValidationError(f"payment {source_id} allocates to the same invoice twice")
    rest = None
    if unapplied:
        rest = _new_credit(batch, kind=UNAPPLIED_PAYMENT, source_id=source_id,
                           customer_number=customer_number, amount=unapplied, currency=currency,
                           document_date=payment_date, actor=actor, business_date=payment_date)
    recorded = 0
    for invoice, amount in invoices:
        if invoice.apply_payment(source_id, amount, currency, actor=actor,
                                 business_date=payment_date):
            _follow(batch, invoice, actor=actor, business_date=payment_date)
            recorded += 1
    if rest is not None:
        batch.add(rest)
        recorded += 1
    return recorded


@checked
def apply_credit_memo(batch: Batch, *, source_id: str, customer_number: str,
                      invoice_number: str | None, amount: Decimal, currency: str,
                      document_date: date, actor: str, business_date: date) -> bool:
    """A credit memo against one invoice, or (no invoice) a credit on the customer's account."""
    currency = currency_code(currency)
    if invoice_number is None:
        credit = _new_credit(batch, kind=CREDIT_MEMO, source_id=source_id,
                             customer_number=customer_number, amount=amount, currency=currency,
                             document_date=document_date, actor=actor,
                             business_date=business_date)
        if credit is not None:
            batch.add(credit)
        return credit is not None
    invoice = _invoice(batch, invoice_number)
    check_payer(batch, batch.get(Customer, Customer.create_id(customer_number), "customer",
                                 customer_number), [invoice])
    if invoice.apply_credit_memo(source_id, amount, currency, actor=actor,
                                 business_date=business_date):
        _follow(batch, invoice, actor=actor, business_date=business_date)
        return True
    return False


@checked
def reverse_payment(batch: Batch, *, source_id: str, invoice_number: str,
                    payment_source_id: str, actor: str, business_date: date) -> bool:
    invoice = _invoice(batch, invoice_number)
    if invoice.reverse_payment(source_id, payment_source_id, actor=actor,
                               business_date=business_date):
        _follow(batch, invoice, actor=actor, business_date=business_date)
        return True
    return False


@checked
def clear_invoice(batch: Batch, *, source_id: str, invoice_number: str, actor: str,
                  business_date: date) -> bool:
    invoice = _invoice(batch, invoice_number)
    if invoice.clear(source_id, actor=actor, business_date=business_date):
        _follow(batch, invoice, actor=actor, business_date=business_date)
        return True
    return False


@checked
def write_off_invoice(batch: Batch, *, source_id: str, invoice_number: str, reason: str,
                      actor: str, business_date: date) -> bool:
    invoice = _invoice(batch, invoice_number)
    if invoice.write_off(source_id, reason, actor=actor, business_date=business_date):
        _follow(batch, invoice, actor=actor, business_date=business_date)
        return True
    return False


@checked
def raise_dunning_level(batch: Batch, invoice_id: UUID, *, actor: str,
                        business_date: date) -> int:
    return batch.get(Invoice, invoice_id, "invoice").raise_dunning_level(
        actor=actor, business_date=business_date)
