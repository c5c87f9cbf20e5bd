"""Collection-agency hand-over (transmission au recouvrement externe): a customer's overdue
items submitted to an agency as one case, recalled, and followed by the agency's reports.

Which customers may be handed over is data (``AgencyCriteria``, kept in the dunning setup): at
least a minimum overdue amount in items at least so many days overdue. While a case holds an
item (submitted, not recalled nor closed) the item is locked from dunning: the invoice records
the hand-over (``Invoice.HandedToAgency``), so a second case, or a letter, cannot take it.

The agency reports back in a file the ERP feed's importer reads: a status per case (each report
once, by its source id) and payments, which are recorded on the invoices as any payment is and
counted on the case. A case the agency closes, or that is recalled, releases its items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import (
    ZERO,
    CollectionsAggregate,
    DomainError,
    ValidationError,
    check_transition,
    money,
)

SUBMITTED, RECALLED, CLOSED = "submitted", "recalled", "closed"
#: What an agency may report of a case; ``closed`` ends it.
AGENCY_STATUSES = ("in_progress", "promised", "payment_plan", "legal_action", "uncollectible",
                   CLOSED)
NEXT_STATUS = {SUBMITTED: (RECALLED, CLOSED), RECALLED: (), CLOSED: ()}


class AgencyCriteriaError(DomainError):
    """The customer's items do not meet the criteria for a hand-over (or there are none)."""


class AgencyCaseClosedError(DomainError):
    """The case was recalled or closed: it takes no more reports."""


@dataclass(frozen=True)
class AgencyCriteria:
    minimum_amount: Decimal
    days_overdue: int

    @classmethod
    def of(cls, minimum_amount: Decimal | str, days_overdue: int) -> AgencyCriteria:
        amount = money(minimum_amount, "minimum amount")
        if amount < 0:
            raise ValidationError("the minimum amount for a hand-over cannot be negative")
        if isinstance(days_overdue, bool) or not isinstance(days_overdue, int) or not (
                1 <= days_overdue <= 3650):
            raise ValidationError(f"days overdue must be 1 to 3650, got {days_overdue!r}")
        return cls(amount, days_overdue)

    def meets(self, total: Decimal) -> bool:
        return total > 0 and total >= self.minimum_amount


class AgencyCase(CollectionsAggregate):
    TOPIC = "ledger_collect.AgencyCase"
    PERSONAL = {"Recalled": ("reason",), "StatusReported": ("note",)}

    @classmethod
    def submit(cls, *, customer_id: UUID, agency: str, items: list[dict[str, Any]],
               actor: str, business_date: date) -> AgencyCase:
        agency = (agency or "").strip()
        if not agency:
            raise ValidationError("name the collection agency")
        if not items:
            raise AgencyCriteriaError("there is no item to hand over")
        return cls(customer_id=customer_id, agency=agency, items=items, actor=actor,
                   business_date=business_date)

    @event("Submitted", topic="ledger_collect.AgencyCase.Submitted")
    def __init__(self, customer_id: UUID, agency: str, items: list[dict[str, Any]], actor: str,
                 business_date: date) -> None:
        self.customer_id = customer_id
        self.agency = agency
        self.items = list(items)
        self.status = SUBMITTED
        self.submitted_on = business_date
        self.reported: str | None = None
        self.collected = ZERO
        self.source_ids: set[str] = set()

    @property
    def invoice_ids(self) -> list[UUID]:
        return [item["invoice_id"] for item in self.items]

    @property
    def holds_items(self) -> bool:
        return self.status == SUBMITTED

    def recall(self, reason: str, *, actor: str, business_date: date) -> None:
        check_transition("a case", self.status, RECALLED, NEXT_STATUS)
        reason = (reason or "").strip()
        if not reason:
            raise ValidationError("say why the case is recalled")
        self._recalled(customer_id=self.customer_id, reason=reason, actor=actor,
                       business_date=business_date)

    @event("Recalled", topic="ledger_collect.AgencyCase.Recalled")
    def _recalled(self, customer_id: UUID, reason: str, actor: str, business_date: date) -> None:
        self.status = RECALLED

    def report_status(self, source_id: str, status: str, note: str | None, *, actor: str,
                      business_date: date) -> bool:
        """The agency's report; False when already recorded. ``closed`` ends the case."""
        if source_id in self.source_ids:
            return False
        if status not in AGENCY_STATUSES:
            raise ValidationError(f"agency status {status!r} is not one of "
                                  f"{', '.join(AGENCY_STATUSES)}")
        self._check_open()
        self._status_reported(customer_id=self.customer_id, source_id=source_id, status=status,
                              note=(note or "").strip() or None, actor=actor,
                              business_date=business_date)
        return True

    @event("StatusReported", topic="ledger_collect.AgencyCase.StatusReported")
    def _status_reported(self, customer_id: UUID, source_id: str, status: str,
                         note: str | None, actor: str, business_date: date) -> None:
        self.source_ids.add(source_id)
        self.reported = status
        if status == CLOSED:
            self.status = CLOSED

    def check_payment(self, source_id: str, invoice_id: UUID) -> bool:
        """May the agency's payment ``source_id`` on ``invoice_id`` be counted? False: it was."""
        if source_id in self.source_ids:
            return False
        self._check_open()
        if invoice_id not in self.invoice_ids:
            raise ValidationError(f"invoice {invoice_id} is not an item of agency case "
                                  f"{self.id}")
        return True

    def count_payment(self, source_id: str, invoice_id: UUID, amount: Decimal, *, actor: str,
                      business_date: date) -> None:
        self._payment_counted(customer_id=self.customer_id, source_id=source_id,
                              invoice_id=invoice_id, amount=amount, actor=actor,
                              business_date=business_date)

    @event("PaymentCounted", topic="ledger_collect.AgencyCase.PaymentCounted")
    def _payment_counted(self, customer_id: UUID, source_id: str, invoice_id: UUID,
                         amount: Decimal, actor: str, business_date: date) -> None:
        self.source_ids.add(source_id)
        self.collected += amount

    def _check_open(self) -> None:
        if self.status != SUBMITTED:
            raise AgencyCaseClosedError(f"agency case {self.id} is {self.status}")
