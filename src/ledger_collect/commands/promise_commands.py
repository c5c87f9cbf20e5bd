"""Promises to pay: recorded and withdrawn by a specialist, moved along by what happens on the
invoice, valued once their window is over (see ``domain.promise`` for the rules).

The invoice keeps the id of its one unconfirmed promise and is saved together with it, so two
specialists promising on the same invoice at once collide on the invoice's version: one wins,
the other gets a ConflictError and nothing of theirs is stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger_collect.commands.values import UNCHECKED, checked
from ledger_collect.domain.base import (
    CurrencyMismatchError,
    ValidationError,
    currency_code,
    positive,
)
from ledger_collect.domain.dispute import WrongCustomerError
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.promise import (
    CREDIT_MEMO,
    INVOICE_CLEARED,
    INVOICE_WRITTEN_OFF,
    KEPT,
    PAYMENT,
    REPLACED,
    PromiseAmountError,
    PromiseToPay,
)

if TYPE_CHECKING:
    from ledger_collect.commands import Batch

def _promise(batch: Batch, promise_id: UUID) -> PromiseToPay:
    return batch.get(PromiseToPay, promise_id, "promise to pay")


def _release(batch: Batch, promise: PromiseToPay, *, actor: str, business_date: date) -> None:
    """A confirmed promise frees its invoice for the next one."""
    if not promise.is_unconfirmed:
        invoice = batch.get(Invoice, promise.invoice_id, "invoice")
        invoice.unlink_promise(promise.id, actor=actor, business_date=business_date)


def _unkept(promise: PromiseToPay) -> bool:
    """Was this earlier promise not kept? A confirmed one says so by its status; an unconfirmed
    one is about to be replaced or valued, and is kept only if fully paid inside its window."""
    if promise.is_unconfirmed:
        return promise.paid_by(promise.window_end) < promise.amount
    return promise.status != KEPT


@checked(contact_id=UNCHECKED)
def record_promise(batch: Batch, *, invoice_id: UUID, amount: Decimal, promised_date: date,
                   instalments: list[tuple[date, Decimal]] | None = None,
                   currency: str | None = None, contact_id: UUID | None = None,
                   tolerance_days: int | None = None, actor: str,
                   business_date: date) -> UUID:
    """The customer promises to pay ``amount`` of the invoice by ``promised_date`` (optionally
    in instalments ``[(date, amount), ...]``), perhaps during customer contact ``contact_id``.

    An unconfirmed promise already on the invoice is closed as replaced; one whose window is
    already over is valued instead (kept, partly kept or broken). The new promise's level is
    one more than the earlier promises on the invoice that were not kept (replaced, withdrawn,
    broken, partially kept): taking a promise back and giving it again does not reset the
    escalation, while a promise for what is left after a kept one starts at level 1. The
    grace after the promised date is ``tolerance_days``, by default the setting's.
    """
    invoice = batch.get(Invoice, invoice_id, "invoice")
    invoice.check_open("there is nothing left to promise")
    if currency is not None and currency_code(currency) != invoice.currency:
        raise CurrencyMismatchError(f"the promise is in {currency_code(currency)} but invoice "
                                    f"{invoice.document_number} is in {invoice.currency}")
    amount = positive(amount, "promised amount")
    if amount > invoice.open_amount:
        raise PromiseAmountError(f"promised {amount} {invoice.currency} exceeds the open amount "
                                 f"{invoice.open_amount} {invoice.currency} of invoice "
                                 f"{invoice.document_number}")
    if contact_id is not None:
        from ledger_collect.commands.casework_commands import _contact

        contact = _contact(batch, contact_id)
        if contact.customer_id != invoice.customer_id:
            raise WrongCustomerError(f"customer contact {contact_id} was held with another "
                                     f"customer than the one invoice {invoice.document_number} "
                                     f"belongs to")
    previous = None
    if invoice.open_promise_id is not None:
        previous = _promise(batch, invoice.open_promise_id)
    replaces = (previous if previous is not None and previous.is_unconfirmed
                and business_date <= previous.window_end else None)
    unkept = sum(1 for earlier in invoice.promise_ids if _unkept(_promise(batch, earlier)))
    promise = PromiseToPay.make(  # checks dates and instalments before anything is recorded
        customer_id=invoice.customer_id, invoice_id=invoice.id,
        document_number=invoice.document_number, currency=invoice.currency, amount=amount,
        promised_date=promised_date,
        tolerance_days=(batch.settings.promise_tolerance_days if tolerance_days is None
                        else tolerance_days),
        instalments=instalments, level=unkept + 1,
        replaces=replaces.id if replaces else None, contact_id=contact_id, actor=actor,
        business_date=business_date)
    if replaces is not None:
        replaces.close(REPLACED, replaced_by=promise.id, actor=actor, business_date=business_date)
    elif previous is not None:
        previous.value(business_date, actor=actor, business_date=business_date)
    batch.add(promise)
    invoice.link_promise(promise.id, actor=actor, business_date=business_date)
    if contact_id is not None:
        from ledger_collect.commands.casework_commands import link_to_contact

        link_to_contact(batch, contact_id, promise_ids=[promise.id], actor=actor,
                        business_date=business_date)
    return promise.id


@checked
def withdraw_promise(batch: Batch, promise_id: UUID, *, reason: str, actor: str,
                     business_date: date) -> None:
    """A specialist takes back an open or in-process promise, saying why."""
    promise = _promise(batch, promise_id)
    promise.withdraw(reason, actor=actor, business_date=business_date)
    _release(batch, promise, actor=actor, business_date=business_date)


@checked
def value_promise(batch: Batch, promise_id: UUID, *, as_of: date | None = None, actor: str,
                  business_date: date) -> str | None:
    """Value the promise as of ``as_of`` (default: the business date). Returns its outcome
    when this confirmed it; None when it is not due yet or was already confirmed."""
    return value_promises(batch, [promise_id], as_of=as_of, actor=actor,
                          business_date=business_date).get(promise_id)


@checked
def value_promises(batch: Batch, promise_ids: Iterable[UUID], *, as_of: date | None = None,
                   actor: str, business_date: date) -> dict[UUID, str]:
    """Value many promises (the daily job). Idempotent: a promise already confirmed, or not
    due yet, records nothing. Returns the outcome of each promise confirmed by this call."""
    as_of = business_date if as_of is None else as_of
    if as_of > business_date:
        raise ValidationError(f"promises cannot be valued as of {as_of}, a day still to come "
                              f"(today is {business_date})")
    promises = [_promise(batch, promise_id) for promise_id in dict.fromkeys(promise_ids)]
    outcomes: dict[UUID, str] = {}
    for promise in promises:
        status = promise.value(as_of, actor=actor, business_date=business_date)
        if status is not None:
            outcomes[promise.id] = status
            _release(batch, promise, actor=actor, business_date=business_date)
    return outcomes


@checked
def value_due_promises(batch: Batch, promise_ids: Iterable[UUID], *, as_of: date, actor: str,
                       business_date: date) -> dict[UUID, str]:
    """The daily valuation's step (``commands.valuation``): of these promises, value those
    still unconfirmed whose window ended before ``as_of``; the others, and their instalments,
    are left for the day their window ends. Loads the promises, then the invoices the valued
    ones free, in one go each."""
    ids = list(dict.fromkeys(promise_ids))
    batch.load(ids)
    due = [promise for promise in (_promise(batch, promise_id) for promise_id in ids)
           if promise.is_unconfirmed and as_of > promise.window_end]
    batch.load(promise.invoice_id for promise in due)
    return value_promises(batch, [promise.id for promise in due], as_of=as_of, actor=actor,
                          business_date=business_date)


def after_invoice_change(batch: Batch, invoice: Invoice, *, actor: str,
                         business_date: date) -> None:
    """Let the invoice's unconfirmed promise follow the fact just recorded on the invoice:
    a payment or credit memo counts towards it, a reversal takes its payment out again,
    clearing or write-off closes it. A promise whose window is already over is valued first
    (money arriving late does not count)."""
    if invoice.open_promise_id is None or not invoice.pending_events:
        return
    promise = _promise(batch, invoice.open_promise_id)
    change: Any = invoice.pending_events[-1]
    received = change.business_date
    if isinstance(change, Invoice.PaymentApplied | Invoice.CreditMemoApplied):
        kind = PAYMENT if isinstance(change, Invoice.PaymentApplied) else CREDIT_MEMO
        promise.count_payment(change.source_id, change.amount, kind, actor=actor,
                              business_date=received)
    elif isinstance(change, Invoice.PaymentReversed):
        promise.uncount_payment(change.payment_source_id, actor=actor, business_date=received)
        promise.value(received, actor=actor, business_date=received)
    elif isinstance(change, Invoice.Cleared | Invoice.WrittenOff):
        reason = INVOICE_CLEARED if isinstance(change, Invoice.Cleared) else INVOICE_WRITTEN_OFF
        if promise.value(received, actor=actor, business_date=received) is None:
            promise.close(reason, actor=actor, business_date=received)
    if not promise.is_unconfirmed:
        invoice.unlink_promise(promise.id, actor=actor, business_date=received)
