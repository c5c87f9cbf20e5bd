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
from typing import Annotated, Any, TypeVar
from uuid import UUID

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Conflict, NotFound, RuleBroken
from ledger_collect.api.permissions import Action
from ledger_collect.api.runner import ERP_READS, anywhere, run_command
from ledger_collect.commands import Outcome
from ledger_collect.commands import receivables as commands
from ledger_collect.domain.customer import RISK_CLASSES
from ledger_collect.domain.invoice import Invoice

ERP = anywhere(Action.ERP_FEED)


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


RegisterCustomerResult = Annotated[CustomerRegistered | NotFound | RuleBroken | Conflict,
                                   strawberry.union("RegisterCustomerResult")]
PostInvoiceResult = Annotated[InvoicePosted | NotFound | RuleBroken | Conflict,
                              strawberry.union("PostInvoiceResult")]
ApplyPaymentResult = Annotated[PaymentApplied | NotFound | RuleBroken | Conflict,
                               strawberry.union("ApplyPaymentResult")]
ApplyCreditMemoResult = Annotated[CreditMemoApplied | NotFound | RuleBroken | Conflict,
                                  strawberry.union("ApplyCreditMemoResult")]
ReversePaymentResult = Annotated[PaymentReversed | NotFound | RuleBroken | Conflict,
                                 strawberry.union("ReversePaymentResult")]
ClearInvoiceResult = Annotated[InvoiceCleared | NotFound | RuleBroken | Conflict,
                               strawberry.union("ClearInvoiceResult")]
WriteOffInvoiceResult = Annotated[InvoiceWrittenOff | NotFound | RuleBroken | Conflict,
                                  strawberry.union("WriteOffInvoiceResult")]
RaiseDunningLevelResult = Annotated[DunningLevelRaised | NotFound | RuleBroken | Conflict,
                                    strawberry.union("RaiseDunningLevelResult")]


def _fact(kind: type[F], number: str) -> Callable[[Outcome[Any]], F]:
    """The answer for a fact on invoice ``number``: the invoice as it stands now."""

    def answer(saved: Outcome[Any]) -> F:
        invoice_id = Invoice.create_id(number)
        return kind.of(saved[invoice_id], invoice_id in saved.changed)

    return answer


@strawberry.type
class ReceivableMutations:
    @strawberry.mutation(description="Register a customer from the ERP, or update its master "
                                     "data (integration).")
    async def register_customer(self, info: Info,
                                input: RegisterCustomerInput) -> RegisterCustomerResult:
        return await run_command(
            info, ERP, commands.register_customer, number=input.number, name=input.name,
            segment=input.segment, credit_limit=input.credit_limit, currency=input.currency,
            risk_class=input.risk_class, head_office_number=input.head_office_number,
            source_id=input.source_id, business_date=input.business_date,
            reads=ERP_READS, answer=lambda saved: CustomerRegistered(customer_id=saved.result))

    @strawberry.mutation(description="Post an ERP invoice (integration).")
    async def post_invoice(self, info: Info, input: PostInvoiceInput) -> PostInvoiceResult:
        return await run_command(
            info, ERP, commands.post_invoice, customer_number=input.customer_number,
            document_number=input.document_number, amount=input.amount,
            currency=input.currency, posting_date=input.posting_date, due_date=input.due_date,
            source_id=input.source_id, business_date=input.business_date,
            reads=ERP_READS, answer=_fact(InvoicePosted, input.document_number))

    @strawberry.mutation(description="Apply a customer payment to invoices (integration).")
    async def apply_payment(self, info: Info, input: ApplyPaymentInput) -> ApplyPaymentResult:
        return await run_command(
            info, ERP, commands.apply_payment, source_id=input.source_id,
            customer_number=input.customer_number,
            allocations=[(a.invoice_number, a.amount) for a in input.allocations],
            unapplied=input.unapplied, currency=input.currency,
            payment_date=input.payment_date, business_date=input.business_date,
            reads=ERP_READS, answer=lambda saved: PaymentApplied(parts_recorded=saved.result))

    @strawberry.mutation(description="Apply a credit memo to an invoice or to the customer's "
                                     "account (integration).")
    async def apply_credit_memo(self, info: Info,
                                input: ApplyCreditMemoInput) -> ApplyCreditMemoResult:
        return await run_command(
            info, ERP, commands.apply_credit_memo, source_id=input.source_id,
            customer_number=input.customer_number, invoice_number=input.invoice_number,
            amount=input.amount, currency=input.currency, document_date=input.document_date,
            business_date=input.business_date,
            reads=ERP_READS, answer=lambda saved: CreditMemoApplied(recorded=saved.result))

    @strawberry.mutation(description="Take a payment off an invoice again (integration).")
    async def reverse_payment(self, info: Info,
                              input: ReversePaymentInput) -> ReversePaymentResult:
        return await run_command(
            info, ERP, commands.reverse_payment, source_id=input.source_id,
            invoice_number=input.invoice_number, payment_source_id=input.payment_source_id,
            business_date=input.business_date,
            reads=ERP_READS, answer=_fact(PaymentReversed, input.invoice_number))

    @strawberry.mutation(description="Close an invoice by clearing (integration).")
    async def clear_invoice(self, info: Info, input: ClearInvoiceInput) -> ClearInvoiceResult:
        return await run_command(
            info, ERP, commands.clear_invoice, source_id=input.source_id,
            invoice_number=input.invoice_number, business_date=input.business_date,
            reads=ERP_READS, answer=_fact(InvoiceCleared, input.invoice_number))

    @strawberry.mutation(description="Close an invoice as a loss (integration).")
    async def write_off_invoice(self, info: Info,
                                input: WriteOffInvoiceInput) -> WriteOffInvoiceResult:
        return await run_command(
            info, ERP, commands.write_off_invoice, source_id=input.source_id,
            invoice_number=input.invoice_number, reason=input.reason,
            business_date=input.business_date,
            reads=ERP_READS, answer=_fact(InvoiceWrittenOff, input.invoice_number))

    @strawberry.mutation(description="A reminder letter went out: the invoice's dunning level "
                                     "rises by one (integration).")
    async def raise_dunning_level(self, info: Info,
                                  input: RaiseDunningLevelInput) -> RaiseDunningLevelResult:
        return await run_command(
            info, ERP, commands.raise_dunning_level, input.invoice_id,
            business_date=input.business_date,
            reads=ERP_READS, answer=lambda saved: DunningLevelRaised.of(saved[input.invoice_id],
                                                       input.invoice_id in saved.changed))
