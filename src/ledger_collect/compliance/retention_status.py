"""Which policy keeps a record, until when, and why: for a customer (each record class it has,
and its personal data), an invoice (with its promises and disputes) or a dispute (with its
invoices and their promises).

A record is kept until its policy's action is due (its trigger plus ``after``), and the law
keeps it (archived, if archiving) until its retention ends (trigger plus ``retain``). A record
whose trigger has not happened is kept with no end in sight; a legal hold on its customer or
on a dispute over it suspends every purge and erasure, whatever the dates say. Holds are read
from their aggregates (what an erasure would see), the rest from the ``retention_streams``
read model; an invoice or dispute archived and purged from the store (its row gone from the
model) is answered from the archive: its index says where, its events say which policy
governs it and until when.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from uuid import UUID

from ledger_collect.compliance.retention import Policy, current_policies, retention_end
from ledger_collect.domain.legal_hold import LegalHold
from ledger_collect.domain.retention_policy import LAST_ACTIVITY, Period

_STREAM = ("SELECT stream_id, record_class, customer_id, invoice_id, dispute_ids, trigger_on"
           " FROM retention_streams")
_LAST_ACTIVE = "SELECT last_activity FROM retention_customers WHERE customer_id = %s"
_TRIGGERED = {"cleared": "cleared", "closed": "closed", "sent": "sent",
              LAST_ACTIVITY: "last active"}


@dataclass(frozen=True)
class KeptRecord:
    """One record (a stream), or all of a customer's records of one class (``records`` > 1)."""

    record_class: str
    stream_id: UUID | None  # None: a customer's records of the class, taken together
    records: int
    policy: Policy
    trigger_on: date | None  # the latest trigger among them; None while one has not happened
    action_on: date | None  # when the policy's action is (first) due
    retained_until: date | None  # the legal retention's end; None while unknown
    held_by: str | None  # the reference of the legal hold that suspends the action
    why: str


@dataclass(frozen=True)
class RetentionStatus:
    subject_kind: str  # customer, invoice or dispute
    subject_id: UUID
    customer_id: UUID
    last_activity: date | None
    held_by: str | None
    records: list[KeptRecord]


def status_of(app: Any, subject_kind: str, subject_id: UUID, today: date) -> RetentionStatus | None:
    """The subject's status as of ``today``; None when the read model does not know it."""
    policies = current_policies(app)
    with app.database.connect() as conn:
        if subject_kind == "customer":
            found = conn.execute(_LAST_ACTIVE, (subject_id,)).fetchone()
            if found is None:
                return None
            customer_id, streams = subject_id, []
            classes = conn.execute(
                "SELECT record_class, count(*), count(*) - count(trigger_on), min(trigger_on),"
                " max(trigger_on), array_agg(DISTINCT d) FILTER (WHERE d IS NOT NULL)"
                " FROM retention_streams LEFT JOIN LATERAL unnest(dispute_ids) d ON true"
                " WHERE customer_id = %s GROUP BY record_class ORDER BY record_class",
                (subject_id,)).fetchall()
        else:
            streams = _streams(conn, subject_kind, subject_id)
            archived = {} if streams else _archived(app, conn, subject_kind, subject_id)
            if archived:
                streams = [archived.pop("row")]
            elif not streams:
                return None
            customer_id, classes = streams[0][2], []
            found = conn.execute(_LAST_ACTIVE, (customer_id,)).fetchone()
    last_activity = found[0] if found else None
    disputes = {d for s in streams for d in s[4]} | {d for c in classes for d in c[5] or ()}
    holds = _holds(app, [customer_id, *sorted(disputes)])
    customer_hold = holds.get(customer_id)
    records = []
    if subject_kind == "customer":
        records.append(_personal(policies, last_activity, customer_hold, today))
        for record_class, count, waiting, first, latest, held in classes:
            hold = customer_hold or next((holds[d] for d in held or () if d in holds), None)
            records.append(_kept(policies[record_class], None, count, waiting, first, latest,
                                 last_activity, hold, today))
    else:
        for stream_id, record_class, _, _, dispute_ids, trigger_on in streams:
            hold = customer_hold or next((holds[d] for d in dispute_ids if d in holds), None)
            records.append(_kept(policies[record_class], stream_id, 1,
                                 int(trigger_on is None), trigger_on, trigger_on,
                                 last_activity, hold, today))
        if archived:
            records[0] = replace(records[0], why=f"archived in segment "
                                 f"{', '.join(map(str, archived['segments']))}; {records[0].why}")
    held = customer_hold or (records[0].held_by if subject_kind != "customer" else None)
    return RetentionStatus(subject_kind, subject_id, customer_id, last_activity, held, records)


def _streams(conn: Any, subject_kind: str, subject_id: UUID) -> list[tuple[Any, ...]]:
    """The record first, then what goes with it: an invoice's disputes and promises; a
    dispute's invoices and the promises on them. Each dispute row carries itself as its
    dispute, an invoice its disputes, a promise its invoice's."""
    first = conn.execute(f"{_STREAM} WHERE stream_id = %s AND record_class = %s",
                         (subject_id, subject_kind)).fetchone()
    if first is None:
        return []
    if subject_kind == "invoice":
        invoices = [first]
        others = conn.execute(f"{_STREAM} WHERE stream_id = ANY(%s) ORDER BY stream_id",
                              (first[4],)).fetchall()
    else:
        invoices = conn.execute(f"{_STREAM} WHERE record_class = 'invoice' AND dispute_ids @>"
                                " ARRAY[%s]::uuid[] ORDER BY stream_id", (subject_id,)).fetchall()
        others = invoices
    invoice_disputes = {row[0]: row[4] for row in invoices}
    promises = conn.execute(f"{_STREAM} WHERE invoice_id = ANY(%s) ORDER BY stream_id",
                            (list(invoice_disputes),)).fetchall()
    promises = [(*row[:4], invoice_disputes[row[3]], row[5]) for row in promises]
    return [first, *others, *promises]


def _archived(app: Any, conn: Any, subject_kind: str, stream_id: UUID) -> dict[str, Any]:
    """An invoice or dispute purged from the store after it was archived: its row as the
    retention model had it, folded again from its archived events, and its segments (from
    the archive's index); empty when it is not archived."""
    from ledger_collect.compliance.archive import open_archive, segment_index
    from ledger_collect.compliance.archive.reader import EventReader
    from ledger_collect.projections.retention_streams import fold_stream

    segments = segment_index.segments_of(conn, stream_id)
    if not segments:
        return {}
    archive = open_archive(app.settings, app.database, create_key=False)
    row = fold_stream(conn, EventReader(app, archive).events(stream_id))
    if row is None or row["record_class"] != subject_kind:
        return {}
    return {"row": tuple(row[c] for c in ("stream_id", "record_class", "customer_id",
                                          "invoice_id", "dispute_ids", "trigger_on")),
            "segments": segments}


def _holds(app: Any, subjects: list[UUID]) -> dict[UUID, str]:
    """The active holds among ``subjects``: the reference each is held under."""
    found = app.load_aggregates([LegalHold.create_id(subject) for subject in subjects])
    return {hold.subject_id: hold.reference for hold in found.values()
            if isinstance(hold, LegalHold) and hold.reference is not None}


def _personal(policies: dict[str, Policy], last_activity: date | None, hold: str | None,
              today: date) -> KeptRecord:
    policy = policies["customer_personal"]
    return _kept(policy, None, 1, 0, last_activity, last_activity, last_activity, hold, today)


def _kept(policy: Policy, stream_id: UUID | None, count: int, waiting: int,
          first: date | None, latest: date | None, last_activity: date | None,
          hold: str | None, today: date) -> KeptRecord:
    """Why ``count`` records of a class (``waiting`` of them not yet triggered, the others
    between ``first`` and ``latest``) are kept, and until when."""
    if policy.trigger == LAST_ACTIVITY:
        first = latest = last_activity
        waiting = 0 if last_activity is not None else count
    action_on = policy.due_on(first) if first is not None else None
    until = retention_end({policy.record_class: policy}, policy.record_class,
                          latest) if not waiting else None
    what = policy.record_class.replace("_", " ")
    rule = (f"policy: {policy.action} {_period(policy.after)} after "
            f"{_TRIGGERED[policy.trigger]}, legal retention {_period(policy.retain)}")
    if hold is not None:
        why = (f"legal hold {hold}: nothing is purged or erased while it lasts ({rule})")
    elif first is None or (waiting and count == 1):
        why = (f"{what} not {_TRIGGERED[policy.trigger]} yet: kept while in use ({rule})")
    else:
        since = ("the customer was last active" if policy.trigger == LAST_ACTIVITY
                 else f"{_TRIGGERED[policy.trigger]}")
        due = "due now" if action_on is not None and action_on <= today else f"due {action_on}"
        why = (f"{since} on {first}: {policy.action} {due}"
               + (f", kept by law until {until}" if until and until > first else "")
               + (f"; {waiting} of {count} not {_TRIGGERED[policy.trigger]} yet, kept while "
                  f"in use" if waiting else "") + f" ({rule})")
    return KeptRecord(policy.record_class, stream_id, count, policy, latest if not waiting
                      else None, action_on, until, hold, why)


def _period(text: str) -> str:
    """``P10Y`` as "10 years", ``P0D`` as "none"."""
    period = Period.parse(text)
    parts = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in
             ((period.years, "year"), (period.months, "month"), (period.days, "day")) if n]
    return " ".join(parts) or "none"
