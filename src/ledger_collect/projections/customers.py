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
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain.customer import Customer
from ledger_collect.projections import Projection, upsert
from ledger_collect.projections.rows import (
    Order,
    Page,
    Part,
    Rows,
    Where,
    fetch_page,
    fetch_part,
    grouped_part,
    names,
    prefix_range,
    search_key,
    touch,
)

CUSTOMER_COLUMNS = (
    ("id", "uuid"), ("number", "key"), ("name", "text"), ("number_key", "key"),
    ("name_key", "key"), ("segment", "key"), ("specialist", "key"),
    ("head_office_id", "uuid"), ("credit_limit", "numeric"), ("currency", "text"),
    ("risk_class", "text"), ("default_contact_id", "key"), ("registered_on", "date"),
    ("changed_on", "date"), ("changed_by", "text"), ("changed_at", "timestamptz"))
PERSON_COLUMNS = (
    ("id", "uuid"), ("customer_id", "uuid"), ("contact_id", "key"), ("name", "text"),
    ("email", "text"), ("phone", "text"), ("role", "text"), ("ordinal", "int"),
    ("removed_on", "date"))
NOTE_COLUMNS = (
    ("id", "uuid"), ("customer_id", "uuid"), ("note_id", "text"), ("text", "text"),
    ("ordinal", "int"), ("written_on", "date"), ("written_by", "text"))
#: Master data the ERP may change (``Customer.MasterDataChanged``), and how to read it.
MASTER_DATA = {"name": str, "segment": str, "credit_limit": Decimal, "currency": str,
               "risk_class": str, "head_office_id": UUID}


def person_row_id(customer_id: UUID, contact_id: str) -> UUID:
    return uuid.uuid5(customer_id, f"contact:{contact_id}")


def note_row_id(customer_id: UUID, note_id: str) -> UUID:
    return uuid.uuid5(customer_id, f"note:{note_id}")


class Customers(Projection):
    name = "customers"
    tables = ("customers", "contact_persons", "customer_notes")
    handles = (Customer.Registered, Customer.MasterDataChanged, Customer.Assigned,
               Customer.Unassigned, Customer.ContactAdded, Customer.ContactChanged,
               Customer.ContactRemoved, Customer.DefaultContactSet, Customer.NoteAdded)

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        page = _Page(conn, events)
        for event in events:
            row = page.customers.get(event.originator_id)
            if type(event) is Customer.Registered:
                _registered(page, event)
            elif row is not None:
                _FOLD[type(event)](page, row, event)
                touch(row, event)
        page.customers.write()
        page.people.write()
        upsert(conn, "customer_notes", NOTE_COLUMNS, page.notes)


class _Page:
    def __init__(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        self.customers = Rows(conn, "customers", CUSTOMER_COLUMNS, {
            e.originator_id for e in events if type(e) is not Customer.Registered})
        with_people = [e.originator_id for e in events if type(e) in _PEOPLE_EVENTS]
        self.people = Rows(conn, "contact_persons", PERSON_COLUMNS)
        if with_people:
            found = conn.execute(
                f"SELECT {', '.join(names(PERSON_COLUMNS))} FROM contact_persons"
                " WHERE customer_id = ANY(%s)", (with_people,)).fetchall()
            self.people.rows = {row[0]: dict(zip(names(PERSON_COLUMNS), row, strict=True))
                                for row in found}
        self.notes: list[tuple[Any, ...]] = []

    def current_people(self, customer_id: UUID) -> list[dict[str, Any]]:
        return sorted((p for p in self.people.rows.values()
                       if p["customer_id"] == customer_id and p["removed_on"] is None),
                      key=lambda p: p["ordinal"])


def _registered(page: _Page, e: Any) -> None:
    row = {"id": e.originator_id, "number": e.number, "name": e.name, "segment": e.segment,
           "specialist": None, "head_office_id": e.head_office_id,
           "credit_limit": e.credit_limit, "currency": e.currency, "risk_class": e.risk_class,
           "default_contact_id": None, "registered_on": e.business_date}
    _keys(row)
    touch(row, e)
    page.customers.add(row)


def _keys(row: dict[str, Any]) -> None:
    row["number_key"] = search_key(row["number"])
    row["name_key"] = search_key(row["name"])


def _master_data_changed(page: _Page, row: dict[str, Any], e: Any) -> None:
    for key, value in e.changes.items():
        kind = MASTER_DATA.get(key)
        if kind is not None:
            row[key] = value if value is None or isinstance(value, kind) else kind(str(value))
    _keys(row)


def _person_added(page: _Page, row: dict[str, Any], e: Any) -> None:
    page.people.add({
        "id": person_row_id(e.originator_id, e.contact_id), "customer_id": e.originator_id,
        "contact_id": e.contact_id, "name": e.name, "email": e.email, "phone": e.phone,
        "role": e.role, "ordinal": e.originator_version, "removed_on": None})
    if row["default_contact_id"] is None:
        row["default_contact_id"] = e.contact_id


def _person_changed(page: _Page, row: dict[str, Any], e: Any) -> None:
    person = page.people.get(person_row_id(e.originator_id, e.contact_id))
    if person is not None:
        person.update(name=e.name, email=e.email, phone=e.phone, role=e.role)


def _person_removed(page: _Page, row: dict[str, Any], e: Any) -> None:
    person = page.people.get(person_row_id(e.originator_id, e.contact_id))
    if person is not None:
        person["removed_on"] = e.business_date
    if row["default_contact_id"] == e.contact_id:
        remaining = page.current_people(e.originator_id)
        row["default_contact_id"] = remaining[0]["contact_id"] if remaining else None


def _note_added(page: _Page, row: dict[str, Any], e: Any) -> None:
    page.notes.append((note_row_id(e.originator_id, e.note_id), e.originator_id, e.note_id,
                       e.text, e.originator_version, e.business_date, e.actor))


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
@dataclass(frozen=True)
class CustomerRecord:
    id: UUID
    number: str
    name: str
    segment: str
    specialist: str | None
    head_office_id: UUID | None
    credit_limit: Decimal
    currency: str
    risk_class: str
    default_contact_id: str | None
    registered_on: date
    changed_on: date
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class ContactPersonRecord:
    """A person to contact at the customer (name, email, phone: personal data)."""

    customer_id: UUID
    contact_id: str
    name: str
    email: str | None
    phone: str | None
    role: str | None
    is_default: bool
    removed_on: date | None


@dataclass(frozen=True)
class NoteRecord:
    """A note about the customer (its text is personal data)."""

    customer_id: UUID
    note_id: str
    text: str
    written_on: date
    written_by: str


_CUSTOMER_FIELDS = [f.name for f in fields(CustomerRecord)]
_NOTE_FIELDS = [f.name for f in fields(NoteRecord)]
_NUMBER = Order("number", "number", str)


def _customer(row: Any) -> CustomerRecord:
    return CustomerRecord(**dict(row))


#: The customers of the ids (as lists of one).
CUSTOMERS = grouped_part("customers", _CUSTOMER_FIELDS, _customer, order="id", key="id")
#: The head offices of the customers of the ids (keyed by their own ids).
HEAD_OFFICES = Part(f"SELECT {', '.join(_CUSTOMER_FIELDS)} FROM customers WHERE id IN"
                    " (SELECT head_office_id FROM customers WHERE id = ANY($1))",
                    tuple(_CUSTOMER_FIELDS), _customer, key="id")
#: The branches of each head office, by number.
BRANCHES = grouped_part("customers", _CUSTOMER_FIELDS, _customer, order="number",
                        key="head_office_id")
#: Each customer's collection contacts in the order they were added, the default one
#: flagged; removed ones too (``removed_on`` set): past conversations name them.
CONTACT_PERSONS = Part(
    "SELECT p.customer_id, p.contact_id, p.name, p.email, p.phone, p.role, p.removed_on,"
    " coalesce(c.default_contact_id = p.contact_id, false) AS is_default"
    " FROM contact_persons p LEFT JOIN customers c ON c.id = p.customer_id"
    " WHERE p.customer_id = ANY($1) ORDER BY p.customer_id, p.ordinal",
    ("customer_id", "contact_id", "name", "email", "phone", "role", "removed_on",
     "is_default"), lambda row: ContactPersonRecord(**dict(row)))
#: Each customer's notes, oldest first.
NOTES = grouped_part("customer_notes", _NOTE_FIELDS, lambda row: NoteRecord(**dict(row)),
                     order="ordinal")


async def customers_by_id(pool: Any,
                          customer_ids: Sequence[UUID]) -> dict[UUID, CustomerRecord | None]:
    """Each customer asked for (None for an unknown id): one query."""
    return only(await fetch_part(pool, CUSTOMERS, customer_ids))


def only(found: dict[UUID, list[CustomerRecord]]) -> dict[UUID, CustomerRecord | None]:
    """Customers read as lists of one (or none): the record or None, by id."""
    return {customer_id: records[0] if records else None
            for customer_id, records in found.items()}


async def branches_by_customer(pool: Any,
                               customer_ids: Sequence[UUID]) -> dict[UUID, list[CustomerRecord]]:
    return await fetch_part(pool, BRANCHES, customer_ids)


async def contact_persons_by_customer(
        pool: Any, customer_ids: Sequence[UUID]) -> dict[UUID, list[ContactPersonRecord]]:
    return await fetch_part(pool, CONTACT_PERSONS, customer_ids)


async def notes_by_customer(pool: Any,
                            customer_ids: Sequence[UUID]) -> dict[UUID, list[NoteRecord]]:
    return await fetch_part(pool, NOTES, customer_ids)


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
    return await fetch_page(pool, "customers", _CUSTOMER_FIELDS, where, _NUMBER,
                            first, after, _customer)
