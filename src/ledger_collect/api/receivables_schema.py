"""ERP facts fed in by the integration role: customers' master data, invoices, payments, credit
memos, reversals, clearings, write-offs, dunning levels.

Every fact carries the ERP's source document id and is idempotent: sending it again changes
nothing and answers ``recorded: false``. ``businessDate`` is the date the fact belongs to in the
ERP (default today).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Problem, command_mutation
from ledger_collect.api.permissions import Action
from ledger_collect.api.runner import ERP_READS, anywhere, arguments, run_command
from ledger_collect.commands import Outcome
from ledger_collect.commands import receivable_commands as commands
from ledger_collect.domain.customer import RISK_CLASSES
from ledger_collect.domain.invoice import Invoice


@strawberry.input
class RegisterCustomerInput:
    number: str
    name: str
    segment: str
    credit_limit: Decimal
    currency: str
    risk_class: str = strawberry.field(description=f"One of {', '.join(RISK_CLASSES)} "
                                                   f"(A: lowest risk).")
    source_id: str
    head_office_number: str | None = None
    business_date: date | None = None


@strawberry.input
class PostInvoiceInput:
    customer_number: str
    document_number: str
    amount: Decimal
    currency: str
    posting_date: date
    due_date: date
    source_id: str
    business_date: date | None = None


@strawberry.input
class AllocationInput:
    invoice_number: str
    amount: Decimal


@strawberry.input
class ApplyPaymentInput:
    source_id: str
    customer_number: str
    currency: str
    payment_date: date
    allocations: list[AllocationInput]
    unapplied: Decimal | None = strawberry.field(
        default=None, description="The part of the payment kept on account.")
    business_date: date | None = None


@strawberry.input
class ApplyCreditMemoInput:
    source_id: str
    customer_number: str
    amount: Decimal
    currency: str
    document_date: date
    invoice_number: str | None = strawberry.field(
        default=None, description="The invoice it reduces; without one it is a credit on the "
                                  "customer's account.")
    business_date: date | None = None


@strawberry.input
class ReversePaymentInput:
    source_id: str
    invoice_number: str
    payment_source_id: str
    business_date: date | None = None


@strawberry.input
class ClearInvoiceInput:
    source_id: str
    invoice_number: str
    business_date: date | None = None


@strawberry.input
class WriteOffInvoiceInput:
    source_id: str
    invoice_number: str
    reason: str
    business_date: date | None = None


@strawberry.input
class RaiseDunningLevelInput:
    invoice_id: UUID
    business_date: date | None = None


@strawberry.type
class CustomerRegistered:
    customer_id: UUID


@strawberry.interface(description="An invoice as it stands after the fact.")
class InvoiceFact:
    invoice_id: UUID
    document_number: str
    status: str
    open_amount: Decimal
    dunning_level: int
    recorded: bool = strawberry.field(description="False when the fact was already known.")

    @classmethod
    def of(cls, invoice: Invoice, recorded: bool) -> InvoiceFact:
        return cls(invoice_id=invoice.id, document_number=invoice.document_number,
                   status=invoice.status, open_amount=invoice.open_amount,
                   dunning_level=invoice.dunning_level, recorded=recorded)


F = TypeVar("F", bound=InvoiceFact)


@strawberry.type
class InvoicePosted(InvoiceFact):
    pass


@strawberry.type
class PaymentApplied:
    parts_recorded: int = strawberry.field(description="Allocations (and the unapplied rest) "
                                                       "recorded now; 0 when all were known.")


@strawberry.type
class CreditMemoApplied:
    recorded: bool


@strawberry.type
class PaymentReversed(InvoiceFact):
    pass


@strawberry.type
class InvoiceCleared(InvoiceFact):
    pass


@strawberry.type
class InvoiceWrittenOff(InvoiceFact):
    pass


@strawberry.type
class DunningLevelRaised(InvoiceFact):
    pass


async def _feed(info: Info, function: Callable[..., Any], input: Any,
                answer: Callable[[Outcome[Any]], Any], **changes: Any) -> Any:
    """Run the command of an ERP fact, its input naming the command's arguments (the fact's
    business date among them); the integration role decides alone."""
    return await run_command(info, anywhere(Action.ERP_FEED), function,
                             **arguments(input, **changes), reads=ERP_READS, answer=answer)


def _fact(kind: type[F], invoice_id: UUID) -> Callable[[Outcome[Any]], F]:
    """The answer for a fact on an invoice: the invoice as it stands now."""
    return lambda saved: kind.of(saved[invoice_id], invoice_id in saved.changed)


@strawberry.type
class ReceivableMutations:
    @command_mutation(CustomerRegistered,
                      description="Register a customer from the ERP, or update its master data "
                                  "(integration).")
    async def register_customer(self, info: Info,
                                input: RegisterCustomerInput) -> CustomerRegistered | Problem:
        return await _feed(info, commands.register_customer, input,
                           lambda saved: CustomerRegistered(customer_id=saved.result))

    @command_mutation(InvoicePosted, description="Post an ERP invoice (integration).")
    async def post_invoice(self, info: Info, input: PostInvoiceInput) -> InvoiceFact | Problem:
        return await _feed(info, commands.post_invoice, input,
                           _fact(InvoicePosted, Invoice.create_id(input.document_number)))

    @command_mutation(PaymentApplied,
                      description="Apply a customer payment to invoices (integration).")
    async def apply_payment(self, info: Info, input: ApplyPaymentInput) -> PaymentApplied | Problem:
        return await _feed(info, commands.apply_payment, input,
                           lambda saved: PaymentApplied(parts_recorded=saved.result),
                           allocations=[(a.invoice_number, a.amount) for a in input.allocations])

    @command_mutation(CreditMemoApplied,
                      description="Apply a credit memo to an invoice or to the customer's account "
                                  "(integration).")
    async def apply_credit_memo(self, info: Info,
                                input: ApplyCreditMemoInput) -> CreditMemoApplied | Problem:
        return await _feed(info, commands.apply_credit_memo, input,
                           lambda saved: CreditMemoApplied(recorded=saved.result))

    @command_mutation(PaymentReversed,
                      description="Take a payment off an invoice again (integration).")
    async def reverse_payment(self, info: Info,
                              input: ReversePaymentInput) -> InvoiceFact | Problem:
        return await _feed(info, commands.reverse_payment, input,
                           _fact(PaymentReversed, Invoice.create_id(input.invoice_number)))

    @command_mutation(InvoiceCleared, description="Close an invoice by clearing (integration).")
    async def clear_invoice(self, info: Info, input: ClearInvoiceInput) -> InvoiceFact | Problem:
        return await _feed(info, commands.clear_invoice, input,
                           _fact(InvoiceCleared, Invoice.create_id(input.invoice_number)))

    @command_mutation(InvoiceWrittenOff, description="Close an invoice as a loss (integration).")
    async def write_off_invoice(self, info: Info,
                                input: WriteOffInvoiceInput) -> InvoiceFact | Problem:
        return await _feed(info, commands.write_off_invoice, input,
                           _fact(InvoiceWrittenOff, Invoice.create_id(input.invoice_number)))

    @command_mutation(DunningLevelRaised,
                      description="A reminder letter went out: the invoice's dunning level rises "
                                  "by one (integration).")
    async def raise_dunning_level(self, info: Info,
                                  input: RaiseDunningLevelInput) -> InvoiceFact | Problem:
        return await _feed(info, commands.raise_dunning_level, input,
                           _fact(DunningLevelRaised, input.invoice_id))
