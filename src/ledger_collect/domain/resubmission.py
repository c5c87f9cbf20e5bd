"""Resubmission (follow-up, resoumission): "do not contact this customer — or about these
invoices — before date D". A customer with a future resubmission stays off the active worklist
until D. The reason is free text a specialist writes, so it is personal data and sealed.

A follow-up is completed (read-only from then on) or moved to a new date, with a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import CollectionsAggregate, DomainError, ValidationError
from ledger_collect.domain.dispute import check_invoices_of

if TYPE_CHECKING:
    from ledger_collect.domain.invoice import Invoice

OPEN, COMPLETED = "open", "completed"


class ResubmissionCompletedError(DomainError):
    """A completed follow-up is read-only: it can be neither moved nor completed again."""


class FollowUpDateError(DomainError):
    """A follow-up date that would change nothing: today or earlier, or the date it has."""


def _check_date(follow_up_date: date, business_date: date) -> None:
    if follow_up_date <= business_date:
        raise FollowUpDateError(
            f"the follow-up date {follow_up_date} must be after {business_date}; a follow-up "
            f"for today or earlier would change nothing")


def _reason(value: str | None) -> str:
    reason = (value or "").strip()
    if not reason:
        raise ValidationError("say why the customer is to be followed up later")
    return reason


class Resubmission(CollectionsAggregate):
    TOPIC = "ledger_collect.Resubmission"
    PERSONAL = {"Created": ("reason",), "Moved": ("reason",)}

    @classmethod
    def create(cls, *, customer_id: UUID, invoices: Sequence[Invoice] = (),
               follow_up_date: date, reason: str, actor: str,
               business_date: date) -> Resubmission:
        """Customer-level without invoices; invoice-level with open invoices of that customer."""
        check_invoices_of(customer_id, invoices, "follow-up")
        _check_date(follow_up_date, business_date)
        return cls(customer_id=customer_id, invoice_ids=[i.id for i in invoices],
                   follow_up_date=follow_up_date, reason=_reason(reason), actor=actor,
                   business_date=business_date)

    @event("Created", topic="ledger_collect.Resubmission.Created")
    def __init__(self, customer_id: UUID, invoice_ids: list[UUID], follow_up_date: date,
                 reason: str, actor: str, business_date: date) -> None:
        self.customer_id = customer_id
        self.invoice_ids = list(invoice_ids)
        self.follow_up_date = follow_up_date
        self.reason = reason
        self.status = OPEN
        self.entered_on = business_date
        self.completed_on: date | None = None
        self.moves: list[dict[str, object]] = []

    @property
    def is_customer_level(self) -> bool:
        return not self.invoice_ids

    def _check_open(self) -> None:
        if self.status == COMPLETED:
            raise ResubmissionCompletedError(
                f"this follow-up was completed on {self.completed_on}; a completed follow-up "
                f"cannot be changed")

    def move(self, follow_up_date: date, *, reason: str, actor: str,
             business_date: date) -> None:
        self._check_open()
        _check_date(follow_up_date, business_date)
        if follow_up_date == self.follow_up_date:
            raise FollowUpDateError(f"the follow-up is already set for {follow_up_date}")
        self._moved(customer_id=self.customer_id, previous_date=self.follow_up_date,
                    follow_up_date=follow_up_date, reason=_reason(reason), actor=actor,
                    business_date=business_date)

    @event("Moved", topic="ledger_collect.Resubmission.Moved")
    def _moved(self, customer_id: UUID, previous_date: date, follow_up_date: date, reason: str,
               actor: str, business_date: date) -> None:
        self.moves.append({"from": previous_date, "to": follow_up_date, "reason": reason,
                           "by": actor, "on": business_date})
        self.follow_up_date = follow_up_date

    def complete(self, *, actor: str, business_date: date) -> None:
        """The follow-up was done (or is no longer needed): the customer is workable again."""
        self._check_open()
        self._completed(customer_id=self.customer_id, actor=actor, business_date=business_date)

    @event("Completed", topic="ledger_collect.Resubmission.Completed")
    def _completed(self, customer_id: UUID, actor: str, business_date: date) -> None:
        self.status = COMPLETED
        self.completed_on = business_date
