"""Casework: promises to pay, follow-ups (resubmissions) and activities, one row each.

Writer. Every event of these aggregates names its record (the originator), so a page loads
the records it touches with one query per table, folds the events in memory and writes back
one upsert per table. Disputes have their own model (``disputes``), emails and conversations
theirs (``correspondence``).

Readers (asyncpg). ``<things>_by_customer`` serve the customer overview's loaders (one query
for many customers); ``list_<things>`` serve the casework lists: filters, a sort order and
keyset pages (``rows.fetch_page``). "Specialist" in a promise or follow-up filter is the
customer's assigned specialist (read from the customers model); an activity has its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain import promise
from ledger_collect.domain.activity import Activity
from ledger_collect.domain.base import ZERO
from ledger_collect.domain.promise import PromiseToPay
from ledger_collect.domain.resubmission import Resubmission
from ledger_collect.projections import Projection
from ledger_collect.projections.forgetting import Personal
from ledger_collect.projections.rows import (
    ListArgumentError,
    Order,
    Page,
    PageRows,
    Where,
    fetch_page,
    grouped_part,
    orders,
)
from ledger_collect.projections.tables import Key, Number, Table


# -- tables ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class InstalmentRecord:
    number: int
    due_date: date
    amount: Decimal
    status: str
    covered: Decimal


@dataclass(frozen=True)
class PromiseRecord:
    id: UUID
    customer_id: UUID
    invoice_id: UUID
    document_number: str
    currency: str
    amount: Decimal
    paid_amount: Decimal
    promised_date: date
    tolerance_days: int
    level: int
    status: Key
    replaces: UUID | None
    replaced_by: UUID | None
    contact_id: UUID | None
    issued_on: date
    issued_by: str
    ended_on: date | None
    closed_reason: str | None
    withdrawal_reason: str | None  # personal data
    instalment_dates: list[date]  # instalment n is element n of each
    instalment_amounts: list[Number]
    instalment_statuses: list[str]
    instalment_covered: list[Number]

    @property
    def instalments(self) -> list[InstalmentRecord]:
        plan = zip(self.instalment_dates, self.instalment_amounts, self.instalment_statuses,
                   self.instalment_covered, strict=True)
        return [InstalmentRecord(n, *instalment) for n, instalment in enumerate(plan, start=1)]


@dataclass(frozen=True)
class ResubmissionRecord:
    id: UUID
    customer_id: UUID
    invoice_ids: list[UUID]
    follow_up_date: date
    reason: str  # personal data, as is move_reason
    status: str
    moves: int
    move_reason: str | None
    entered_on: date
    entered_by: str
    completed_on: date | None


@dataclass(frozen=True)
class ActivityRecord:
    id: UUID
    customer_id: UUID
    specialist: Key
    due_date: date
    description: str  # personal data
    status: Key
    created_on: date
    created_by: str
    closed_on: date | None
    closing_note: str | None  # personal data


PROMISE_TABLE = Table("promises", PromiseRecord)
RESUBMISSION_TABLE = Table("resubmissions", ResubmissionRecord)
ACTIVITY_TABLE = Table("activities", ActivityRecord)


class Casework(Projection):
    name = "casework"
    declared = (PROMISE_TABLE, RESUBMISSION_TABLE, ACTIVITY_TABLE)
    stream_rows = (("promises", "id"), ("resubmissions", "id"), ("activities", "id"))
    personal = (Personal("promises", ("withdrawal_reason",)),
                Personal("resubmissions", ("reason", "move_reason")),
                Personal("activities", ("description", "closing_note")))
    handles = (
        PromiseToPay.Issued, PromiseToPay.PaymentCounted, PromiseToPay.PaymentUncounted,
        PromiseToPay.InstalmentValued, PromiseToPay.Valued, PromiseToPay.Withdrawn,
        PromiseToPay.Closed,
        Resubmission.Created, Resubmission.Moved, Resubmission.Completed,
        Activity.Created, Activity.Rescheduled, Activity.Closed)

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        page = PageRows(conn, self.declared)
        page.fold_records(events, _TABLE, _CREATED, _FOLD)
        page.write()


# -- promises -------------------------------------------------------------------------------
def _promise_issued(e: Any) -> dict[str, Any]:
    plan = list(e.instalments)
    return {
        "id": e.originator_id, "customer_id": e.customer_id, "invoice_id": e.invoice_id,
        "document_number": e.document_number, "currency": e.currency, "amount": e.amount,
        "paid_amount": ZERO, "promised_date": e.promised_date,
        "tolerance_days": e.tolerance_days, "level": e.level,
        "status": promise.OPEN,
        "replaces": e.replaces, "replaced_by": None, "contact_id": e.contact_id,
        "issued_on": e.business_date, "issued_by": e.actor, "ended_on": None,
        "closed_reason": None, "withdrawal_reason": None,
        "instalment_dates": [p["due_date"] for p in plan],
        "instalment_amounts": [p["amount"] for p in plan],
        "instalment_statuses": [promise.OPEN] * len(plan),
        "instalment_covered": [ZERO] * len(plan)}


def _counted(sign: int) -> Any:
    """A payment counted towards the promise (``sign`` 1) or taken back (-1)."""
    def fold(row: dict[str, Any], e: Any) -> None:
        row["paid_amount"] += sign * e.amount
        row["status"] = promise.status_after(e, row["paid_amount"])
    return fold


def _instalment_valued(row: dict[str, Any], e: Any) -> None:
    statuses, covered = list(row["instalment_statuses"]), list(row["instalment_covered"])
    statuses[e.number - 1], covered[e.number - 1] = e.status, e.covered
    row.update(instalment_statuses=statuses, instalment_covered=covered)


def _ended(**fields: str) -> Any:
    """A promise confirmed: valued (its outcome), withdrawn or closed by the system."""
    def fold(row: dict[str, Any], e: Any) -> None:
        row.update(status=promise.status_after(e, row["paid_amount"]), ended_on=e.business_date,
                   **{column: getattr(e, attribute) for column, attribute in fields.items()})
    return fold


# -- follow-ups and activities ----------------------------------------------------------------
def _resubmission_created(e: Any) -> dict[str, Any]:
    return {"id": e.originator_id, "customer_id": e.customer_id,
            "invoice_ids": list(e.invoice_ids), "follow_up_date": e.follow_up_date,
            "reason": e.reason, "status": "open", "moves": 0, "move_reason": None,
            "entered_on": e.business_date,
            "entered_by": e.actor, "completed_on": None}


def _moved(row: dict[str, Any], e: Any) -> None:
    row.update(follow_up_date=e.follow_up_date, move_reason=e.reason, moves=row["moves"] + 1)


def _activity_created(e: Any) -> dict[str, Any]:
    return {"id": e.originator_id, "customer_id": e.customer_id, "specialist": e.specialist,
            "due_date": e.due_date, "description": e.description, "status": "open",
            "created_on": e.business_date, "created_by": e.actor, "closed_on": None,
            "closing_note": None}


_CREATED: dict[type, Any] = {
    PromiseToPay.Issued: _promise_issued,
    Resubmission.Created: _resubmission_created,
    Activity.Created: _activity_created,
}
_FOLD: dict[type, Any] = {
    PromiseToPay.PaymentCounted: _counted(1),
    PromiseToPay.PaymentUncounted: _counted(-1),
    PromiseToPay.InstalmentValued: _instalment_valued,
    PromiseToPay.Valued: _ended(),
    PromiseToPay.Withdrawn: _ended(withdrawal_reason="reason"),
    PromiseToPay.Closed: _ended(closed_reason="reason", replaced_by="replaced_by"),
    Resubmission.Moved: _moved,
    Resubmission.Completed: lambda row, e: row.update(status="completed",
                                                      completed_on=e.business_date),
    Activity.Rescheduled: lambda row, e: row.update(due_date=e.due_date),
    Activity.Closed: lambda row, e: row.update(status="closed", closed_on=e.business_date,
                                               closing_note=e.note),
}
_TABLE = {cls: {"PromiseToPay": PROMISE_TABLE, "Resubmission": RESUBMISSION_TABLE,
                "Activity": ACTIVITY_TABLE}[cls.__qualname__.split(".")[0]]
          for cls in Casework.handles}
assert set(_CREATED) | set(_FOLD) == set(Casework.handles)


# -- readers (asyncpg; the pool's search_path is the app's schema) ----------------------------
@dataclass(frozen=True)
class ListFilter:
    """What the casework lists filter on; each field narrows, None leaves it open."""

    customer_id: UUID | None = None
    specialist: str | None = None
    statuses: Sequence[str] | None = None
    date_from: date | None = None  # inclusive, on the list's date (promised, due ...)
    date_to: date | None = None  # inclusive


NO_FILTER = ListFilter()


def filtered(where: Where, given: ListFilter, date_column: str, *,
             own_specialist: bool = False) -> Where:
    """``where`` narrowed by ``given``; the specialist is the record's own
    (``own_specialist``) or its customer's assigned one."""
    where.when(given.customer_id, "customer_id = {}")
    if given.specialist is not None:
        where.add("specialist = {}" if own_specialist else
                  "customer_id IN (SELECT id FROM customers WHERE specialist = {})",
                  given.specialist)
    if given.statuses:
        where.add("status = ANY({}::text[])", list(given.statuses))
    where.when(given.date_from, f"{date_column} >= {{}}")
    where.when(given.date_to, f"{date_column} <= {{}}")
    return where


def ordered(orders: dict[str, Order], sort: str, descending: bool) -> Order:
    if sort not in orders:
        raise ListArgumentError(f"a list cannot be sorted by {sort!r}; by {', '.join(orders)}")
    return replace(orders[sort], descending=descending)


PROMISE_ORDERS = orders(promised_date=date, amount=Decimal, issued_on=date)
RESUBMISSION_ORDERS = orders(follow_up_date=date, entered_on=date)
ACTIVITY_ORDERS = orders(due_date=date, created_on=date)

#: Each customer's promises, latest promised date first.
PROMISES = grouped_part(PROMISE_TABLE, order="promised_date DESC, id DESC")
#: Each customer's follow-ups, latest follow-up date first.
RESUBMISSIONS = grouped_part(RESUBMISSION_TABLE, order="follow_up_date DESC, id DESC")
#: Each customer's activities, latest due date first.
ACTIVITIES = grouped_part(ACTIVITY_TABLE, order="due_date DESC, id DESC")
#: Batched readers, for per-request loaders: one query for many keys.
promises_by_customer = PROMISES.fetch
resubmissions_by_customer = RESUBMISSIONS.fetch
activities_by_customer = ACTIVITIES.fetch


async def list_promises(pool: Any, given: ListFilter = NO_FILTER, *,
                        sort: str = "promised_date", descending: bool = False,
                        first: int | None = None, after: str | None = None,
                        ) -> Page[PromiseRecord]:
    """Promises by promised date (or amount, or issue date); dates filter the promised date."""
    return await fetch_page(pool, PROMISE_TABLE, filtered(Where(), given, "promised_date"),
                            ordered(PROMISE_ORDERS, sort, descending), first, after)


async def list_resubmissions(pool: Any, given: ListFilter = NO_FILTER, *,
                             sort: str = "follow_up_date", descending: bool = False,
                             first: int | None = None, after: str | None = None,
                             ) -> Page[ResubmissionRecord]:
    """Follow-ups by follow-up date (or entry date); dates filter the follow-up date."""
    return await fetch_page(pool, RESUBMISSION_TABLE,
                            filtered(Where(), given, "follow_up_date"),
                            ordered(RESUBMISSION_ORDERS, sort, descending), first, after)


async def list_activities(pool: Any, given: ListFilter = NO_FILTER, *,
                          sort: str = "due_date", descending: bool = False,
                          first: int | None = None, after: str | None = None,
                          ) -> Page[ActivityRecord]:
    """Activities by due date (or creation date); dates filter the due date; the specialist
    is the one the task is for."""
    return await fetch_page(pool, ACTIVITY_TABLE,
                            filtered(Where(), given, "due_date", own_specialist=True),
                            ordered(ACTIVITY_ORDERS, sort, descending), first, after)
