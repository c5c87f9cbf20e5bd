"""Collection agencies: the hand-over criteria, the cases, and which items an agency holds.

Writer: a page loads the cases its events name (and their items) with one query per table,
folds in memory and writes back one upsert per table. The dunning proposal reads
``agency_items`` (an item held is never dunned); ``candidates`` reads the criteria.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain.agency_case import CLOSED, RECALLED, SUBMITTED, AgencyCase
from ledger_collect.domain.base import ZERO, derived_id
from ledger_collect.domain.dunning_procedure import DunningSetup
from ledger_collect.projections import Projection
from ledger_collect.projections.rows import PageRows
from ledger_collect.projections.tables import Table

CRITERIA_ID = derived_id("agency-criteria", "the")


@dataclass(frozen=True)
class CriteriaRecord:
    id: UUID
    minimum_amount: Decimal
    days_overdue: int


@dataclass(frozen=True)
class CaseRecord:
    id: UUID
    customer_id: UUID
    agency: str
    status: str
    reported: str | None
    amount: Decimal
    collected: Decimal
    invoice_ids: list[UUID]
    submitted_on: date
    submitted_by: str
    ended_on: date | None


@dataclass(frozen=True)
class HeldItemRecord:
    invoice_id: UUID
    case_id: UUID
    customer_id: UUID
    status: str


CRITERIA_TABLE = Table("agency_criteria", CriteriaRecord)
CASE_TABLE = Table("agency_cases", CaseRecord)
ITEM_TABLE = Table("agency_items", HeldItemRecord, key=("invoice_id",))


class Agency(Projection):
    name = "agency"
    declared = (CRITERIA_TABLE, CASE_TABLE, ITEM_TABLE)
    stream_rows = (("agency_cases", "id"), ("agency_items", "case_id"))
    handles = (DunningSetup.AgencyCriteriaSet, AgencyCase.Submitted, AgencyCase.Recalled,
               AgencyCase.StatusReported, AgencyCase.PaymentCounted)

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        page = PageRows(conn, self.declared)
        cases = page[CASE_TABLE]
        cases.load(e.originator_id for e in events
                   if type(e) in _FOLD and type(e) is not AgencyCase.Submitted)
        page[ITEM_TABLE].load(
            {i for row in cases.rows.values() for i in row["invoice_ids"]}
            | {item["invoice_id"] for e in events if type(e) is AgencyCase.Submitted
               for item in e.items})
        for e in events:
            if type(e) is DunningSetup.AgencyCriteriaSet:
                page[CRITERIA_TABLE].add({"id": CRITERIA_ID, "minimum_amount": e.minimum_amount,
                                          "days_overdue": e.days_overdue})
            elif type(e) is AgencyCase.Submitted:
                _submitted(page, e)
            elif (row := cases.get(e.originator_id)) is not None:
                _FOLD[type(e)](page, row, e)
        page.write()


def _submitted(page: PageRows, e: Any) -> None:
    page[CASE_TABLE].add({
        "id": e.originator_id, "customer_id": e.customer_id, "agency": e.agency,
        "status": SUBMITTED, "reported": None,
        "amount": sum((item["open_amount"] for item in e.items), ZERO), "collected": ZERO,
        "invoice_ids": [item["invoice_id"] for item in e.items], "submitted_on": e.business_date,
        "submitted_by": e.actor, "ended_on": None})
    for item in e.items:
        page[ITEM_TABLE].add({"invoice_id": item["invoice_id"], "case_id": e.originator_id,
                              "customer_id": e.customer_id, "status": SUBMITTED})


def _ended(status: str) -> Any:
    def fold(page: PageRows, row: dict[str, Any], e: Any) -> None:
        row.update(status=status, ended_on=e.business_date)
        items = page[ITEM_TABLE]
        for invoice_id in row["invoice_ids"]:
            item = items.get(invoice_id)
            if item is not None and item["case_id"] == row["id"]:
                item["status"] = status
    return fold


def _reported(page: PageRows, row: dict[str, Any], e: Any) -> None:
    row["reported"] = e.status
    if e.status == CLOSED:
        _ended(CLOSED)(page, row, e)


def _counted(page: PageRows, row: dict[str, Any], e: Any) -> None:
    row["collected"] += e.amount


_FOLD: dict[type, Any] = {
    DunningSetup.AgencyCriteriaSet: None, AgencyCase.Submitted: None,
    AgencyCase.Recalled: _ended(RECALLED), AgencyCase.StatusReported: _reported,
    AgencyCase.PaymentCounted: _counted}
assert set(_FOLD) == set(Agency.handles)


# -- readers ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """A customer's items, in one currency, that meet the hand-over criteria on a date."""

    customer_id: UUID
    customer_number: str
    currency: str
    amount: Decimal
    invoice_ids: list[UUID]
    documents: list[str]


_CANDIDATES = """
SELECT oi.customer_id, c.number, oi.currency, sum(oi.open_amount),
       array_agg(oi.id ORDER BY oi.due_date, oi.document_number),
       array_agg(oi.document_number ORDER BY oi.due_date, oi.document_number)
FROM open_items oi JOIN customers c ON c.id = oi.customer_id
WHERE oi.status = 'open' AND oi.open_amount > 0 AND oi.due_date <= %(due_by)s
  AND oi.open_disputes = 0 AND coalesce(oi.promise_status, '') NOT IN ('open', 'in_process')
  AND NOT EXISTS (SELECT 1 FROM agency_items ai WHERE ai.invoice_id = oi.id
                  AND ai.status = 'submitted')
  {customer}
GROUP BY oi.customer_id, c.number, oi.currency
HAVING sum(oi.open_amount) >= %(minimum)s
ORDER BY c.number, oi.currency
"""


def candidates(conn: psycopg.Connection[Any], on: date,
               customer_id: UUID | None = None) -> list[Candidate]:
    """The customers (and their items) that may be handed over on ``on``: items at least the
    criteria's days overdue, not disputed, under no unconfirmed promise, with no agency yet,
    together at least the minimum amount (per currency). None without criteria."""
    row = conn.execute("SELECT minimum_amount, days_overdue FROM agency_criteria").fetchone()
    if row is None:
        return []
    query = _CANDIDATES.format(
        customer="AND oi.customer_id = %(customer)s" if customer_id is not None else "")
    found = conn.execute(query, {"due_by": on - timedelta(days=row[1]),
                                 "minimum": max(row[0], Decimal("0.01")),
                                 "customer": customer_id})
    return [Candidate(*values) for values in found]
