"""Dispute case (cas litigieux): a customer contests one or more of its invoices.

The disputed amount leaves the collectible amount and the dunning while the case runs. Auditors
replay a dispute's whole trail, so every change is its own event with actor and business date,
and every event names the customer (the data subject of the case's free-text notes).

Amounts are tracked separately: the original disputed amount, and what of it was credited (credit
memo), paid, or written off; what is still disputed is the original minus those three, never
negative. A specialist records settlements by hand (progress, resolution), and the case also
follows the money the ERP applies to its invoices: what is still disputed never exceeds what is
still open on them (``follow_invoice``).

Status machine: open → in process → resolved (accepted / rejected / written off) → closed; a
closed case is read-only.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import (
    ZERO,
    CollectionsAggregate,
    CurrencyMismatchError,
    DomainError,
    IllegalTransitionError,
    ValidationError,
    check_transition,
    label,
    money,
    positive,
)

if TYPE_CHECKING:
    from ledger_collect.domain.invoice import Invoice

REASONS = ("price", "quantity", "quality", "not_delivered", "duplicate",
           "unauthorised_deduction", "other")

OPEN, IN_PROCESS, RESOLVED, CLOSED = "open", "in_process", "resolved", "closed"
#: Still running: the case follows the money on its invoices, which it takes out of collection.
ACTIVE = (OPEN, IN_PROCESS)
#: The one way through a case; anything else is refused naming both statuses.
NEXT_STATUS = {OPEN: (IN_PROCESS,), IN_PROCESS: (RESOLVED,), RESOLVED: (CLOSED,), CLOSED: ()}

ACCEPTED, REJECTED, WRITTEN_OFF = "accepted", "rejected", "written_off"
RESOLUTIONS = (ACCEPTED, REJECTED, WRITTEN_OFF)



class DisputeClosedError(DomainError):
    """A closed dispute is read-only."""


class WrongCustomerError(DomainError):
    """An invoice (or another record) named in a command belongs to another customer."""


class DisputedAmountError(DomainError):
    """The amounts of a dispute do not add up (more disputed than open, more settled than
    disputed)."""


def check_invoices_of(customer_id: UUID, invoices: Sequence[Invoice], what: str) -> None:
    """Casework about invoices is about invoices of one customer, each named once, still open."""
    seen: set[UUID] = set()
    for invoice in invoices:
        if invoice.customer_id != customer_id:
            raise WrongCustomerError(
                f"invoice {invoice.document_number} belongs to another customer; a {what} "
                f"covers invoices of one customer only")
        if invoice.id in seen:
            raise ValidationError(f"invoice {invoice.document_number} is named twice")
        seen.add(invoice.id)
        invoice.check_open(f"a {what} needs open invoices")


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationError(f"{what} cannot be empty")
    return text


class DisputeCase(CollectionsAggregate):
    TOPIC = "ledger_collect.DisputeCase"
    PERSONAL = {"Opened": ("note",), "NoteAdded": ("text",)}

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(cls, *, customer_id: UUID, invoices: Sequence[Invoice], amount: Decimal,
             reason: str, processor: str, note: str | None = None, actor: str,
             business_date: date) -> DisputeCase:
        """Open a case over open invoices of one customer for at most what they still owe."""
        if not invoices:
            raise ValidationError("a dispute needs at least one invoice")
        check_invoices_of(customer_id, invoices, "dispute")
        currencies = {invoice.currency for invoice in invoices}
        if len(currencies) > 1:
            raise CurrencyMismatchError(
                f"the disputed invoices are in {', '.join(sorted(currencies))}; one dispute "
                f"covers invoices of one currency")
        if reason not in REASONS:
            raise ValidationError(f"dispute reason {reason!r} is not one of {', '.join(REASONS)}")
        processor = _text(processor, "the processor of a dispute")
        amount = positive(amount, "disputed amount")
        open_total = sum((invoice.open_amount for invoice in invoices), ZERO)
        currency = currencies.pop()
        if amount > open_total:
            numbers = ", ".join(invoice.document_number for invoice in invoices)
            raise DisputedAmountError(
                f"the disputed amount {amount} {currency} exceeds the {open_total} {currency} "
                f"still open on invoice(s) {numbers}")
        note = (note or "").strip() or None
        return cls(customer_id=customer_id, invoice_ids=[i.id for i in invoices],
                   currency=currency, reason=reason, processor=processor, amount=amount,
                   note=note, actor=actor, business_date=business_date)

    @event("Opened", topic="ledger_collect.DisputeCase.Opened")
    def __init__(self, customer_id: UUID, invoice_ids: list[UUID], currency: str, reason: str,
                 processor: str, amount: Decimal, note: str | None, actor: str,
                 business_date: date) -> None:
        self.customer_id = customer_id
        self.invoice_ids = list(invoice_ids)
        self.currency = currency
        self.reason = reason
        self.processor = processor
        self.original_amount = amount
        self.credited = ZERO
        self.paid = ZERO
        self.written_off = ZERO
        self.status = OPEN
        self.resolution: str | None = None
        self.opened_on = business_date
        self.resolved_on: date | None = None
        self.closed_on: date | None = None
        self.notes: dict[str, str] = {}
        if note:
            self.notes["opening"] = note

    # -- what it amounts to ------------------------------------------------------------------
    @property
    def settled(self) -> Decimal:
        return self.credited + self.paid + self.written_off

    @property
    def still_disputed(self) -> Decimal:
        return self.original_amount - self.settled

    @property
    def is_closed(self) -> bool:
        return self.status == CLOSED

    def _check_writable(self) -> None:
        if self.is_closed:
            raise DisputeClosedError(
                f"this dispute was closed on {self.closed_on}; a closed dispute cannot be changed")

    def _check_transition(self, to: str) -> None:
        self._check_writable()
        check_transition("a dispute", self.status, to, NEXT_STATUS)

    def _amounts(self, credited: Decimal | int | str, paid: Decimal | int | str,
                 written_off: Decimal | int | str) -> tuple[Decimal, Decimal, Decimal]:
        """Validate amounts to add: none negative, together not beyond what is still disputed."""
        parts = (money(credited), money(paid), money(written_off))
        for name, part in zip(("credited", "paid", "written off"), parts, strict=True):
            if part < 0:
                raise ValidationError(f"the amount {name} cannot be negative, got {part}")
        total = sum(parts, ZERO)
        if total > self.still_disputed:
            raise DisputedAmountError(
                f"credited {parts[0]} + paid {parts[1]} + written off {parts[2]} = {total} "
                f"{self.currency} exceeds the {self.still_disputed} {self.currency} still "
                f"disputed (of {self.original_amount} originally)")
        return parts

    # -- processing --------------------------------------------------------------------------
    def start_processing(self, *, actor: str, business_date: date) -> None:
        self._check_transition(IN_PROCESS)
        self._processing_started(customer_id=self.customer_id, actor=actor,
                                 business_date=business_date)

    @event("ProcessingStarted", topic="ledger_collect.DisputeCase.ProcessingStarted")
    def _processing_started(self, customer_id: UUID, actor: str, business_date: date) -> None:
        self.status = IN_PROCESS

    def change_processor(self, processor: str, *, actor: str, business_date: date) -> None:
        self._check_writable()
        processor = _text(processor, "the processor of a dispute")
        if processor == self.processor:
            return
        self._processor_changed(customer_id=self.customer_id, processor=processor, actor=actor,
                                business_date=business_date)

    @event("ProcessorChanged", topic="ledger_collect.DisputeCase.ProcessorChanged")
    def _processor_changed(self, customer_id: UUID, processor: str, actor: str,
                           business_date: date) -> None:
        self.processor = processor

    def record_progress(self, *, credited: Decimal | int | str = ZERO,
                        paid: Decimal | int | str = ZERO,
                        written_off: Decimal | int | str = ZERO, actor: str,
                        business_date: date) -> None:
        """Part of the disputed amount was settled before the case is resolved (a partial
        credit memo, a payment of the undisputed part...)."""
        self._check_writable()
        if self.status not in ACTIVE:
            raise IllegalTransitionError(
                f"a dispute that is {label(self.status)} takes no more progress; only an open "
                f"or in-process dispute does")
        parts = self._amounts(credited, paid, written_off)
        if not any(parts):
            raise ValidationError("record at least one amount credited, paid or written off")
        self._progress_recorded(customer_id=self.customer_id, credited=parts[0], paid=parts[1],
                                written_off=parts[2], actor=actor, business_date=business_date)

    @event("ProgressRecorded", topic="ledger_collect.DisputeCase.ProgressRecorded")
    def _progress_recorded(self, customer_id: UUID, credited: Decimal, paid: Decimal,
                           written_off: Decimal, actor: str, business_date: date) -> None:
        self.credited += credited
        self.paid += paid
        self.written_off += written_off

    @property
    def is_active(self) -> bool:
        """Open or in process: the case still follows the money on its invoices."""
        return self.status in ACTIVE

    def follow_invoice(self, invoice_id: UUID, source_id: str, kind: str, open_total: Decimal,
                       *, actor: str, business_date: date) -> Decimal:
        """Money reached one of the case's invoices (a payment, a credit memo, a clearing or a
        write-off: ``kind`` is ``paid``, ``credited`` or ``written_off``) and its invoices now
        have ``open_total`` left open. What is still disputed never exceeds that: money goes
        first to the undisputed part of the invoices, and what goes beyond it settles the
        dispute as that kind. Returns the amount settled now (0: nothing recorded)."""
        if not self.is_active:
            return ZERO
        settled = self.still_disputed - max(open_total, ZERO)
        if settled <= 0:
            return ZERO
        parts = {"credited": ZERO, "paid": ZERO, "written_off": ZERO}
        if kind not in parts:
            raise ValueError(f"money of kind {kind!r} does not settle a dispute")
        parts[kind] = settled
        self._settled_on_invoice(customer_id=self.customer_id, invoice_id=invoice_id,
                                 source_id=source_id, **parts, actor=actor,
                                 business_date=business_date)
        return settled

    @event("SettledOnInvoice", topic="ledger_collect.DisputeCase.SettledOnInvoice")
    def _settled_on_invoice(self, customer_id: UUID, invoice_id: UUID, source_id: str,
                            credited: Decimal, paid: Decimal, written_off: Decimal, actor: str,
                            business_date: date) -> None:
        self.credited += credited
        self.paid += paid
        self.written_off += written_off

    def resolve(self, resolution: str, *, credited: Decimal | int | str = ZERO,
                paid: Decimal | int | str = ZERO, written_off: Decimal | int | str = ZERO,
                actor: str, business_date: date) -> None:
        """Decide the case. The amounts given add to what progress already recorded:

        - accepted: the customer was right; some amount is credited (a credit memo), the rest
          may be paid or written off;
        - rejected: the customer owes the amount; nothing is credited or written off now;
        - written off: the amount (or part of it) is given up as a loss; nothing credited now.
        """
        self._check_transition(RESOLVED)
        if resolution not in RESOLUTIONS:
            raise ValidationError(
                f"resolution {resolution!r} is not one of {', '.join(RESOLUTIONS)}")
        parts = self._amounts(credited, paid, written_off)
        if resolution == ACCEPTED and self.credited + parts[0] <= 0:
            raise ValidationError("an accepted dispute needs the credit memo amount")
        if resolution == REJECTED and (parts[0] or parts[2]):
            raise ValidationError(
                "a rejected dispute is neither credited nor written off; resolve it as "
                "accepted or written off instead")
        if resolution == WRITTEN_OFF:
            if parts[0]:
                raise ValidationError(
                    "a dispute resolved as written off credits nothing; resolve it as accepted "
                    "to credit an amount")
            if self.written_off + parts[2] <= 0:
                raise ValidationError("a dispute resolved as written off needs the amount "
                                      "written off")
        self._resolved(customer_id=self.customer_id, resolution=resolution, credited=parts[0],
                       paid=parts[1], written_off=parts[2], actor=actor,
                       business_date=business_date)

    @event("Resolved", topic="ledger_collect.DisputeCase.Resolved")
    def _resolved(self, customer_id: UUID, resolution: str, credited: Decimal, paid: Decimal,
                  written_off: Decimal, actor: str, business_date: date) -> None:
        self.credited += credited
        self.paid += paid
        self.written_off += written_off
        self.resolution = resolution
        self.resolved_on = business_date
        self.status = RESOLVED

    def close(self, *, actor: str, business_date: date) -> None:
        self._check_transition(CLOSED)
        self._closed(customer_id=self.customer_id, actor=actor, business_date=business_date)

    @event("Closed", topic="ledger_collect.DisputeCase.Closed")
    def _closed(self, customer_id: UUID, actor: str, business_date: date) -> None:
        self.status = CLOSED
        self.closed_on = business_date

    # -- notes (free text: personal data) ----------------------------------------------------
    def add_note(self, text: str, *, actor: str, business_date: date) -> str:
        self._check_writable()
        text = _text(text, "a note")
        note_id = uuid.uuid4().hex
        self._note_added(customer_id=self.customer_id, note_id=note_id, text=text, actor=actor,
                         business_date=business_date)
        return note_id

    @event("NoteAdded", topic="ledger_collect.DisputeCase.NoteAdded")
    def _note_added(self, customer_id: UUID, note_id: str, text: str, actor: str,
                    business_date: date) -> None:
        self.notes[note_id] = text


def status_after(event: Any, status: str) -> str:
    """The status a case has once ``event`` is applied (``status``: before it): the aggregate's
    rule, for the read models that follow its events."""
    return _STATUS_AFTER.get(type(event), status)


_STATUS_AFTER = {DisputeCase.Opened: OPEN, DisputeCase.ProcessingStarted: IN_PROCESS,
                 DisputeCase.Resolved: RESOLVED, DisputeCase.Closed: CLOSED}
