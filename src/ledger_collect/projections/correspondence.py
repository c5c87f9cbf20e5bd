"""Correspondence: collection emails and customer contacts (conversations), one row each.

Writer: the records a page touches are loaded with one query per table, folded in memory and
written back with one upsert per table. Readers: ``emails_by_customer`` and
``customer_contacts_by_customer`` for the customer overview's loaders.

Once a customer's data key is erased, the personal fields of these events replay as
``"[erased]"`` — a recipient list as that one string — and are stored so; readers hand
recipient lists back as lists either way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain.contact import CustomerContact
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.projections import Projection
from ledger_collect.projections.rows import Rows, fetch_part, grouped_part, names

EMAIL_COLUMNS = (
    ("id", "uuid"), ("customer_id", "uuid"), ("template", "text"), ("status", "text"),
    ("attempt", "int"), ("recipients", "jsonb"), ("attachments", "jsonb"), ("zipped", "bool"),
    ("contact_id", "uuid"), ("last_error", "text"), ("failures", "jsonb"),
    ("created_on", "date"), ("created_by", "text"), ("status_on", "date"))
CONTACT_COLUMNS = (
    ("id", "uuid"), ("customer_id", "uuid"), ("contact_person_id", "text"), ("channel", "text"),
    ("result", "text"), ("specialist", "key"), ("summary", "text"), ("notes", "text"),
    ("contact_date", "date"), ("recorded_on", "date"), ("recorded_by", "text"),
    ("promise_ids", "uuid[]"), ("dispute_ids", "uuid[]"), ("resubmission_ids", "uuid[]"))


class Correspondence(Projection):
    name = "correspondence"
    tables = ("collection_emails", "customer_contacts")
    handles = (CollectionEmail.Created, CollectionEmail.Sent, CollectionEmail.Failed,
               CollectionEmail.PartlySent, CollectionEmail.Corrected,
               CustomerContact.Recorded, CustomerContact.Linked)

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        tables = {table: Rows(conn, table, columns, {
                      e.originator_id for e in events
                      if _TABLE[type(e)] == table and type(e) not in _CREATED})
                  for table, columns in (("collection_emails", EMAIL_COLUMNS),
                                         ("customer_contacts", CONTACT_COLUMNS))}
        for e in events:
            rows = tables[_TABLE[type(e)]]
            if type(e) in _CREATED:
                rows.add(_CREATED[type(e)](e))
            elif (row := rows.get(e.originator_id)) is not None:
                _FOLD[type(e)](row, e)
        for rows in tables.values():
            rows.write()


def _recipients(e: Any) -> dict[str, Any]:
    return {"to": e.to, "cc": e.cc, "bcc": e.bcc}


def _email_created(e: Any) -> dict[str, Any]:
    return {"id": e.originator_id, "customer_id": e.customer_id, "template": e.template,
            "status": "pending", "attempt": 1, "recipients": _recipients(e),
            "attachments": list(e.attachments), "zipped": e.zipped, "contact_id": e.contact_id,
            "last_error": None, "failures": None, "created_on": e.business_date,
            "created_by": e.actor, "status_on": e.business_date}


def _email_status(status: str, **fields: Any) -> Any:
    def fold(row: dict[str, Any], e: Any) -> None:
        row.update(status=status, status_on=e.business_date,
                   **{column: read(e) for column, read in fields.items()})
    return fold


def _corrected(row: dict[str, Any], e: Any) -> None:
    row.update(status="pending", status_on=e.business_date, attempt=row["attempt"] + 1,
               recipients=_recipients(e), last_error=None, failures=None)


def _contact_recorded(e: Any) -> dict[str, Any]:
    return {"id": e.originator_id, "customer_id": e.customer_id,
            "contact_person_id": e.contact_person_id, "channel": e.channel,
            "result": e.result, "specialist": e.specialist, "summary": e.summary,
            "notes": e.notes, "contact_date": e.contact_date, "recorded_on": e.business_date,
            "recorded_by": e.actor, "promise_ids": [], "dispute_ids": [],
            "resubmission_ids": []}


def _linked(row: dict[str, Any], e: Any) -> None:
    for kind in ("promise_ids", "dispute_ids", "resubmission_ids"):
        row[kind] = [*row[kind], *getattr(e, kind)]


_CREATED: dict[type, Any] = {
    CollectionEmail.Created: _email_created,
    CustomerContact.Recorded: _contact_recorded,
}
_FOLD: dict[type, Any] = {
    CollectionEmail.Sent: _email_status("sent"),
    CollectionEmail.Failed: _email_status("failed", last_error=lambda e: e.error),
    CollectionEmail.PartlySent: _email_status("partly_sent", failures=lambda e: e.failures),
    CollectionEmail.Corrected: _corrected,
    CustomerContact.Linked: _linked,
}
_TABLE = {cls: ("collection_emails" if cls.__qualname__.startswith("CollectionEmail.")
                else "customer_contacts") for cls in Correspondence.handles}
assert set(_CREATED) | set(_FOLD) == set(Correspondence.handles)


# -- readers (asyncpg; the pool's search_path is the app's schema) ----------------------------
@dataclass(frozen=True)
class EmailRecord:
    id: UUID
    customer_id: UUID
    template: str
    status: str
    attempt: int
    to: list[str]  # personal data, as are cc, bcc, last_error and failures
    cc: list[str]
    bcc: list[str]
    attachments: list[str]
    zipped: bool
    contact_id: UUID | None
    last_error: str | None
    failures: dict[str, str] | str | None
    created_on: date
    created_by: str
    status_on: date


@dataclass(frozen=True)
class CustomerContactRecord:
    """One conversation (summary and notes: personal data)."""

    id: UUID
    customer_id: UUID
    contact_person_id: str | None
    channel: str
    result: str
    specialist: str
    summary: str | None
    notes: str | None
    contact_date: date
    recorded_on: date
    recorded_by: str
    promise_ids: list[UUID]
    dispute_ids: list[UUID]
    resubmission_ids: list[UUID]


def _listed(value: Any) -> list[str]:
    return list(value) if isinstance(value, list) else [str(value)]


def _email(row: Any, decode: Any) -> EmailRecord:
    values = dict(row)
    recipients = decode(values.pop("recipients"))
    failures = values.pop("failures")
    attachments = _listed(decode(values.pop("attachments")))
    return EmailRecord(
        **values, to=_listed(recipients["to"]), cc=_listed(recipients["cc"]),
        bcc=_listed(recipients["bcc"]), attachments=attachments,
        failures=None if failures is None else decode(failures))


_EMAIL_FIELDS = names(EMAIL_COLUMNS)
_CONTACT_FIELDS = names(CONTACT_COLUMNS)


#: Each customer's collection emails, newest first.
EMAILS = grouped_part("collection_emails", _EMAIL_FIELDS, lambda row: _email(row, json.loads),
                      order="created_on DESC, id DESC")
#: Each customer's conversations, latest first.
CONVERSATIONS = grouped_part("customer_contacts", _CONTACT_FIELDS,
                             lambda row: CustomerContactRecord(**dict(row)),
                             order="contact_date DESC, recorded_on DESC, id DESC")


async def emails_by_customer(pool: Any,
                             customer_ids: Sequence[UUID]) -> dict[UUID, list[EmailRecord]]:
    return await fetch_part(pool, EMAILS, customer_ids)


async def customer_contacts_by_customer(
        pool: Any, customer_ids: Sequence[UUID]) -> dict[UUID, list[CustomerContactRecord]]:
    return await fetch_part(pool, CONVERSATIONS, customer_ids)
