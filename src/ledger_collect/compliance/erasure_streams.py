"""Where a customer's personal data lives in the event store: the streams that hold it, by
record class, with the date their retention trigger happened (None: not yet).

The retention read model knows every stream's customer, record class and trigger date; until
it has been built, the timeline's records of the customer stand in (without trigger dates).
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic
from psycopg import sql

from ledger_collect.domain.activity import Activity
from ledger_collect.domain.agency_case import AgencyCase
from ledger_collect.domain.contact import CustomerContact
from ledger_collect.domain.credit import CustomerCredit
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.dunning_letter import DunningLetter
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.promise import PromiseToPay
from ledger_collect.domain.resubmission import Resubmission

#: The record class of each aggregate's streams (the retention policies' vocabulary).
RECORD_CLASSES: dict[type, str] = {
    Invoice: "invoice", CustomerCredit: "credit", PromiseToPay: "promise",
    DisputeCase: "dispute", DunningLetter: "dunning_letter", CollectionEmail: "email",
    CustomerContact: "contact", Activity: "activity", Resubmission: "resubmission",
    AgencyCase: "agency_case", Customer: "customer_personal"}


@cache
def personal_topics() -> list[str]:
    """The topics of every event that holds personal fields."""
    return sorted(get_topic(value) for cls in RECORD_CLASSES for value in vars(cls).values()
                  if isinstance(value, type) and getattr(value, "PERSONAL", ()))


def _class_of_topic(topic: str) -> str | None:
    for cls, record_class in RECORD_CLASSES.items():
        if topic.startswith(cls.TOPIC + "."):
            return record_class
    return None


def events_table(app: Any) -> sql.Composed:
    recorder = app.recorder
    return sql.SQL("{}.{}").format(sql.Identifier(recorder.datastore.schema or "public"),
                                   sql.Identifier(recorder.events_table_name))


def customer_streams(app: Any, customer_id: UUID) -> dict[UUID, tuple[str, date | None]]:
    """The customer's streams holding personal fields: stream id → (record class, trigger
    date). The customer's own stream is among them (``customer_personal``)."""
    from ledger_collect.compliance import retention

    with app.database.connect() as conn:
        known = getattr(retention, "customer_streams", None)
        if known is not None:
            return dict(known(conn, customer_id))
        ids = {row[0] for row in conn.execute(
            "SELECT DISTINCT object_id FROM timeline WHERE customer_id = %s UNION "
            "SELECT id FROM agency_cases WHERE customer_id = %s",
            (customer_id, customer_id)).fetchall()}
        ids.add(customer_id)
        rows = conn.execute(sql.SQL(
            "SELECT DISTINCT ON (originator_id) originator_id, topic FROM {} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(events_table(app)), (list(ids),)).fetchall()
    found: dict[UUID, tuple[str, date | None]] = {}
    for stream_id, topic in rows:
        record_class = _class_of_topic(topic)
        if record_class is not None:
            found[stream_id] = (record_class, None)
    return found
