"""Activity: a task for a specialist about a customer, due on a date (call back, send an
account statement...). It is closed when done; a closed task is read-only. The description and
the closing note are free text, so personal data, sealed with the customer's key."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import CollectionsAggregate, DomainError, ValidationError

OPEN, CLOSED = "open", "closed"


class ActivityClosedError(DomainError):
    """A closed task is read-only: it can be neither moved nor closed again."""


class Activity(CollectionsAggregate):
    TOPIC = "ledger_collect.Activity"
    PERSONAL = {"Created": ("description",), "Closed": ("note",)}

    @classmethod
    def create(cls, *, customer_id: UUID, specialist: str, due_date: date, description: str,
               actor: str, business_date: date) -> Activity:
        specialist = (specialist or "").strip()
        if not specialist:
            raise ValidationError("name the specialist who is to do the task")
        description = (description or "").strip()
        if not description:
            raise ValidationError("say what the task is")
        if due_date < business_date:
            raise ValidationError(f"a task created on {business_date} cannot be due on "
                                  f"{due_date}, which has passed")
        return cls(customer_id=customer_id, specialist=specialist, due_date=due_date,
                   description=description, actor=actor, business_date=business_date)

    @event("Created", topic="ledger_collect.Activity.Created")
    def __init__(self, customer_id: UUID, specialist: str, due_date: date, description: str,
                 actor: str, business_date: date) -> None:
        self.customer_id = customer_id
        self.specialist = specialist
        self.due_date = due_date
        self.description = description
        self.status = OPEN
        self.closed_on: date | None = None
        self.closing_note: str | None = None

    def is_overdue(self, on: date) -> bool:
        return self.status == OPEN and on > self.due_date

    def _check_open(self) -> None:
        if self.status == CLOSED:
            raise ActivityClosedError(
                f"this task was closed on {self.closed_on}; a closed task cannot be changed")

    def reschedule(self, due_date: date, *, actor: str, business_date: date) -> None:
        self._check_open()
        if due_date < business_date:
            raise ValidationError(f"a task cannot be moved on {business_date} to {due_date}, "
                                  f"which has passed")
        if due_date == self.due_date:
            return
        self._rescheduled(customer_id=self.customer_id, previous_date=self.due_date,
                          due_date=due_date, actor=actor, business_date=business_date)

    @event("Rescheduled", topic="ledger_collect.Activity.Rescheduled")
    def _rescheduled(self, customer_id: UUID, previous_date: date, due_date: date, actor: str,
                     business_date: date) -> None:
        self.due_date = due_date

    def close(self, *, note: str | None = None, actor: str, business_date: date) -> None:
        self._check_open()
        self._closed(customer_id=self.customer_id, note=(note or "").strip() or None,
                     actor=actor, business_date=business_date)

    @event("Closed", topic="ledger_collect.Activity.Closed")
    def _closed(self, customer_id: UUID, note: str | None, actor: str,
                business_date: date) -> None:
        self.status = CLOSED
        self.closed_on = business_date
        self.closing_note = note
