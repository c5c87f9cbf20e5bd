"""Dispute cases: one row per case, amounts tracked separately (original, credited, paid,
written off, still disputed), and the notes written on it.

Writer: the cases a page touches are loaded with one query, folded in memory, written back with
one upsert; notes are only ever added (one upsert per page). Readers: ``disputes_by_customer``
and ``dispute_notes_by_dispute`` for loaders, ``list_disputes`` for the dispute list. Open
items keeps its own view of disputes (what they take out of each invoice); this one is the
case file.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain import dispute
from ledger_collect.domain.base import ZERO
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.projections import Projection
from ledger_collect.projections.casework import NO_FILTER, ListFilter, filtered, ordered
from ledger_collect.projections.forgetting import Personal
from ledger_collect.projections.rows import (
    Page,
    PageRows,
    Where,
    fetch_page,
    grouped_part,
    orders,
    touch,
)
from ledger_collect.projections.tables import Key, Table

#: The note a case is opened with (the aggregate keeps it under this id too).
OPENING_NOTE = "opening"


# -- tables ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DisputeRecord:
    id: UUID
    customer_id: UUID
    invoice_ids: list[UUID]
    currency: str
    reason: str
    processor: Key
    status: Key
    resolution: str | None
    original_amount: Decimal
    credited: Decimal
    paid: Decimal
    written_off: Decimal
    still_disputed: Decimal
    notes: int
    opened_on: date
    opened_by: str
    resolved_on: date | None
    closed_on: date | None
    changed_on: date
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class DisputeNoteRecord:
    id: UUID  # ``note_row_id``
    dispute_id: UUID
    customer_id: UUID
    note_id: str
    text: str  # personal data
    ordinal: int  # the dispute event version: the order of writing
    written_on: date
    written_by: str


DISPUTE_TABLE = Table("disputes", DisputeRecord)
NOTE_TABLE = Table("dispute_notes", DisputeNoteRecord)


def note_row_id(dispute_id: UUID, note_id: str) -> UUID:
    return uuid.uuid5(dispute_id, f"note:{note_id}")


class Disputes(Projection):
    name = "disputes"
    declared = (DISPUTE_TABLE, NOTE_TABLE)
    stream_rows = (("disputes", "id"), ("dispute_notes", "dispute_id"))
    personal = (Personal("dispute_notes", ("text",)),)
    handles = (DisputeCase.Opened, DisputeCase.ProcessingStarted, DisputeCase.ProcessorChanged,
               DisputeCase.ProgressRecorded, DisputeCase.SettledOnInvoice, DisputeCase.Resolved,
               DisputeCase.Closed, DisputeCase.NoteAdded)

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        page = PageRows(conn, self.declared)
        cases, notes = page[DISPUTE_TABLE], page[NOTE_TABLE]
        cases.load(e.originator_id for e in events if type(e) is not DisputeCase.Opened)
        for e in events:
            if type(e) is DisputeCase.Opened:
                cases.add(_opened(e))
                if e.note:
                    notes.add(_note(e, OPENING_NOTE, e.note))
            elif (row := cases.get(e.originator_id)) is not None:
                if type(e) is DisputeCase.NoteAdded:
                    notes.add(_note(e, e.note_id, e.text))
                    row["notes"] += 1
                else:
                    if type(e) in _FOLD:
                        _FOLD[type(e)](row, e)
                    row["status"] = dispute.status_after(e, row["status"])
                touch(row, e)
        page.write()


def _opened(e: Any) -> dict[str, Any]:
    row = {"id": e.originator_id, "customer_id": e.customer_id,
           "invoice_ids": list(e.invoice_ids), "currency": e.currency, "reason": e.reason,
           "processor": e.processor, "status": dispute.OPEN, "resolution": None,
           "original_amount": e.amount, "credited": ZERO, "paid": ZERO, "written_off": ZERO,
           "still_disputed": e.amount, "notes": 1 if e.note else 0,
           "opened_on": e.business_date, "opened_by": e.actor, "resolved_on": None,
           "closed_on": None}
    touch(row, e)
    return row


def _note(e: Any, note_id: str, text: str) -> dict[str, Any]:
    return {"id": note_row_id(e.originator_id, note_id), "dispute_id": e.originator_id,
            "customer_id": e.customer_id, "note_id": note_id, "text": text,
            "ordinal": e.originator_version, "written_on": e.business_date,
            "written_by": e.actor}


def _settled(row: dict[str, Any], e: Any) -> None:
    row["credited"] += e.credited
    row["paid"] += e.paid
    row["written_off"] += e.written_off
    row["still_disputed"] = (row["original_amount"] - row["credited"] - row["paid"]
                             - row["written_off"])


def _resolved(row: dict[str, Any], e: Any) -> None:
    _settled(row, e)
    row.update(resolution=e.resolution, resolved_on=e.business_date)


_FOLD: dict[type, Any] = {
    DisputeCase.ProcessorChanged: lambda row, e: row.update(processor=e.processor),
    DisputeCase.ProgressRecorded: _settled,
    DisputeCase.SettledOnInvoice: _settled,
    DisputeCase.Resolved: _resolved,
    DisputeCase.Closed: lambda row, e: row.update(closed_on=e.business_date),
}
assert set(_FOLD) | {DisputeCase.Opened, DisputeCase.NoteAdded,
                    DisputeCase.ProcessingStarted} == set(Disputes.handles)


# -- readers (asyncpg; the pool's search_path is the app's schema) ----------------------------
DISPUTE_ORDERS = orders(opened_on=date, still_disputed=Decimal, original_amount=Decimal)


#: Each customer's cases, latest opened first.
DISPUTES = grouped_part(DISPUTE_TABLE, order="opened_on DESC, id DESC")
#: Each case's notes in the order they were written (the opening note first).
DISPUTE_NOTES = grouped_part(NOTE_TABLE, order="ordinal", key="dispute_id")
#: Batched readers, for per-request loaders: one query for many keys.
disputes_by_customer = DISPUTES.fetch
dispute_notes_by_dispute = DISPUTE_NOTES.fetch


async def list_disputes(pool: Any, given: ListFilter = NO_FILTER, *,
                        processor: str | None = None, sort: str = "opened_on",
                        descending: bool = False, first: int | None = None,
                        after: str | None = None) -> Page[DisputeRecord]:
    """Cases by opening date (or amount still disputed, or original amount); dates filter the
    opening date; ``processor`` who works the case, the specialist the customer's."""
    where = filtered(Where(), given, "opened_on").when(processor, "processor = {}")
    return await fetch_page(pool, DISPUTE_TABLE, where,
                            ordered(DISPUTE_ORDERS, sort, descending), first, after)
