"""Invoice (open item, créance): posted by the ERP, reduced by payments and credit memos,
closed by clearing or write-off. Its open amount is always the sum of its recorded facts.

Each fact carries the ERP's source document id; a fact seen again is a no-op, which is what
makes the feed idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import (
    ZERO,
    CollectionsAggregate,
    CurrencyMismatchError,
    DomainError,
    ValidationError,
    derived_id,
    label,
    money,
    positive,
)
from ledger_collect.domain.dunning_block import DunningBlock, check_blocked

OPEN, CLEARED, WRITTEN_OFF = "open", "cleared", "written_off"


class InvoiceClosedError(DomainError):
    """The invoice is cleared or written off, and what was asked needs it open (money
    applied or reversed, dunning, a promise, a dispute, a follow-up)."""


class OverpaymentError(DomainError):
    """A payment or credit memo exceeds what is still open on its invoice."""


class Invoice(CollectionsAggregate):
    TOPIC = "ledger_collect.Invoice"
    PERSONAL = {"DunningBlocked": ("reason",)}

    @staticmethod
    def create_id(document_number: str, **_: Any) -> UUID:
        return derived_id("invoice", document_number)

    @classmethod
    def post(cls, *, customer_id: UUID, document_number: str, amount: Decimal, currency: str,
             posting_date: date, due_date: date, source_id: str, actor: str,
             business_date: date) -> Invoice:
        if not (document_number or "").strip():
            raise ValidationError("an invoice needs a document number")
        amount = positive(amount, f"amount of invoice {document_number}")
        if due_date < posting_date:
            raise ValidationError(
                f"invoice {document_number} falls due ({due_date}) before it was posted "
                f"({posting_date})"
            )
        return cls(customer_id=customer_id, document_number=document_number, amount=amount,
                   currency=currency, posting_date=posting_date, due_date=due_date,
                   source_id=source_id, actor=actor, business_date=business_date)

    @event("Posted", topic="ledger_collect.Invoice.Posted")
    def __init__(self, customer_id: UUID, document_number: str, amount: Decimal, currency: str,
                 posting_date: date, due_date: date, source_id: str, actor: str,
                 business_date: date) -> None:
        self.customer_id = customer_id
        self.document_number = document_number
        self.amount = amount
        self.currency = currency
        self.posting_date = posting_date
        self.due_date = due_date
        self.source_ids = {source_id}
        self.payments: dict[str, Decimal] = {}  # payment source id -> amount still applied
        self.reversed: set[str] = set()
        self.credits: dict[str, Decimal] = {}
        self.cleared_amount = ZERO
        self.written_off_amount = ZERO
        self.status = OPEN
        self.dunning_level = 0
        self.last_dunned_on: date | None = None
        self.open_promise_id: UUID | None = None
        self.promise_ids: list[UUID] = []  # every promise ever made on it, oldest first
        self.dispute_ids: set[UUID] = set()
        self.dunning_block: DunningBlock | None = None
        self.agency_case_id: UUID | None = None

    # -- what it amounts to ------------------------------------------------------------------
    @property
    def paid_amount(self) -> Decimal:
        return sum(self.payments.values(), ZERO)

    @property
    def credited_amount(self) -> Decimal:
        return sum(self.credits.values(), ZERO)

    @property
    def open_amount(self) -> Decimal:
        return (self.amount - self.paid_amount - self.credited_amount - self.cleared_amount
                - self.written_off_amount)

    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    def knows(self, source_id: str) -> bool:
        """Was the fact with this source document id already recorded here?"""
        return source_id in self.source_ids

    def check_open(self, then: str | None = None) -> None:
        """Refuse what only an open invoice takes; ``then`` says what cannot be done."""
        if not self.is_open:
            closed = f"invoice {self.document_number} is"
            raise InvoiceClosedError(f"{closed} {label(self.status)}; {then}" if then
                                     else f"{closed} already {label(self.status)}")

    def check_reduction(self, source_id: str, amount: Decimal, currency: str, what: str) -> Decimal:
        """The amount of a payment or credit memo (``what``) as this invoice can take it."""
        amount = positive(amount, f"{what} amount")
        if currency != self.currency:
            raise CurrencyMismatchError(
                f"{what} {source_id} is in {currency} but invoice {self.document_number} is in "
                f"{self.currency}"
            )
        self.check_open(f"{what} {source_id} cannot be applied")
        if amount > self.open_amount:
            raise OverpaymentError(
                f"{what} {source_id} of {amount} {currency} exceeds the open amount "
                f"{self.open_amount} {self.currency} of invoice {self.document_number}"
            )
        return amount

    # -- facts from the ERP ------------------------------------------------------------------
    def apply_payment(self, source_id: str, amount: Decimal, currency: str, *, actor: str,
                      business_date: date) -> bool:
        """Record a payment allocated to this invoice; False if already recorded."""
        return self._reduce(self._payment_applied, "payment", source_id, amount, currency,
                            actor=actor, business_date=business_date)

    @event("PaymentApplied", topic="ledger_collect.Invoice.PaymentApplied")
    def _payment_applied(self, source_id: str, amount: Decimal, actor: str,
                         business_date: date) -> None:
        self.payments[source_id] = amount
        self.source_ids.add(source_id)

    def apply_credit_memo(self, source_id: str, amount: Decimal, currency: str, *, actor: str,
                          business_date: date) -> bool:
        """Record a credit memo against this invoice; False if already recorded."""
        return self._reduce(self._credit_memo_applied, "credit memo", source_id, amount,
                            currency, actor=actor, business_date=business_date)

    def _reduce(self, record: Callable[..., None], what: str, source_id: str, amount: Decimal,
                currency: str, *, actor: str, business_date: date) -> bool:
        """Check a payment or credit memo (``what``) and ``record`` it, once."""
        if self.knows(source_id):
            return False
        record(source_id=source_id, amount=self.check_reduction(source_id, amount, currency, what),
               actor=actor, business_date=business_date)
        return True

    @event("CreditMemoApplied", topic="ledger_collect.Invoice.CreditMemoApplied")
    def _credit_memo_applied(self, source_id: str, amount: Decimal, actor: str,
                             business_date: date) -> None:
        self.credits[source_id] = amount
        self.source_ids.add(source_id)

    def reverse_payment(self, source_id: str, payment_source_id: str, *, actor: str,
                        business_date: date) -> bool:
        """Undo a payment (bounced cheque, returned direct debit): the amount is open again."""
        if self.knows(source_id):
            return False
        if payment_source_id not in self.payments:
            raise ValidationError(
                f"payment {payment_source_id} was never applied to invoice "
                f"{self.document_number}, or was already reversed"
            )
        self.check_open(f"reopen it in the ERP before reversing payment {payment_source_id}")
        self._payment_reversed(source_id=source_id, payment_source_id=payment_source_id,
                               amount=self.payments[payment_source_id], actor=actor,
                               business_date=business_date)
        return True

    @event("PaymentReversed", topic="ledger_collect.Invoice.PaymentReversed")
    def _payment_reversed(self, source_id: str, payment_source_id: str, amount: Decimal,
                          actor: str, business_date: date) -> None:
        del self.payments[payment_source_id]
        self.reversed.add(payment_source_id)
        self.source_ids.add(source_id)

    def clear(self, source_id: str, *, actor: str, business_date: date) -> bool:
        """The ERP cleared the item: whatever was still open is settled and the item closes."""
        if self.knows(source_id):
            return False
        self.check_open()
        self._cleared(source_id=source_id, amount=self.open_amount, actor=actor,
                      business_date=business_date)
        return True

    @event("Cleared", topic="ledger_collect.Invoice.Cleared")
    def _cleared(self, source_id: str, amount: Decimal, actor: str, business_date: date) -> None:
        self.cleared_amount += amount
        self.status = CLEARED
        self.source_ids.add(source_id)

    def write_off(self, source_id: str, reason: str, *, actor: str, business_date: date) -> bool:
        """Close the item as a loss: its open amount is written off."""
        if self.knows(source_id):
            return False
        self.check_open()
        self._written_off(source_id=source_id, amount=self.open_amount, reason=reason,
                          actor=actor, business_date=business_date)
        return True

    @event("WrittenOff", topic="ledger_collect.Invoice.WrittenOff")
    def _written_off(self, source_id: str, amount: Decimal, reason: str, actor: str,
                     business_date: date) -> None:
        self.written_off_amount += amount
        self.status = WRITTEN_OFF
        self.source_ids.add(source_id)

    # -- collections -------------------------------------------------------------------------
    def raise_dunning_level(self, *, actor: str, business_date: date) -> int:
        self.check_open("it is not dunned")
        if business_date <= self.due_date:
            raise ValidationError(
                f"invoice {self.document_number} is not overdue on {business_date} "
                f"(due {self.due_date})"
            )
        self._dunning_level_raised(level=self.dunning_level + 1, actor=actor,
                                   business_date=business_date)
        return self.dunning_level

    def raise_dunning_level_to(self, level: int, *, actor: str, business_date: date) -> bool:
        """A dunning letter announcing ``level`` reached the customer: the invoice's level
        rises to it. Never down, never twice (already at ``level`` or above: nothing), and not
        on a closed invoice (paid or cleared while the letter was on its way). False when
        nothing was recorded."""
        if level <= self.dunning_level or not self.is_open:
            return False
        self._dunning_level_raised(level=level, actor=actor, business_date=business_date)
        return True

    @event("DunningLevelRaised", topic="ledger_collect.Invoice.DunningLevelRaised")
    def _dunning_level_raised(self, level: int, actor: str, business_date: date) -> None:
        self.dunning_level = level
        self.last_dunned_on = business_date

    def block_dunning(self, reason: str, until: date | None, *, actor: str,
                      business_date: date) -> None:
        """No letter about this invoice until released (or through ``until``)."""
        self.check_open("it is not dunned")
        block = DunningBlock.of(reason, until, business_date)
        self._dunning_blocked(customer_id=self.customer_id, reason=block.reason, until=until,
                              actor=actor, business_date=business_date)

    @event("DunningBlocked", topic="ledger_collect.Invoice.DunningBlocked")
    def _dunning_blocked(self, customer_id: UUID, reason: str, until: date | None, actor: str,
                         business_date: date) -> None:
        self.dunning_block = DunningBlock(reason, until, business_date, actor)

    def release_dunning_block(self, *, actor: str, business_date: date) -> None:
        check_blocked(self.dunning_block, business_date, f"invoice {self.document_number}")
        self._dunning_block_released(customer_id=self.customer_id, actor=actor,
                                     business_date=business_date)

    @event("DunningBlockReleased", topic="ledger_collect.Invoice.DunningBlockReleased")
    def _dunning_block_released(self, customer_id: UUID, actor: str,
                                business_date: date) -> None:
        self.dunning_block = None

    def hand_to_agency(self, case_id: UUID, *, actor: str, business_date: date) -> None:
        """The item goes to a collection agency (locked from dunning until it returns)."""
        self.check_open("it cannot go to an agency")
        if self.agency_case_id is not None:
            raise ValidationError(f"invoice {self.document_number} is with a collection agency "
                                  f"already (case {self.agency_case_id})")
        self._handed_to_agency(case_id=case_id, actor=actor, business_date=business_date)

    @event("HandedToAgency", topic="ledger_collect.Invoice.HandedToAgency")
    def _handed_to_agency(self, case_id: UUID, actor: str, business_date: date) -> None:
        self.agency_case_id = case_id

    def return_from_agency(self, case_id: UUID, *, actor: str, business_date: date) -> None:
        if self.agency_case_id == case_id:
            self._returned_from_agency(case_id=case_id, actor=actor, business_date=business_date)

    @event("ReturnedFromAgency", topic="ledger_collect.Invoice.ReturnedFromAgency")
    def _returned_from_agency(self, case_id: UUID, actor: str, business_date: date) -> None:
        self.agency_case_id = None

    def link_promise(self, promise_id: UUID, *, actor: str, business_date: date) -> None:
        """Remember the one unconfirmed promise on this invoice (saved with the promise, so
        two specialists promising at once collide on this invoice's version)."""
        self._promise_linked(promise_id=promise_id, actor=actor, business_date=business_date)

    @event("PromiseLinked", topic="ledger_collect.Invoice.PromiseLinked")
    def _promise_linked(self, promise_id: UUID, actor: str, business_date: date) -> None:
        self.open_promise_id = promise_id
        self.promise_ids.append(promise_id)

    def unlink_promise(self, promise_id: UUID, *, actor: str, business_date: date) -> None:
        if self.open_promise_id != promise_id:
            return
        self._promise_unlinked(promise_id=promise_id, actor=actor, business_date=business_date)

    @event("PromiseUnlinked", topic="ledger_collect.Invoice.PromiseUnlinked")
    def _promise_unlinked(self, promise_id: UUID, actor: str, business_date: date) -> None:
        self.open_promise_id = None

    def link_dispute(self, dispute_id: UUID, *, actor: str, business_date: date) -> None:
        if dispute_id in self.dispute_ids:
            return
        self._dispute_linked(dispute_id=dispute_id, actor=actor, business_date=business_date)

    @event("DisputeLinked", topic="ledger_collect.Invoice.DisputeLinked")
    def _dispute_linked(self, dispute_id: UUID, actor: str, business_date: date) -> None:
        self.dispute_ids.add(dispute_id)


def same_posting(invoice: Invoice, **record: Any) -> bool:
    """Does an ERP invoice record describe the invoice as already posted?"""
    return (invoice.customer_id == record["customer_id"]
            and invoice.amount == money(record["amount"])
            and invoice.currency == record["currency"]
            and invoice.due_date == record["due_date"]
            and invoice.posting_date == record["posting_date"])
