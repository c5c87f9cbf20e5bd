"""The worklist's row tables, declared once (``projections.tables``): what the writer's rows
hold and what ``projections/worklist.sql`` creates, checked against each other by a test.

A customer's figures (open amounts by due date, dunning level, disputes, follow-ups) are
``customer_figures``' to fill from the other tables, so the page writer neither loads nor
writes them. The day's rankings (``worklist_snapshots``, ``worklist_scores``) are written by
SQL alone (``day_rankings``) and are not declared here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from ledger_collect.projections.tables import Key, Table, filled_in_sql


@dataclass(frozen=True)
class WorklistCustomer:
    id: UUID
    number: Key  # copied into the rankings' index
    name: str
    segment: Key  # clipped as the customer directory clips it: strategies match it
    currency: str  # the figures count the items in this currency
    risk_class: str
    specialist: Key | None  # None: unassigned
    due_dates: list[date] = filled_in_sql()
    open_by_due: list[Decimal] = filled_in_sql()
    oldest_due: date | None = filled_in_sql()
    open_amount: Decimal = filled_in_sql()
    dunning_level: int = filled_in_sql()
    broken_promises: list[date]  # days promises were valued broken, ascending
    open_disputes: int = filled_in_sql()
    disputed_amount: Decimal = filled_in_sql()
    follow_ups: list[date] = filled_in_sql()
    resubmitted_until: date | None = filled_in_sql()
    tasks_from: date | None = filled_in_sql()  # the first open follow-up or activity


@dataclass(frozen=True)
class WorklistItem:
    """An invoice neither cleared nor written off."""

    id: UUID
    customer_id: UUID
    document_number: str
    currency: str
    due_date: date
    open_amount: Decimal
    dunning_level: int
    last_dunned_on: date | None
    promise_id: UUID | None  # its unconfirmed promise to pay
    promised: Decimal | None  # what of that promise is still to be paid


@dataclass(frozen=True)
class WorklistDispute:
    id: UUID
    customer_id: UUID
    invoice_ids: list[UUID]
    currency: str
    amount: Decimal  # still disputed
    active: bool


@dataclass(frozen=True)
class WorklistFollowUp:
    id: UUID
    customer_id: UUID
    invoice_ids: list[UUID]  # empty: the whole customer
    follow_up_date: date
    open: bool


@dataclass(frozen=True)
class WorklistActivity:
    """A task about a customer: while open, it brings the customer onto the list from its
    due date on."""

    id: UUID
    customer_id: UUID
    due_date: date
    open: bool


@dataclass(frozen=True)
class WorklistProcessed:
    """Casework recorded for a customer on a business day, and by whom."""

    customer_id: UUID
    day: date
    actors: list[str]
    events: int


@dataclass(frozen=True)
class WorklistStreamMark:
    """What one stream added to its customer's processed marks and broken promises on a day."""

    stream_id: UUID
    day: date
    customer_id: UUID
    actors: list[str]
    events: int
    broken: int


CUSTOMER_TABLE = Table("worklist_customers", WorklistCustomer)
ITEM_TABLE = Table("worklist_items", WorklistItem)
DISPUTE_TABLE = Table("worklist_disputes", WorklistDispute)
FOLLOW_UP_TABLE = Table("worklist_follow_ups", WorklistFollowUp)
ACTIVITY_TABLE = Table("worklist_activities", WorklistActivity)
PROCESSED_TABLE = Table("worklist_processed", WorklistProcessed, key=("customer_id", "day"))
MARK_TABLE = Table("worklist_stream_marks", WorklistStreamMark, key=("stream_id", "day"))
