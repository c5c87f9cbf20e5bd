"""What each ERP record stands for: the domain command it runs (``apply_record``) and the
aggregates that command looks up (``needed_ids``, loaded in bulk before a batch runs). The
commands decide every rule, the import's and the API's alike (a customer pays only its own
invoices or its branches': ``receivables.check_payer``).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from uuid import UUID

from ledger_collect.commands import Batch
from ledger_collect.commands import agency_commands as agency
from ledger_collect.commands import receivable_commands as receivables
from ledger_collect.domain.credit import CustomerCredit
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice
from ledger_collect.feed.records import (
    AgencyPaymentRecord,
    AgencyStatusRecord,
    ClearingRecord,
    ContactRecord,
    CreditMemoRecord,
    CustomerRecord,
    InvoiceRecord,
    PaymentRecord,
    PaymentReversalRecord,
    Record,
    WriteOffRecord,
)

_customer_id = lru_cache(maxsize=1 << 16)(Customer.create_id)
_invoice_id = lru_cache(maxsize=1 << 16)(Invoice.create_id)


def needed_ids(record: Record) -> list[UUID]:
    """Every aggregate the record's command will look up (loaded in bulk beforehand)."""
    customer, invoice = _customer_id, _invoice_id
    if isinstance(record, CustomerRecord):
        return [customer(record.number)] + ([customer(record.head_office)]
                                            if record.head_office else [])
    if isinstance(record, ContactRecord):
        return [customer(record.customer)]
    if isinstance(record, InvoiceRecord):
        return [customer(record.customer), invoice(record.document_number)]
    if isinstance(record, CreditMemoRecord):
        return [customer(record.customer), invoice(record.invoice) if record.invoice
                else CustomerCredit.create_id(record.source_id)]
    if isinstance(record, PaymentRecord):
        ids = [customer(record.customer)] + [invoice(n) for n, _ in record.allocations]
        return ids + ([CustomerCredit.create_id(record.source_id)] if record.unapplied else [])
    if isinstance(record, AgencyStatusRecord):
        return [record.case]
    if isinstance(record, AgencyPaymentRecord):
        return [record.case, customer(record.customer), invoice(record.invoice)]
    assert isinstance(record, (PaymentReversalRecord, ClearingRecord, WriteOffRecord))
    return [invoice(record.invoice)]


def apply_record(batch: Batch, record: Record, *, actor: str, today: date) -> None:
    """Run the command that the record stands for on the batch (a DomainError refuses it)."""
    if isinstance(record, CustomerRecord):
        receivables.register_customer(
            batch, number=record.number, name=record.name, segment=record.segment,
            credit_limit=record.credit_limit, currency=record.currency,
            risk_class=record.risk_class, head_office_number=record.head_office,
            source_id=record.source_id, actor=actor, business_date=record.date or today)
    elif isinstance(record, ContactRecord):
        _add_contact(batch, record, actor=actor, today=today)
    elif isinstance(record, InvoiceRecord):
        receivables.post_invoice(
            batch, customer_number=record.customer, document_number=record.document_number,
            amount=record.amount, currency=record.currency, posting_date=record.posting_date,
            due_date=record.due_date, source_id=record.source_id, actor=actor,
            business_date=record.posting_date)
    elif isinstance(record, CreditMemoRecord):
        receivables.apply_credit_memo(
            batch, source_id=record.source_id, customer_number=record.customer,
            invoice_number=record.invoice, amount=record.amount, currency=record.currency,
            document_date=record.date, actor=actor, business_date=record.date)
    elif isinstance(record, PaymentRecord):
        receivables.apply_payment(
            batch, source_id=record.source_id, customer_number=record.customer,
            allocations=list(record.allocations), unapplied=record.unapplied or None,
            currency=record.currency, payment_date=record.date, actor=actor,
            business_date=record.date)
    elif isinstance(record, PaymentReversalRecord):
        receivables.reverse_payment(
            batch, source_id=record.source_id, invoice_number=record.invoice,
            payment_source_id=record.payment, actor=actor, business_date=record.date)
    elif isinstance(record, ClearingRecord):
        receivables.clear_invoice(batch, source_id=record.source_id,
                                  invoice_number=record.invoice, actor=actor,
                                  business_date=record.date)
    elif isinstance(record, WriteOffRecord):
        receivables.write_off_invoice(batch, source_id=record.source_id,
                                      invoice_number=record.invoice, reason=record.reason,
                                      actor=actor, business_date=record.date)
    elif isinstance(record, AgencyStatusRecord):
        agency.report_agency_status(batch, source_id=record.source_id, case_id=record.case,
                                    status=record.status, note=record.note, actor=actor,
                                    business_date=record.date)
    elif isinstance(record, AgencyPaymentRecord):
        agency.record_agency_payment(
            batch, source_id=record.source_id, case_id=record.case,
            customer_number=record.customer, invoice_number=record.invoice,
            amount=record.amount, currency=record.currency, payment_date=record.date,
            actor=actor, business_date=record.date)
    else:  # pragma: no cover - parse_record makes only the kinds above
        raise TypeError(f"no command for {type(record).__name__}")


def _add_contact(batch: Batch, record: ContactRecord, *, actor: str, today: date) -> None:
    """Add the collection contact unless the customer has (or had) one with that id: contacts
    are then kept by the specialists, and an old feed run again must not undo their edits —
    neither bring back a removed contact."""
    customer = batch.get(Customer, Customer.create_id(record.customer), "customer",
                         record.customer)
    if record.contact_id in customer.contacts or record.contact_id in customer.removed_contact_ids:
        return
    receivables.add_contact(batch, customer.id, record.contact_id, name=record.name,
                            email=record.email, phone=record.phone, role=record.role,
                            actor=actor, business_date=record.date or today)
