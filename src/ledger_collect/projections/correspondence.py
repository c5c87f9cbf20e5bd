"""Correspondence: collection emails and customer contacts (conversations), one row each, and
the email templates saved (the latest version of each).

Writer: the records a page touches are loaded with one query per table, folded in memory and
written back with one upsert per table. Readers: ``emails_by_customer`` and
``customer_contacts_by_customer`` for the customer overview's loaders; ``saved_templates``.

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

from ledger_collect.domain.base import ERASED
from ledger_collect.domain.contact import CustomerContact
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.domain.email_template import EmailTemplate
from ledger_collect.projections import Projection
from ledger_collect.projections.forgetting import Personal
from ledger_collect.projections.rows import PageRows, grouped_part
from ledger_collect.projections.tables import Json, Key, Table


# -- tables ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class EmailRecord:
    id: UUID
    customer_id: UUID
    template: str
    status: str
    attempt: int
    recipients: Json  # personal data, as are last_error and failures: to, cc and bcc
    attachments: Json  # file names
    zipped: bool
    contact_id: UUID | None
    last_error: str | None
    failures: Json | None  # address -> error (partly sent)
    created_on: date
    created_by: str
    status_on: date
    language: str
    level: int | None  # the dunning level of a dunning letter

    @property
    def to(self) -> list[str]:
        return _listed(self.recipients["to"])

    @property
    def cc(self) -> list[str]:
        return _listed(self.recipients["cc"])

    @property
    def bcc(self) -> list[str]:
        return _listed(self.recipients["bcc"])


@dataclass(frozen=True)
class CustomerContactRecord:
    """One conversation (summary and notes: personal data)."""

    id: UUID
    customer_id: UUID
    contact_person_id: str | None
    channel: str
    result: str
    specialist: Key
    summary: str | None
    notes: str | None
    contact_date: date
    recorded_on: date
    recorded_by: str
    promise_ids: list[UUID]
    dispute_ids: list[UUID]
    resubmission_ids: list[UUID]


@dataclass(frozen=True)
class EmailTemplateRecord:
    """A saved email template as it stands (its id follows from key, language and level)."""

    id: UUID
    key: str
    language: str
    level: int | None
    subject: str
    body: str
    revision: int
    saved_by: str
    saved_on: date


def _listed(value: Any) -> list[str]:
    """A list as stored, or the one string an erased list replays as."""
    return list(value) if isinstance(value, list) else [str(value)]


EMAIL_TABLE = Table("collection_emails", EmailRecord)
CONTACT_TABLE = Table("customer_contacts", CustomerContactRecord)
TEMPLATE_TABLE = Table("email_templates", EmailTemplateRecord)


class Correspondence(Projection):
    name = "correspondence"
    declared = (EMAIL_TABLE, CONTACT_TABLE, TEMPLATE_TABLE)
    stream_rows = (("collection_emails", "id"), ("customer_contacts", "id"))
    personal = (
        Personal("collection_emails", ("template", "last_error"), {
            "recipients": "(SELECT jsonb_object_agg(k, CASE WHEN v = 'null' THEN v ELSE "
                          f"to_jsonb('{ERASED}'::text) END) FROM jsonb_each({{c}}) AS r(k, v))",
            "attachments": f"jsonb_build_array('{ERASED}'::text)",
            "failures": f"CASE WHEN {{c}} IS NULL THEN NULL ELSE to_jsonb('{ERASED}'::text) END"}),
        Personal("customer_contacts", ("contact_person_id", "summary", "notes")))
    handles = (CollectionEmail.Created, CollectionEmail.Sent, CollectionEmail.Failed,
               CollectionEmail.PartlySent, CollectionEmail.Corrected,
               CustomerContact.Recorded, CustomerContact.Linked,
               EmailTemplate.Saved, EmailTemplate.Changed)

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        page = PageRows(conn, self.declared)
        page.fold_records(events, _TABLE, _CREATED, _FOLD)
        page.write()


def _recipients(e: Any) -> dict[str, Any]:
    return {"to": e.to, "cc": e.cc, "bcc": e.bcc}


def _email_created(e: Any) -> dict[str, Any]:
    return {"id": e.originator_id, "customer_id": e.customer_id, "template": e.template,
            "status": "pending", "attempt": 1, "recipients": _recipients(e),
            "attachments": _listed(e.attachments), "zipped": e.zipped, "contact_id": e.contact_id,
            "last_error": None, "failures": None, "created_on": e.business_date,
            "created_by": e.actor, "status_on": e.business_date,
            "language": getattr(e, "language", "en"), "level": getattr(e, "level", None)}


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


def _template_saved(e: Any) -> dict[str, Any]:
    return {"id": e.originator_id, "key": e.key, "language": e.language, "level": e.level,
            "subject": e.subject, "body": e.body, "revision": 1, "saved_by": e.actor,
            "saved_on": e.business_date}


def _template_changed(row: dict[str, Any], e: Any) -> None:
    row.update(subject=e.subject, body=e.body, revision=row["revision"] + 1, saved_by=e.actor,
               saved_on=e.business_date)


_CREATED: dict[type, Any] = {
    CollectionEmail.Created: _email_created,
    CustomerContact.Recorded: _contact_recorded,
    EmailTemplate.Saved: _template_saved,
}
_FOLD: dict[type, Any] = {
    CollectionEmail.Sent: _email_status("sent"),
    CollectionEmail.Failed: _email_status("failed", last_error=lambda e: e.error),
    CollectionEmail.PartlySent: _email_status("partly_sent", failures=lambda e: e.failures),
    CollectionEmail.Corrected: _corrected,
    CustomerContact.Linked: _linked,
    EmailTemplate.Changed: _template_changed,
}
_TABLES = {"CollectionEmail": EMAIL_TABLE, "CustomerContact": CONTACT_TABLE,
           "EmailTemplate": TEMPLATE_TABLE}
_TABLE = {cls: _TABLES[cls.__qualname__.partition(".")[0]] for cls in Correspondence.handles}
assert set(_CREATED) | set(_FOLD) == set(Correspondence.handles)


# -- readers (asyncpg; the pool's search_path is the app's schema) ----------------------------
def _email(row: Any) -> EmailRecord:
    """The record of a row whose JSON columns are text, as asyncpg reads them."""
    values = dict(row)
    failures = values["failures"]
    values.update(recipients=json.loads(values["recipients"]),
                  attachments=_listed(json.loads(values["attachments"])),
                  failures=None if failures is None else json.loads(failures))
    return EmailRecord(**values)


#: Each customer's collection emails, newest first.
EMAILS = grouped_part(EMAIL_TABLE, _email, order="created_on DESC, id DESC")
#: Each customer's conversations, latest first.
CONVERSATIONS = grouped_part(CONTACT_TABLE, order="contact_date DESC, recorded_on DESC, id DESC")
#: Batched readers, for per-request loaders: one query for many keys.
emails_by_customer = EMAILS.fetch
customer_contacts_by_customer = CONVERSATIONS.fetch


async def saved_templates(pool: Any) -> list[EmailTemplateRecord]:
    """Every saved email template (its latest version), by key, language and level."""
    rows = await pool.fetch(f"SELECT {TEMPLATE_TABLE.select()} FROM {TEMPLATE_TABLE.name} "
                            f"ORDER BY key, language, level NULLS FIRST")
    return [TEMPLATE_TABLE.make(row) for row in rows]


def pending_email_ids(conn: psycopg.Connection[Any]) -> list[UUID]:
    """Ids of the emails the model shows pending, oldest first (for the mailer's sweep)."""
    rows = conn.execute(f"SELECT id FROM {EMAIL_TABLE.name} WHERE status = 'pending' "
                        f"ORDER BY status_on, id").fetchall()
    return [row[0] for row in rows]
