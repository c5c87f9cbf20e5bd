"""Dunning: the procedures and which one applies, blocks on customers and invoices, and the
letters issued, with what their delivery did to each item.

Writer. The rows a page touches are loaded with one query per table (letters by their email's
id for the email events), folded in memory and written back with one statement per table. An
email that carries no letter, a letter whose email is unknown, a block on a record the model
never saw: nothing to do, never an error.

Readers: ``procedures`` (the GraphQL setup query), and the proposal (``dunning_proposal``),
which joins these tables with the open items, customers and correspondence models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain.base import derived_id
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dunning_letter import DunningLetter
from ledger_collect.domain.dunning_procedure import DunningSetup
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.domain.invoice import Invoice
from ledger_collect.projections import Projection
from ledger_collect.projections.forgetting import Personal
from ledger_collect.projections.rows import PageRows, Rows
from ledger_collect.projections.tables import Json, Key, Table

DEFAULT = ""  # the segment key of the default procedure
PENDING, SENT, FAILED, PARTLY_SENT = "pending", "sent", "failed", "partly_sent"
DELIVERED = (SENT, PARTLY_SENT)


# -- tables ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProcedureRecord:
    id: UUID
    code: Key
    definition: Json
    saved_on: date
    saved_by: str


@dataclass(frozen=True)
class AssignmentRecord:
    id: UUID
    segment: Key
    code: str


@dataclass(frozen=True)
class CustomerProcedureRecord:
    customer_id: UUID
    code: str


@dataclass(frozen=True)
class BlockRecord:
    id: UUID
    kind: str
    customer_id: UUID
    reason: str  # personal data
    blocked_until: date | None
    blocked_on: date
    blocked_by: str


@dataclass(frozen=True)
class LetterRecord:
    id: UUID
    email_id: UUID
    customer_id: UUID
    procedure: str
    currency: str
    kind: str
    level: int
    invoice_ids: list[UUID]
    levels: list[int]
    amount: Decimal
    fee: Decimal
    interest: Decimal
    issued_on: date
    issued_by: str
    status: str
    status_on: date


@dataclass(frozen=True)
class ItemRecord:
    invoice_id: UUID
    customer_id: UUID
    pending_letter_id: UUID | None
    letter_level: int
    letter_on: date | None
    reminded_on: date | None


PROCEDURE_TABLE = Table("dunning_procedures", ProcedureRecord, unique=(("code",),))
ASSIGNMENT_TABLE = Table("dunning_assignments", AssignmentRecord, unique=(("segment",),))
CUSTOMER_TABLE = Table("dunning_customer_procedures", CustomerProcedureRecord,
                       key=("customer_id",))
BLOCK_TABLE = Table("dunning_blocks", BlockRecord)
LETTER_TABLE = Table("dunning_letters", LetterRecord, unique=(("email_id",),))
ITEM_TABLE = Table("dunning_items", ItemRecord, key=("invoice_id",))

_SETUP = (DunningSetup.ProcedureSaved, DunningSetup.ProcedureRemoved, DunningSetup.DefaultSet,
          DunningSetup.SegmentSet)
_BLOCKS = (Customer.DunningBlocked, Customer.DunningBlockReleased, Invoice.DunningBlocked,
           Invoice.DunningBlockReleased)
_EMAILS = {CollectionEmail.Sent: SENT, CollectionEmail.PartlySent: PARTLY_SENT,
           CollectionEmail.Failed: FAILED, CollectionEmail.Corrected: PENDING}


class Dunning(Projection):
    name = "dunning"
    personal = (Personal("dunning_blocks", ("reason",)),)
    declared = (PROCEDURE_TABLE, ASSIGNMENT_TABLE, CUSTOMER_TABLE, BLOCK_TABLE, LETTER_TABLE,
                ITEM_TABLE)
    stream_rows = (("dunning_letters", "id"),)
    handles = (*_SETUP, Customer.DunningProcedureSet, *_BLOCKS, DunningLetter.Issued,
               *_EMAILS)

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        page = PageRows(conn, self.declared)
        _load(page, events)
        for e in events:
            _FOLD[type(e)](page, e)
        page.write()


def _load(page: PageRows, events: Sequence[Any]) -> None:
    kinds = {type(e) for e in events}
    if kinds & set(_SETUP):
        page[PROCEDURE_TABLE].load(_procedure_id(e.code) for e in events if type(e) in _SETUP)
        page[ASSIGNMENT_TABLE].load(_segment_id(_segment(e)) for e in events
                                    if type(e) in _SETUP)
    page[CUSTOMER_TABLE].load(e.originator_id for e in events
                              if type(e) is Customer.DunningProcedureSet)
    page[BLOCK_TABLE].load(e.originator_id for e in events if type(e) in _BLOCKS)
    letters = page[LETTER_TABLE]
    letters.load([e.originator_id for e in events if type(e) in _EMAILS], by="email_id")
    page.letters_by_email = {row["email_id"]: key  # type: ignore[attr-defined]
                             for key, row in letters.rows.items()}
    invoices = {i for row in letters.rows.values() for i in row["invoice_ids"]}
    invoices.update(item["invoice_id"] for e in events if type(e) is DunningLetter.Issued
                    for item in e.items)
    page[ITEM_TABLE].load(invoices)


def _segment(e: Any) -> str:
    return e.segment if type(e) is DunningSetup.SegmentSet else DEFAULT


def _procedure_id(code: str) -> UUID:
    return derived_id("dunning-procedure", code)


def _segment_id(segment: str) -> UUID:
    return derived_id("dunning-segment", segment)


# -- the setup ------------------------------------------------------------------------------
def _procedure_saved(page: PageRows, e: Any) -> None:
    page[PROCEDURE_TABLE].add({"id": _procedure_id(e.code), "code": e.code, "definition": _plain(e.definition),
                               "saved_on": e.business_date, "saved_by": e.actor})


def _plain(value: Any) -> Any:
    """A definition as JSON holds it: amounts as text, so that none is read back a float."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, Decimal) else value


def _procedure_removed(page: PageRows, e: Any) -> None:
    page[PROCEDURE_TABLE].remove(_procedure_id(e.code))


def _assigned(page: PageRows, e: Any) -> None:
    rows, segment = page[ASSIGNMENT_TABLE], _segment(e)
    if e.code is None:
        rows.remove(_segment_id(segment))
    else:
        rows.add({"id": _segment_id(segment), "segment": segment, "code": e.code})


def _customer_procedure(page: PageRows, e: Any) -> None:
    rows = page[CUSTOMER_TABLE]
    if e.code is None:
        rows.remove(e.originator_id)
    else:
        rows.add({"customer_id": e.originator_id, "code": e.code})


# -- blocks -----------------------------------------------------------------------------------
def _blocked(kind: str) -> Any:
    def fold(page: PageRows, e: Any) -> None:
        page[BLOCK_TABLE].add({
            "id": e.originator_id, "kind": kind,
            "customer_id": e.originator_id if kind == "customer" else e.customer_id,
            "reason": e.reason, "blocked_until": e.until, "blocked_on": e.business_date,
            "blocked_by": e.actor})
    return fold


def _released(page: PageRows, e: Any) -> None:
    page[BLOCK_TABLE].remove(e.originator_id)


# -- letters ----------------------------------------------------------------------------------
def _issued(page: PageRows, e: Any) -> None:
    page[LETTER_TABLE].add({
        "id": e.originator_id, "email_id": e.email_id, "customer_id": e.customer_id,
        "procedure": e.procedure, "currency": e.currency, "kind": e.kind, "level": e.level,
        "invoice_ids": [item["invoice_id"] for item in e.items],
        "levels": [item["level"] for item in e.items], "amount": e.amount, "fee": e.fee,
        "interest": e.interest, "issued_on": e.business_date, "issued_by": e.actor,
        "status": PENDING, "status_on": e.business_date})
    page.letters_by_email[e.email_id] = e.originator_id  # type: ignore[attr-defined]
    items = page[ITEM_TABLE]
    for item in e.items:
        row = _item(items, item["invoice_id"], e.customer_id)
        row["pending_letter_id"] = e.originator_id


def _item(items: Rows, invoice_id: UUID, customer_id: UUID) -> dict[str, Any]:
    row = items.get(invoice_id)
    if row is None:
        row = {"invoice_id": invoice_id, "customer_id": customer_id, "pending_letter_id": None,
               "letter_level": 0, "letter_on": None, "reminded_on": None}
        items.add(row)
    return row


def _email_status(page: PageRows, e: Any) -> None:
    """The letter follows its email; delivered, each item counts the level it announced."""
    key = page.letters_by_email.get(e.originator_id)  # type: ignore[attr-defined]
    letter = None if key is None else page[LETTER_TABLE].get(key)
    if letter is None:
        return
    status = _EMAILS[type(e)]
    letter.update(status=status, status_on=e.business_date)
    items = page[ITEM_TABLE]
    for invoice_id, level in zip(letter["invoice_ids"], letter["levels"], strict=True):
        row = _item(items, invoice_id, letter["customer_id"])
        if status == PENDING:
            row["pending_letter_id"] = letter["id"]
            continue
        if row["pending_letter_id"] == letter["id"]:
            row["pending_letter_id"] = None
        if status in DELIVERED and level == 0:
            row["reminded_on"] = e.business_date
        elif status in DELIVERED:
            row["letter_level"] = max(row["letter_level"], level)
            row["letter_on"] = (e.business_date if row["letter_on"] is None
                                else max(row["letter_on"], e.business_date))


_FOLD: dict[type, Any] = {
    DunningSetup.ProcedureSaved: _procedure_saved,
    DunningSetup.ProcedureRemoved: _procedure_removed,
    DunningSetup.DefaultSet: _assigned,
    DunningSetup.SegmentSet: _assigned,
    Customer.DunningProcedureSet: _customer_procedure,
    Customer.DunningBlocked: _blocked("customer"),
    Customer.DunningBlockReleased: _released,
    Invoice.DunningBlocked: _blocked("invoice"),
    Invoice.DunningBlockReleased: _released,
    DunningLetter.Issued: _issued,
    **dict.fromkeys(_EMAILS, _email_status),
}
assert set(_FOLD) == set(Dunning.handles)


# -- readers (asyncpg) ------------------------------------------------------------------------
async def procedures(pool: Any) -> tuple[list[ProcedureRecord], dict[str, str]]:
    """Every procedure by code, and which procedure each segment follows ('' the default)."""
    async with pool.acquire() as conn:
        saved = await conn.fetch(f"SELECT {PROCEDURE_TABLE.select()} FROM dunning_procedures"
                                 " ORDER BY code")
        assigned = await conn.fetch("SELECT segment, code FROM dunning_assignments")
    return ([PROCEDURE_TABLE.make(row) for row in saved],
            {row["segment"]: row["code"] for row in assigned})
