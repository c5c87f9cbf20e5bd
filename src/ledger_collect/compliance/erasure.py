"""GDPR erasure of one customer's personal data, and the data legal retention still keeps.

Erasing deletes the customer's data key: every personal field of every event, snapshot, backup
and archive segment reads ``ERASED`` from then on. What a legal retention period still requires
(a dispute's notes, a letter's addresses, while the invoice must be kept) is first copied into
``restricted_personal_data``, sealed with a key of its own, readable by auditors and compliance
only, and deleted when its retention ends (``expire_restricted``, run by the compliance job).

The steps are idempotent, so a run stopped anywhere is finished by running it again: an
active legal hold suspends the request (recorded, nothing erased); else the restricted copy is
written (rows already there are kept); the request is recorded with the customer's queued
emails cancelled; the key is deleted; the completion is recorded. Read models forget the personal fields when they read the completion
(``projections.erasure``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from psycopg import sql

from ledger_collect.commands.erasure_commands import complete_erasure, request_erasure
from ledger_collect.compliance import erasure_streams
from ledger_collect.domain.base import ERASED, NotFoundError
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.erasure_request import ErasureRequest, basis_of
from ledger_collect.projections.engine import catch_up
from ledger_collect.storage.bulk_reads import ids_by_topic
from ledger_collect.storage.personal_data import NONCE_BYTES

#: Retention that keeps nothing once the data subject asks.
NO_RETENTION = "P0D"


@dataclass(frozen=True)
class ErasureOutcome:
    """What an erasure did. ``status``: completed (now or before) or suspended (a legal hold:
    nothing erased). ``restricted_records``: personal fields kept under legal retention;
    ``retained_until``: the latest date one of them is kept to (None: some retention has not
    started, or none is kept)."""

    customer_id: UUID
    status: str
    hold_reference: str | None
    restricted_records: int
    retained_until: date | None
    position: int | None  # notification id of the last event recorded (None: nothing new)
    erased_now: bool


@dataclass(frozen=True)
class RestrictedRecord:
    """One personal field kept under legal retention after its subject's erasure."""

    stream_id: UUID
    originator_version: int
    record_class: str
    topic: str
    field: str
    value: Any
    retained_until: date | None
    restricted_on: date


def restricted_subject(customer_id: UUID) -> UUID:
    """The key-ring subject whose key seals a customer's restricted data."""
    return uuid.uuid5(customer_id, "restricted")


def erase_customer(app: Any, customer_id: UUID, basis: str, actor: str, *,
                   today: date | None = None) -> ErasureOutcome:
    """Erase the customer's personal data now, keeping under restriction what legal retention
    requires; suspended (nothing erased) while a legal hold is active. Refuses an unknown
    customer (``NotFoundError``) and an invalid basis (``ValidationError``)."""
    from ledger_collect.compliance.retention import active_hold, current_policies

    today = today or date.today()
    basis_of(basis)  # refused before anything is written
    request_id = ErasureRequest.create_id(customer_id)
    found = app.load_aggregates([customer_id, request_id])
    if not isinstance(found.get(customer_id), Customer):
        raise NotFoundError(f"customer {customer_id} does not exist")
    request = found.get(request_id)
    if isinstance(request, ErasureRequest) and request.completed:
        return _outcome(request, None, erased_now=False)
    with app.database.connect() as conn:
        if erasure_streams.behind(conn, app):
            catch_up(app, erasure_streams.MODEL)  # every stream of the customer, up to now
        hold = active_hold(app, customer_id=customer_id)
        if hold is not None:
            done = app.run(request_erasure, customer_id, basis, hold_reference=hold,
                           actor=actor, business_date=today)
            return _outcome(done[request_id], done.position, erased_now=False)
        policies = current_policies(app)
        streams = erasure_streams.customer_streams(conn, customer_id, policies)
        restrict(app, conn, customer_id, streams, policies, today)
        emails = [sid for sid, (cls, _) in streams.items() if cls == "email"]
        app.run(request_erasure, customer_id, basis, email_ids=emails, actor=actor,
                business_date=today)
        app.keyring.erase(customer_id, f"erasure: {basis}")
        count, until = restricted_summary(conn, customer_id)
    done = app.run(complete_erasure, customer_id, restricted_records=count,
                   retained_until=until, actor=actor, business_date=today)
    return _outcome(done[request_id], done.position, erased_now=True)


def _outcome(request: ErasureRequest, position: int | None, *,
             erased_now: bool) -> ErasureOutcome:
    return ErasureOutcome(request.customer_id, request.status, request.hold_reference,
                          request.restricted_records, request.retained_until, position,
                          erased_now)


# -- the restricted store -----------------------------------------------------------------------
def restrict(app: Any, conn: Any, customer_id: UUID,
             streams: dict[UUID, tuple[str, date | None]], policies: dict[str, Any],
             today: date) -> int:
    """Copy the customer's personal fields that a retention still requires into the restricted
    store (existing rows are kept: a second run adds nothing). Returns the rows written."""
    from ledger_collect.compliance.retention import retention_end

    kept = {sid: (cls, trigger) for sid, (cls, trigger) in streams.items()
            if _retained(policies.get(cls), retention_end(policies, cls, trigger), today)}
    if not kept:
        return 0
    subject = restricted_subject(customer_id)
    cipher = app.keyring.cipher_for(subject, create=True)
    rows = []
    for event in _personal_events(app, list(kept)):
        sid = event.originator_id
        record_class, trigger = kept[sid]
        until = retention_end(policies, record_class, trigger)
        for field in type(event).PERSONAL:
            value = getattr(event, field, None)
            if value is None or value == ERASED:
                continue
            nonce = os.urandom(NONCE_BYTES)
            sealed = nonce + cipher.encrypt(nonce, orjson.dumps(value),
                                            _aad(subject, sid, field))
            rows.append((sid, event.originator_version, field, customer_id, record_class,
                         type(event).TOPIC, sealed, until, today))
    if not rows:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO restricted_personal_data (stream_id, originator_version, field,"
            " customer_id, record_class, topic, sealed, retained_until, restricted_on)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", rows)
    return len(rows)


def _retained(policy: Any, end: date | None, today: date) -> bool:
    """A retention keeps the field: not none, and not over (or not started)."""
    if policy is None or policy.retain == NO_RETENTION:
        return False
    return end is None or end > today


def _aad(subject: UUID, stream_id: UUID, field: str) -> bytes:
    return subject.bytes + stream_id.bytes + field.encode()


def _personal_events(app: Any, stream_ids: list[UUID]) -> list[Any]:
    """The events holding personal fields of those streams, unsealed, in one query."""
    topics = erasure_streams.personal_topics()
    query = sql.SQL(
        "SELECT originator_id, originator_version, topic, state FROM {} "
        "WHERE originator_id = ANY(%s) AND topic = ANY(%s) "
        "ORDER BY originator_id, originator_version").format(erasure_streams.events_table(app))
    with app.recorder.datastore.transaction(commit=False) as curs:
        curs.execute(query, (stream_ids, topics))
        rows = curs.fetchall()
    return app.mapper.to_domain_events([
        StoredEvent(originator_id=r["originator_id"], originator_version=r["originator_version"],
                    topic=r["topic"], state=bytes(r["state"])) for r in rows])


def restricted_summary(conn: Any, customer_id: UUID) -> tuple[int, date | None]:
    """How many restricted fields the customer has, and the latest date one is kept to (None
    when some have no end yet, or there are none)."""
    count, unknown, latest = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE retained_until IS NULL),"
        " max(retained_until) FROM restricted_personal_data WHERE customer_id = %s",
        (customer_id,)).fetchone()
    return int(count), None if unknown else latest


def restricted_personal_data(app: Any, customer_id: UUID) -> list[RestrictedRecord]:
    """The customer's restricted personal data, unsealed (for auditors and compliance)."""
    subject = restricted_subject(customer_id)
    with app.database.connect() as conn:
        rows = conn.execute(
            "SELECT stream_id, originator_version, record_class, topic, field, sealed,"
            " retained_until, restricted_on FROM restricted_personal_data"
            " WHERE customer_id = %s ORDER BY stream_id, originator_version, field",
            (customer_id,)).fetchall()
    if not rows:
        return []
    cipher = app.keyring.cipher_for(subject, create=False)
    found = []
    for sid, version, record_class, topic, field, sealed, until, on in rows:
        value: Any = ERASED
        if cipher is not None:
            blob = bytes(sealed)
            value = orjson.loads(cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:],
                                                _aad(subject, sid, field)))
        found.append(RestrictedRecord(sid, version, record_class, topic, field, value, until,
                                      on))
    return found


def expire_restricted(app: Any, today: date) -> int:
    """Delete the restricted rows whose retention has ended by ``today`` (those without an end
    get it first, from their stream's trigger date if it has happened since), and erase the
    restricted key of each customer left with none. Returns the rows deleted. Idempotent."""
    from ledger_collect.compliance.retention import current_policies, retention_end

    policies = current_policies(app)
    with app.database.connect() as conn:
        open_ended = conn.execute(
            "SELECT DISTINCT customer_id FROM restricted_personal_data"
            " WHERE retained_until IS NULL").fetchall()
    for (customer_id,) in open_ended:
        _settle_ends(app, customer_id, policies, retention_end)
    with app.database.connect() as conn, conn.transaction():
        deleted = conn.execute(
            "DELETE FROM restricted_personal_data WHERE retained_until < %s"
            " RETURNING customer_id", (today,)).fetchall()
        customers = {row[0] for row in deleted}
        left = {row[0] for row in conn.execute(
            "SELECT DISTINCT customer_id FROM restricted_personal_data"
            " WHERE customer_id = ANY(%s)", (list(customers),)).fetchall()}
    for customer_id in customers - left:
        app.keyring.erase(restricted_subject(customer_id), "restricted retention ended")
    return len(deleted)


def _settle_ends(app: Any, customer_id: UUID, policies: dict[str, Any], end_of: Any) -> None:
    with app.database.connect() as conn:
        streams = erasure_streams.customer_streams(conn, customer_id, policies)
        updates = [(end_of(policies, cls, trigger), sid)
                   for sid, (cls, trigger) in streams.items() if trigger is not None]
        if not updates:
            return
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany("UPDATE restricted_personal_data SET retained_until = %s"
                            " WHERE stream_id = %s AND retained_until IS NULL", updates)


def erased_customers(conn: Any, ids: Iterable[UUID] | None = None) -> set[UUID]:
    """The customers (among ``ids``) whose personal data was erased: the key ring's record."""
    if ids is None:
        rows = conn.execute("SELECT subject_id FROM erased_subjects").fetchall()
    else:
        rows = conn.execute("SELECT subject_id FROM erased_subjects WHERE subject_id = ANY(%s)",
                            (list(ids),)).fetchall()
    return {row[0] for row in rows}


def erasure_requests(app: Any) -> list[ErasureRequest]:
    """Every erasure request, the latest asked first."""
    ids = [i for chunk in ids_by_topic(app, [get_topic(ErasureRequest.Requested)]) for i in chunk]
    found = [a for a in app.load_aggregates(ids).values() if isinstance(a, ErasureRequest)]
    return sorted(found, key=lambda r: (r.requested_on, str(r.customer_id)), reverse=True)
