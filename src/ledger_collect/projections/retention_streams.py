"""Retention: per stream its record class, customer, disputes, the date its trigger happened and
the date of its latest event; per customer the date of the Customer stream's latest event; the
legal holds. What the compliance job asks to find the streams whose action is due
(``compliance.retention.due_streams``) and what "which rule keeps it" reads.

A customer's last activity is the latest of those dates, its own and its streams' (the view
``retention_customers``). The rows of a purged stream leave the model when it meets the purge
(``stream_rows``), and a rebuild, which never sees the purged events, finds the same; the purge
event carries each customer's latest date among the purged streams, folded into the customer's
own date, so the last activity never moves earlier because its streams were archived.

Writer: the events that end a record's working life set its trigger date (the first time: a
dispute resolved and then closed was closed when resolved). An invoice's trigger is the day its open amount reached
zero, undone by a payment reversal until it is cleared or written off for good. Rows a page
touches are loaded in one query per table and written back with one upsert each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain.activity import Activity
from ledger_collect.domain.agency_case import CLOSED as AGENCY_CLOSED
from ledger_collect.domain.agency_case import AgencyCase
from ledger_collect.domain.base import CollectionsAggregate
from ledger_collect.domain.contact import CustomerContact
from ledger_collect.domain.credit import CustomerCredit
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.dunning_letter import DunningLetter
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.legal_hold import LegalHold
from ledger_collect.domain.promise import BROKEN, KEPT, PARTIALLY_KEPT, PromiseToPay
from ledger_collect.domain.resubmission import Resubmission
from ledger_collect.projections import Projection
from ledger_collect.projections.rows import PageRows, Rows
from ledger_collect.projections.tables import Key, Table


@dataclass(frozen=True)
class StreamRecord:
    stream_id: UUID
    record_class: Key
    customer_id: UUID
    invoice_id: UUID | None
    dispute_ids: list[UUID]
    trigger_on: date | None
    open_amount: Decimal | None
    final: bool
    last_event_on: date


@dataclass(frozen=True)
class CustomerRecord:
    customer_id: UUID
    customer_activity: date


@dataclass(frozen=True)
class HoldRecord:
    hold_id: UUID
    subject_kind: str
    subject_id: UUID
    reference: str
    placed_on: date
    released_on: date | None


STREAM_TABLE = Table("retention_streams", StreamRecord, key=("stream_id",))
CUSTOMER_TABLE = Table("retention_customer_activity", CustomerRecord, key=("customer_id",))
HOLD_TABLE = Table("retention_holds", HoldRecord, key=("hold_id",))


def _events(aggregate: type[CollectionsAggregate]) -> list[type]:
    """Every event class an aggregate records: those under its pinned topic (its base
    ``Event`` and the library's unused ``Created`` are never stored)."""
    return [value for name, value in vars(aggregate).items()
            if isinstance(value, type) and issubclass(value, aggregate.Event)
            and name != "Event" and value.__dict__.get("TOPIC") == f"{aggregate.TOPIC}.{name}"]


#: The event that starts each kind of stream, and the record class it is of.
CREATED: dict[type, str] = {
    Invoice.Posted: "invoice", CustomerCredit.Received: "credit",
    PromiseToPay.Issued: "promise", DisputeCase.Opened: "dispute",
    DunningLetter.Issued: "dunning_letter", CollectionEmail.Created: "email",
    CustomerContact.Recorded: "contact", Activity.Created: "activity",
    Resubmission.Created: "resubmission", AgencyCase.Submitted: "agency_case"}
#: Events that make their record's trigger happen (when it has not yet).
ENDING: dict[type, Callable[[Any], bool]] = {
    PromiseToPay.Valued: lambda e: e.status in (KEPT, PARTIALLY_KEPT, BROKEN),
    PromiseToPay.Withdrawn: lambda e: True, PromiseToPay.Closed: lambda e: True,
    DisputeCase.Resolved: lambda e: True, DisputeCase.Closed: lambda e: True,
    DunningLetter.Issued: lambda e: True, CollectionEmail.Sent: lambda e: True,
    CollectionEmail.Failed: lambda e: True, CollectionEmail.PartlySent: lambda e: True,
    Activity.Closed: lambda e: True, Resubmission.Completed: lambda e: True,
    AgencyCase.Recalled: lambda e: True,
    AgencyCase.StatusReported: lambda e: e.status == AGENCY_CLOSED}
_INVOICE_MONEY = {Invoice.PaymentApplied: -1, Invoice.CreditMemoApplied: -1,
                  Invoice.PaymentReversed: 1}
_INVOICE_CLOSED = (Invoice.Cleared, Invoice.WrittenOff)
_STREAMS = (Customer, Invoice, CustomerCredit, PromiseToPay, DisputeCase, DunningLetter,
            CollectionEmail, CustomerContact, Activity, Resubmission, AgencyCase)


class Retention(Projection):
    name = "retention_streams"
    declared = (STREAM_TABLE, CUSTOMER_TABLE, HOLD_TABLE)
    stream_rows = (("retention_streams", "stream_id"),)
    handles = tuple(e for aggregate in (*_STREAMS, LegalHold) for e in _events(aggregate))

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        page = PageRows(conn, self.declared)
        streams, customers, holds = page[STREAM_TABLE], page[CUSTOMER_TABLE], page[HOLD_TABLE]
        streams.load({e.originator_id for e in events if type(e) not in CREATED}
                     | {i for e in events if type(e) is DisputeCase.Opened
                        for i in e.invoice_ids})
        holds.load(e.originator_id for e in events if type(e) is LegalHold.Released)
        customers.load(e.originator_id for e in events if isinstance(e, Customer.Event))
        for e in events:
            kind = type(e)
            if kind in _HOLD_EVENTS:
                _HOLD_EVENTS[kind](holds, e)
            elif isinstance(e, Customer.Event):
                _active(customers, e.originator_id, e.business_date)
            elif kind in CREATED:
                streams.add(_created(e, CREATED[kind], streams))
            elif (row := streams.rows.get(e.originator_id)) is not None:
                _fold(streams, row, e)
                if e.business_date > row["last_event_on"]:
                    streams.get(e.originator_id)["last_event_on"] = e.business_date  # type: ignore[index]
        page.write()

    def purge(self, conn: psycopg.Connection[Any], event: Any) -> None:
        super().purge(conn, event)
        dates = getattr(event, "last_activity", None) or {}
        if not dates:
            return
        page = PageRows(conn, (CUSTOMER_TABLE,))
        customers = page[CUSTOMER_TABLE]
        ids = {UUID(str(k)): v for k, v in dates.items()}
        customers.load(ids)
        for customer_id, day in sorted(ids.items()):
            _active(customers, customer_id, day)
        page.write()


def fold_stream(conn: psycopg.Connection[Any], events: Sequence[Any]) -> dict[str, Any] | None:
    """One stream's row as the model folds it, from the stream's events alone (an archived
    stream, whose row left the model when it was purged); None for a stream it does not keep."""
    streams = Rows(conn, STREAM_TABLE)
    for e in events:
        if type(e) in CREATED:
            streams.add(_created(e, CREATED[type(e)], streams))
        elif (row := streams.rows.get(e.originator_id)) is not None:
            _fold(streams, row, e)
    return next(iter(streams.rows.values()), None)


def _active(customers: Rows, customer_id: UUID, day: date) -> None:
    row = customers.rows.get(customer_id)
    if row is None:
        customers.add({"customer_id": customer_id, "customer_activity": day})
    elif day > row["customer_activity"]:
        customers.get(customer_id)["customer_activity"] = day  # type: ignore[index]


def _created(e: Any, record_class: str, streams: Rows) -> dict[str, Any]:
    kind = type(e)
    disputes: list[UUID] = []
    if kind is DisputeCase.Opened:
        disputes = [e.originator_id]
        for invoice_id in e.invoice_ids:  # the invoices' own DisputeLinked may come later
            _link(streams, invoice_id, e.originator_id)
    row = {"stream_id": e.originator_id, "record_class": record_class,
           "customer_id": e.customer_id,
           "invoice_id": e.invoice_id if kind is PromiseToPay.Issued else None,
           "dispute_ids": disputes, "trigger_on": None,
           "open_amount": e.amount if kind is Invoice.Posted else None, "final": False,
           "last_event_on": e.business_date}
    if kind in ENDING and ENDING[kind](e):
        row.update(trigger_on=e.business_date, final=True)
    return row


def _link(streams: Rows, invoice_id: UUID, dispute_id: UUID) -> None:
    row = streams.rows.get(invoice_id)
    if row is not None and dispute_id not in row["dispute_ids"]:
        streams.get(invoice_id)["dispute_ids"] = [*row["dispute_ids"], dispute_id]  # type: ignore[index]


def _fold(streams: Rows, row: dict[str, Any], e: Any) -> None:
    kind = type(e)
    if kind is Invoice.DisputeLinked:
        _link(streams, e.originator_id, e.dispute_id)
    elif kind in _INVOICE_MONEY and not row["final"]:
        streams.get(e.originator_id)
        row["open_amount"] += _INVOICE_MONEY[kind] * e.amount
        if row["open_amount"] <= 0:
            row["trigger_on"] = row["trigger_on"] or e.business_date
        else:
            row["trigger_on"] = None
    elif kind in _INVOICE_CLOSED and not row["final"]:
        streams.get(e.originator_id)
        row.update(open_amount=Decimal("0.00"), final=True,
                   trigger_on=row["trigger_on"] or e.business_date)
    elif kind is CollectionEmail.Corrected:  # to be sent again: not sent yet
        streams.get(e.originator_id)
        row["trigger_on"] = None
    elif kind in ENDING and row["trigger_on"] is None and ENDING[kind](e):
        streams.get(e.originator_id)
        row.update(trigger_on=e.business_date, final=not isinstance(e, CollectionEmail.Event))


def _hold_placed(holds: Rows, e: Any) -> None:
    holds.add({"hold_id": e.originator_id, "subject_kind": e.subject_kind,
               "subject_id": e.subject_id, "reference": e.reference,
               "placed_on": e.placed_on, "released_on": None})


def _hold_released(holds: Rows, e: Any) -> None:
    row = holds.get(e.originator_id)
    if row is not None:
        row["released_on"] = e.released_on


_HOLD_EVENTS: dict[type, Callable[[Rows, Any], None]] = {
    LegalHold.Opened: lambda holds, e: None, LegalHold.Placed: _hold_placed,
    LegalHold.Released: _hold_released}
