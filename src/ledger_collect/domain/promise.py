"""Promise to pay (promesse de paiement): a customer's word to pay an amount of one invoice by a
date, optionally in instalments.

The window. Each promise carries the grace it was made with (``tolerance_days``, from
``Settings.promise_tolerance_days`` when it was recorded): money received on or before
``promised_date + tolerance_days`` (the window's last day) counts towards it. Fixing the grace
when the promise is made means an arriving payment can be judged at once (in the window or
late) without configuration, the outcome never depends on when the valuation job happened to
run, and changing the setting later does not rewrite promises already given.

The outcome. A promise (or an instalment) fully covered inside its window is kept at once.
Otherwise it is valued only once its window is over — ``as_of`` after the window's last day:
promised 2026-11-10 with 3 days' grace is still open on 11-13 and valued on 11-14 — as kept,
partially kept (some money came) or broken (none came). Instalments are valued the same way,
each on its own date, against the running total: money first covers the earliest instalment.

What counts. Payments and credit memos applied to the invoice while the promise is open or in
process, received (their ``business_date``) inside the window; a payment reversal takes its
payment out again. Confirmed promises (kept, partially kept, broken, withdrawn, closed) are
final: later payments or reversals do not touch them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import (
    ZERO,
    CollectionsAggregate,
    DomainError,
    ValidationError,
    label,
    positive,
)

OPEN, IN_PROCESS = "open", "in_process"
KEPT, PARTIALLY_KEPT, BROKEN = "kept", "partially_kept", "broken"
WITHDRAWN, CLOSED = "withdrawn", "closed"
UNCONFIRMED = (OPEN, IN_PROCESS)

#: Why the system closed a promise.
REPLACED, INVOICE_CLEARED, INVOICE_WRITTEN_OFF = "replaced", "invoice cleared", "written off"

#: What may count towards a promise.
PAYMENT, CREDIT_MEMO = "payment", "credit_memo"



class PromiseAmountError(DomainError):
    """The promised amount exceeds what is still open on the invoice."""


class PromiseDateError(ValidationError):
    """The promised date is already past."""


class InstalmentSumError(DomainError):
    """The instalments do not add up to the promised amount."""


class InstalmentDateError(ValidationError):
    """The instalments' dates are out of order, past, or the last is not the promised date."""


class PromiseClosedError(DomainError):
    """The promise is confirmed (kept, partially kept, broken, withdrawn or closed) or its
    window is over: it can no longer be changed."""


@dataclass
class Instalment:
    number: int
    due_date: date
    amount: Decimal
    status: str = OPEN
    covered: Decimal = ZERO  # what counted towards it when it was valued


def counted_status(paid: Decimal) -> str:
    """An unconfirmed promise's status: open while nothing counts towards it, in process once
    money does (and open again when every payment counted is reversed)."""
    return IN_PROCESS if paid > 0 else OPEN


def outcome(covered: Decimal, amount: Decimal) -> str:
    """Kept, partially kept or broken: the whole amount, some of it, none of it."""
    if covered >= amount:
        return KEPT
    return PARTIALLY_KEPT if covered > 0 else BROKEN


class PromiseToPay(CollectionsAggregate):
    """Ids are random (uuid4): a promise is made by a person, not fed by the ERP."""

    TOPIC = "ledger_collect.PromiseToPay"
    #: A withdrawal's reason is free text a specialist types.
    PERSONAL = {"Withdrawn": ("reason",)}

    @classmethod
    def make(cls, *, customer_id: UUID, invoice_id: UUID, document_number: str, currency: str,
             amount: Decimal, promised_date: date, tolerance_days: int,
             instalments: list[tuple[date, Decimal]] | None, level: int,
             replaces: UUID | None, contact_id: UUID | None, actor: str,
             business_date: date) -> PromiseToPay:
        """A new promise; the caller has checked it against its invoice (amount, currency)."""
        if promised_date < business_date:
            raise PromiseDateError(f"the promised date {promised_date} is already past "
                                   f"(today is {business_date})")
        if tolerance_days < 0:
            raise ValidationError(f"grace days cannot be negative, got {tolerance_days}")
        plan = _check_instalments(instalments, amount, currency, promised_date, business_date)
        return cls(customer_id=customer_id, invoice_id=invoice_id,
                   document_number=document_number, currency=currency, amount=amount,
                   promised_date=promised_date, tolerance_days=tolerance_days,
                   instalments=plan, level=level, replaces=replaces, contact_id=contact_id,
                   actor=actor, business_date=business_date)

    @event("Issued", topic="ledger_collect.PromiseToPay.Issued")
    def __init__(self, customer_id: UUID, invoice_id: UUID, document_number: str, currency: str,
                 amount: Decimal, promised_date: date, tolerance_days: int,
                 instalments: list[dict[str, Any]], level: int, replaces: UUID | None,
                 contact_id: UUID | None, actor: str, business_date: date) -> None:
        self.customer_id = customer_id
        self.invoice_id = invoice_id
        self.document_number = document_number
        self.currency = currency
        self.amount = amount
        self.promised_date = promised_date
        self.tolerance_days = tolerance_days
        self.instalments = [Instalment(i, p["due_date"], p["amount"])
                            for i, p in enumerate(instalments, start=1)]
        self.level = level
        self.replaces = replaces
        self.contact_id = contact_id
        self.issued_on = business_date
        self.status = OPEN
        self.payments: dict[str, tuple[Decimal, date]] = {}  # source id -> (amount, received)
        self.valued_on: date | None = None
        self.closed_reason: str | None = None
        self.replaced_by: UUID | None = None
        self.withdrawal_reason: str | None = None

    # -- what it amounts to ------------------------------------------------------------------
    @property
    def is_unconfirmed(self) -> bool:
        return self.status in UNCONFIRMED

    @property
    def paid_amount(self) -> Decimal:
        """Everything counted towards the promise (all of it received inside the window)."""
        return sum((amount for amount, _ in self.payments.values()), ZERO)

    @property
    def window_end(self) -> date:
        """The last day on which money still counts."""
        return _days_after(self.promised_date, self.tolerance_days)

    def instalment_window_end(self, instalment: Instalment) -> date:
        return _days_after(instalment.due_date, self.tolerance_days)

    def paid_by(self, day: date) -> Decimal:
        return sum((amount for amount, received in self.payments.values() if received <= day),
                   ZERO)

    def describe(self) -> str:
        return (f"the promise of {self.amount} {self.currency} for {self.promised_date} on "
                f"invoice {self.document_number}")

    def _ids(self) -> dict[str, UUID]:
        """Every promise event names its customer (data subject, read models) and invoice."""
        return {"customer_id": self.customer_id, "invoice_id": self.invoice_id}

    # -- money on the invoice ----------------------------------------------------------------
    def count_payment(self, source_id: str, amount: Decimal, kind: str, *, actor: str,
                      business_date: date) -> bool:
        """Count money applied to the invoice (``business_date``: when it was received).
        Money arriving after the window does not count: the promise is valued instead."""
        if not self.is_unconfirmed or source_id in self.payments:
            return False
        if business_date > self.window_end:
            self.value(business_date, actor=actor, business_date=business_date)
            return False
        self._payment_counted(source_id=source_id, amount=amount, kind=kind, actor=actor,
                              business_date=business_date, **self._ids())
        self._review(business_date, actor=actor, business_date=business_date)
        return True

    @event("PaymentCounted", topic="ledger_collect.PromiseToPay.PaymentCounted")
    def _payment_counted(self, customer_id: UUID, invoice_id: UUID, source_id: str,
                         amount: Decimal, kind: str, actor: str, business_date: date) -> None:
        self.payments[source_id] = (amount, business_date)
        self.status = counted_status(self.paid_amount)

    def uncount_payment(self, source_id: str, *, actor: str, business_date: date) -> bool:
        """A counted payment was reversed: it no longer counts (while the promise is open)."""
        if not self.is_unconfirmed or source_id not in self.payments:
            return False
        amount, _ = self.payments[source_id]
        self._payment_uncounted(source_id=source_id, amount=amount, actor=actor,
                                business_date=business_date, **self._ids())
        return True

    @event("PaymentUncounted", topic="ledger_collect.PromiseToPay.PaymentUncounted")
    def _payment_uncounted(self, customer_id: UUID, invoice_id: UUID, source_id: str,
                           amount: Decimal, actor: str, business_date: date) -> None:
        del self.payments[source_id]
        self.status = counted_status(self.paid_amount)

    # -- valuation ---------------------------------------------------------------------------
    def value(self, as_of: date, *, actor: str, business_date: date) -> str | None:
        """Value whatever is due as of ``as_of``. Returns the promise's outcome when this call
        confirmed it, else None (not due yet, or already confirmed: valuing twice is a no-op)."""
        if not self.is_unconfirmed:
            return None
        return self._review(as_of, actor=actor, business_date=business_date)

    def _review(self, as_of: date, *, actor: str, business_date: date) -> str | None:
        """Keep what is fully covered, value what is over, in date order."""
        before = ZERO
        for instalment in self.instalments:
            if instalment.status == OPEN:
                end = self.instalment_window_end(instalment)
                covered = min(instalment.amount, max(ZERO, self.paid_by(end) - before))
                if covered == instalment.amount or as_of > end:
                    self._instalment_valued(number=instalment.number, status=outcome(
                        covered, instalment.amount), covered=covered, as_of=as_of,
                        actor=actor, business_date=business_date, **self._ids())
            before += instalment.amount
        paid = self.paid_by(self.window_end)
        if paid >= self.amount or as_of > self.window_end:
            self._valued(status=outcome(paid, self.amount), paid=paid, as_of=as_of, actor=actor,
                         business_date=business_date, **self._ids())
            return self.status
        return None

    @event("InstalmentValued", topic="ledger_collect.PromiseToPay.InstalmentValued")
    def _instalment_valued(self, customer_id: UUID, invoice_id: UUID, number: int, status: str,
                           covered: Decimal, as_of: date, actor: str,
                           business_date: date) -> None:
        instalment = self.instalments[number - 1]
        instalment.status = status
        instalment.covered = covered

    @event("Valued", topic="ledger_collect.PromiseToPay.Valued")
    def _valued(self, customer_id: UUID, invoice_id: UUID, status: str, paid: Decimal,
                as_of: date, actor: str, business_date: date) -> None:
        self.status = status
        self.valued_on = as_of

    # -- ending it otherwise -----------------------------------------------------------------
    def check_changeable(self, what: str, on: date) -> None:
        if not self.is_unconfirmed:
            raise PromiseClosedError(f"{self.describe()} is {label(self.status)}; "
                                     f"it can no longer be {what}")
        if on > self.window_end:
            raise PromiseClosedError(
                f"{self.describe()} ran out on {self.window_end} ({self.tolerance_days} days' "
                f"grace included); it is due for valuation and can no longer be {what}")

    def withdraw(self, reason: str, *, actor: str, business_date: date) -> None:
        """A specialist takes the promise back (the customer retracted it, it was a mistake)."""
        if not (reason or "").strip():
            raise ValidationError("say why the promise is withdrawn")
        self.check_changeable("withdrawn", business_date)
        self._withdrawn(reason=reason.strip(), actor=actor, business_date=business_date,
                        **self._ids())

    @event("Withdrawn", topic="ledger_collect.PromiseToPay.Withdrawn")
    def _withdrawn(self, customer_id: UUID, invoice_id: UUID, reason: str, actor: str,
                   business_date: date) -> None:
        self.status = WITHDRAWN
        self.withdrawal_reason = reason

    def close(self, reason: str, *, replaced_by: UUID | None = None, actor: str,
              business_date: date) -> bool:
        """The system confirms an open promise: replaced by a new one, or its invoice closed.
        False when the promise was already confirmed."""
        if not self.is_unconfirmed:
            return False
        self._closed(reason=reason, replaced_by=replaced_by, actor=actor,
                     business_date=business_date, **self._ids())
        return True

    @event("Closed", topic="ledger_collect.PromiseToPay.Closed")
    def _closed(self, customer_id: UUID, invoice_id: UUID, reason: str,
                replaced_by: UUID | None, actor: str, business_date: date) -> None:
        self.status = CLOSED
        self.closed_reason = reason
        self.replaced_by = replaced_by


def status_after(event: Any, paid: Decimal) -> str:
    """The status a promise has once ``event`` is applied, ``paid`` being what counts towards it
    then: the aggregate's rule, for the read models that follow its events."""
    if type(event) is PromiseToPay.Valued:
        return str(event.status)
    return _ENDED_AS.get(type(event)) or counted_status(paid)


_ENDED_AS = {PromiseToPay.Withdrawn: WITHDRAWN, PromiseToPay.Closed: CLOSED}


def _check_instalments(instalments: list[tuple[date, Decimal]] | None, amount: Decimal,
                       currency: str, promised_date: date,
                       business_date: date) -> list[dict[str, Any]]:
    """The instalment plan as recorded: dates strictly in order, none past, the last one on
    the promised date, amounts adding up exactly to the promised amount."""
    if not instalments:
        return []
    plan = [{"due_date": due, "amount": positive(part, f"instalment {n}")}
            for n, (due, part) in enumerate(instalments, start=1)]
    for n, (earlier, later) in enumerate(itertools.pairwise(plan), start=2):
        if later["due_date"] <= earlier["due_date"]:
            raise InstalmentDateError(f"instalment {n} ({later['due_date']}) must fall after "
                                      f"instalment {n - 1} ({earlier['due_date']})")
    if plan[0]["due_date"] < business_date:
        raise InstalmentDateError(f"instalment 1 falls on {plan[0]['due_date']}, already past "
                                  f"(today is {business_date})")
    if plan[-1]["due_date"] != promised_date:
        raise InstalmentDateError(f"the last instalment falls on {plan[-1]['due_date']}, but "
                                  f"the promise is for {promised_date}; they must be the same day")
    total = sum((part["amount"] for part in plan), ZERO)
    if total != amount:
        raise InstalmentSumError(f"the instalments add up to {total} {currency} but the promise "
                                 f"is for {amount} {currency}")
    return plan


def _days_after(day: date, days: int) -> date:
    """``day`` plus ``days``; the calendar's last day when that lies beyond it (a promise
    stored for 9999-12-30 with 3 days' grace runs to 9999-12-31, it does not break loading)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max
