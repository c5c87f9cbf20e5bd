"""Where a customer's personal data lives in the event store: the streams that hold it, by
record class, with the date their retention trigger happened (None: not yet).

The retention read model (``retention_streams``) knows every stream's customer, record class
and trigger date.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from ledger_collect.domain.retention_policy import LAST_ACTIVITY

#: The read model that knows every stream's customer.
MODEL = "retention_streams"

#: The aggregates whose events may hold a customer's personal data.
AGGREGATES: tuple[type, ...] = (
    Invoice, CustomerCredit, PromiseToPay, DisputeCase, DunningLetter, CollectionEmail,
    CustomerContact, Activity, Resubmission, AgencyCase, Customer)


@cache
def personal_topics() -> list[str]:
    """The topics of every event that holds personal fields."""
    return sorted(get_topic(value) for cls in AGGREGATES for value in vars(cls).values()
                  if isinstance(value, type) and getattr(value, "PERSONAL", ()))


def events_table(app: Any) -> sql.Composed:
    recorder = app.recorder
    return sql.SQL("{}.{}").format(sql.Identifier(recorder.datastore.schema or "public"),
                                   sql.Identifier(recorder.events_table_name))


def behind(conn: Any, app: Any) -> bool:
    """The retention model has not read the whole log yet (a cheap check before a catch-up,
    which opens connections of its own)."""
    row = conn.execute(sql.SQL(
        "SELECT coalesce((SELECT position FROM projection_positions WHERE name = %s), 0)"
        " < (SELECT coalesce(max(notification_id), 0) FROM {})").format(events_table(app)),
        (MODEL,)).fetchone()
    return bool(row[0])


def customer_streams(conn: Any, customer_id: UUID,
                     policies: Mapping[str, Any]) -> dict[UUID, tuple[str, date | None]]:
    """The customer's streams: stream id → (record class, the date its policy's trigger
    happened, None while it has not). The customer's own stream is among them
    (``customer_personal``), as in the retention read model."""
    rows = conn.execute(
        "SELECT s.stream_id, s.record_class, s.trigger_on, c.last_activity"
        " FROM retention_streams s LEFT JOIN retention_customers c USING (customer_id)"
        " WHERE s.customer_id = %s", (customer_id,)).fetchall()
    found: dict[UUID, tuple[str, date | None]] = {customer_id: ("customer_personal", None)}
    for stream_id, record_class, trigger_on, last_activity in rows:
        policy = policies.get(record_class)
        by_activity = policy is not None and policy.trigger == LAST_ACTIVITY
        found[stream_id] = (record_class, last_activity if by_activity else trigger_on)
    return found
