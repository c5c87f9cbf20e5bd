"""Customer directory: master data, assignment, collection contacts and notes of every customer.

Writer. A page of Customer events is folded in memory: the customers it touches, and all
collection contacts of customers whose contacts change (a removed default contact hands the
role to the oldest remaining one, as the aggregate does), loaded with one query each; written
back with one upsert per table.

Readers (asyncpg). ``customers_by_id`` and the ``..._by_customer`` readers take many ids and
cost one query, for per-request loaders; ``search_customers`` pages through the directory by
number or name prefix, folded for case and accents.
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

from ledger_collect.domain.customer import Customer
from ledger_collect.projections import Projection
from ledger_collect.projections.forgetting import Personal
from ledger_collect.projections.rows import (
    Order,
    Page,
    PageRows,
    Part,
    Where,
    fetch_page,
    grouped_part,
    prefix_range,
    search_key,
    touch,
)
from ledger_collect.projections.tables import Key, Table, derived

#: Master data the ERP may change (``Customer.MasterDataChanged``), and how to read it.
MASTER_DATA = {"name": str, "segment": str, "credit_limit": Decimal, "currency": str,
               "risk_class": str, "head_office_id": UUID}


# -- tables ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CustomerRecord:
    id: UUID
    number: Key
    name: str
    number_key: Key  # number and name as searches compare them (``rows.search_key``)
    name_key: Key
    segment: Key
    specialist: Key | None
    head_office_id: UUID | None
    credit_limit: Decimal
    currency: str
    risk_class: str
    default_contact_id: Key | None
    registered_on: date
    changed_on: date
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class ContactPersonRecord:
    """A person to contact at the customer (name, email, phone: personal data)."""

    id: UUID  # ``person_row_id``
    customer_id: UUID
    contact_id: Key
    name: str
    email: str | None
    phone: str | None
    role: str | None
    ordinal: int  # the customer event version that added it: the order of the list
    removed_on: date | None
    is_default: bool = derived(default=False)


@dataclass(frozen=True)
class NoteRecord:
    """A note about the customer (its text is personal data)."""

    id: UUID  # ``note_row_id``
    customer_id: UUID
    note_id: str
    text: str
    ordinal: int
    written_on: date
    written_by: str


CUSTOMER_TABLE = Table("customers", CustomerRecord, unique=(("number",),))
PERSON_TABLE = Table("contact_persons", ContactPersonRecord,
                     unique=(("customer_id", "contact_id"),))
NOTE_TABLE = Table("customer_notes", NoteRecord)


def person_row_id(customer_id: UUID, contact_id: str) -> UUID:
    return uuid.uuid5(customer_id, f"contact:{contact_id}")


def note_row_id(customer_id: UUID, note_id: str) -> UUID:
    return uuid.uuid5(customer_id, f"note:{note_id}")


class Customers(Projection):
    name = "customers"
    declared = (CUSTOMER_TABLE, PERSON_TABLE, NOTE_TABLE)
    personal = (Personal("contact_persons", ("name", "email", "phone")),
                Personal("customer_notes", ("text",)))
    handles = (Customer.Registered, Customer.MasterDataChanged, Customer.Assigned,
               Customer.Unassigned, Customer.ContactAdded, Customer.ContactChanged,
               Customer.ContactRemoved, Customer.DefaultContactSet, Customer.NoteAdded)

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        page = PageRows(conn, self.declared)
        customers = page[CUSTOMER_TABLE]
        customers.load(e.originator_id for e in events if type(e) is not Customer.Registered)
        page[PERSON_TABLE].load({e.originator_id for e in events if type(e) in _PEOPLE_EVENTS},
                                by="customer_id")
        for event in events:
            row = customers.get(event.originator_id)
            if type(event) is Customer.Registered:
                _registered(page, event)
            elif row is not None:
                _FOLD[type(event)](page, row, event)
                touch(row, event)
        page.write()


def _current_people(page: PageRows, customer_id: UUID) -> list[dict[str, Any]]:
    return sorted((p for p in page[PERSON_TABLE].rows.values()
                   if p["customer_id"] == customer_id and p["removed_on"] is None),
                  key=lambda p: p["ordinal"])


def _registered(page: PageRows, e: Any) -> None:
    row = {"id": e.originator_id, "number": e.number, "name": e.name, "segment": e.segment,
           "specialist": None, "head_office_id": e.head_office_id,
           "credit_limit": e.credit_limit, "currency": e.currency, "risk_class": e.risk_class,
           "default_contact_id": None, "registered_on": e.business_date}
    _keys(row)
    touch(row, e)
    page[CUSTOMER_TABLE].add(row)


def _keys(row: dict[str, Any]) -> None:
    row["number_key"] = search_key(row["number"])
    row["name_key"] = search_key(row["name"])


def _master_data_changed(page: PageRows, row: dict[str, Any], e: Any) -> None:
    for key, value in e.changes.items():
        kind = MASTER_DATA.get(key)
        if kind is not None:
            row[key] = value if value is None or isinstance(value, kind) else kind(str(value))
    _keys(row)


def _person_added(page: PageRows, row: dict[str, Any], e: Any) -> None:
    page[PERSON_TABLE].add({
        "id": person_row_id(e.originator_id, e.contact_id), "customer_id": e.originator_id,
        "contact_id": e.contact_id, "name": e.name, "email": e.email, "phone": e.phone,
        "role": e.role, "ordinal": e.originator_version, "removed_on": None})
    if row["default_contact_id"] is None:
        row["default_contact_id"] = e.contact_id


def _person_changed(page: PageRows, row: dict[str, Any], e: Any) -> None:
    person = page[PERSON_TABLE].get(person_row_id(e.originator_id, e.contact_id))
    if person is not None:
        person.update(name=e.name, email=e.email, phone=e.phone, role=e.role)


def _person_removed(page: PageRows, row: dict[str, Any], e: Any) -> None:
    person = page[PERSON_TABLE].get(person_row_id(e.originator_id, e.contact_id))
    if person is not None:
        person["removed_on"] = e.business_date
    if row["default_contact_id"] == e.contact_id:
        remaining = _current_people(page, e.originator_id)
        row["default_contact_id"] = remaining[0]["contact_id"] if remaining else None


def _note_added(page: PageRows, row: dict[str, Any], e: Any) -> None:
    page[NOTE_TABLE].add({
        "id": note_row_id(e.originator_id, e.note_id), "customer_id": e.originator_id,
        "note_id": e.note_id, "text": e.text, "ordinal": e.originator_version,
        "written_on": e.business_date, "written_by": e.actor})


_FOLD: dict[type, Any] = {
    Customer.MasterDataChanged: _master_data_changed,
    Customer.Assigned: lambda page, row, e: row.update(specialist=e.specialist),
    Customer.Unassigned: lambda page, row, e: row.update(specialist=None),
    Customer.ContactAdded: _person_added,
    Customer.ContactChanged: _person_changed,
    Customer.ContactRemoved: _person_removed,
    Customer.DefaultContactSet: lambda page, row, e: row.update(default_contact_id=e.contact_id),
    Customer.NoteAdded: _note_added,
}
assert set(_FOLD) | {Customer.Registered} == set(Customers.handles)
_PEOPLE_EVENTS = frozenset((Customer.ContactAdded, Customer.ContactChanged,
                            Customer.ContactRemoved))


# -- readers (asyncpg; the pool's search_path is the app's schema) ----------------------------
_NUMBER = Order("number", "number", str)


#: The customers of the ids (as lists of one).
CUSTOMERS = grouped_part(CUSTOMER_TABLE, order="id", key="id")
#: The head offices of the customers of the ids (keyed by their own ids).
HEAD_OFFICES = Part(f"SELECT {CUSTOMER_TABLE.select()} FROM customers WHERE id IN"
                    " (SELECT head_office_id FROM customers WHERE id = ANY($1))",
                    CUSTOMER_TABLE.names, CUSTOMER_TABLE.make, key="id")
#: The branches of each head office, by number.
BRANCHES = grouped_part(CUSTOMER_TABLE, order="number", key="head_office_id")
#: Each customer's collection contacts in the order they were added, the default one
#: flagged; removed ones too (``removed_on`` set): past conversations name them.
CONTACT_PERSONS = Part(
    f"SELECT {PERSON_TABLE.select('p.')},"
    " coalesce(c.default_contact_id = p.contact_id, false) AS is_default"
    " FROM contact_persons p LEFT JOIN customers c ON c.id = p.customer_id"
    " WHERE p.customer_id = ANY($1) ORDER BY p.customer_id, p.ordinal",
    (*PERSON_TABLE.names, "is_default"), PERSON_TABLE.make)
#: Each customer's notes, oldest first.
NOTES = grouped_part(NOTE_TABLE, order="ordinal")
#: Batched readers, for per-request loaders: one query for many keys.
branches_by_customer = BRANCHES.fetch
contact_persons_by_customer = CONTACT_PERSONS.fetch
notes_by_customer = NOTES.fetch


async def customers_by_id(pool: Any,
                          customer_ids: Sequence[UUID]) -> dict[UUID, CustomerRecord | None]:
    """Each customer asked for (None for an unknown id): one query."""
    return only(await CUSTOMERS.fetch(pool, customer_ids))


def only(found: dict[UUID, list[CustomerRecord]]) -> dict[UUID, CustomerRecord | None]:
    """Customers read as lists of one (or none): the record or None, by id."""
    return {customer_id: records[0] if records else None
            for customer_id, records in found.items()}


async def search_customers(pool: Any, *, search: str | None = None, segment: str | None = None,
                           specialist: str | None = None, unassigned: bool = False,
                           first: int | None = None, after: str | None = None,
                           ) -> Page[CustomerRecord]:
    """Customers by number, those whose number or name starts with ``search`` (case and
    accents ignored), of a segment, of a specialist, or unassigned; one page after ``after``."""
    where = Where().when(segment, "segment = {}").when(specialist, "specialist = {}")
    if unassigned:
        where.add("specialist IS NULL")
    key = search_key((search or "").strip())
    if key:
        low, high = prefix_range(key)
        where.add('((number_key COLLATE "C" >= {0} AND number_key COLLATE "C" < {1})'
                  ' OR (name_key COLLATE "C" >= {0} AND name_key COLLATE "C" < {1}))', low, high)
    return await fetch_page(pool, CUSTOMER_TABLE, where, _NUMBER, first, after)
