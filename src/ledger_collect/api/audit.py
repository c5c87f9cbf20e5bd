"""The auditors' dispute trail: every event of a dispute case in order — who, business date,
record time, what — and the case as it stood at any version.

Read straight from the event store, not from a read model: the trail is the record itself, and
the library loads the aggregate at a version (``repository.get(id, version=n)``). Both reads run
in a worker thread (the library is synchronous). Anyone who may read a customer reads its
disputes' trails; the personal parts (the notes) are ``PersonalText`` fields, revealed only to
viewers who may see that customer's personal data (auditors everywhere, specialists and
supervisors in their segments).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool

from ledger_collect.api.context import Info
from ledger_collect.api.errors import NotFound, RuleBroken
from ledger_collect.api.permissions import Action, Personal, personal_field, require
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dispute import DisputeCase

#: Attributes every event has; the trail shows them as fields of their own.
_COMMON = ("originator_id", "originator_version", "originator_topic", "timestamp", "actor",
           "business_date")


@strawberry.type(description="A field of an event, its value as text (lists as JSON).")
class TrailField:
    name: str
    value: str | None


@strawberry.type(description="A field of an event that holds personal data.")
class PersonalTrailField:
    name: str
    value: Personal | None = personal_field()


@strawberry.type(description="One event of a dispute case.")
class DisputeTrailEvent:
    version: int = strawberry.field(description="Its place in the case's history, from 1.")
    type: str = strawberry.field(description="Opened, ProcessingStarted, ProcessorChanged, "
                                             "ProgressRecorded, SettledOnInvoice, Resolved, "
                                             "NoteAdded, Closed.")
    topic: str
    actor: str
    business_date: date
    recorded_at: datetime = strawberry.field(description="When it was recorded.")
    fields: list[TrailField] = strawberry.field(description="What it recorded, without "
                                                            "personal data.")
    personal_fields: list[PersonalTrailField]


@strawberry.type(description="A note of a dispute case.")
class TrailNote:
    note_id: str = strawberry.field(description="'opening' for the note the case was opened "
                                                "with.")
    text: Personal | None = personal_field()


@strawberry.type(description="A dispute case as it stood at one version of its history.")
class DisputeAsOf:
    version: int
    status: str
    resolution: str | None
    reason: str
    processor: str
    currency: str
    invoice_ids: list[UUID]
    disputed_amount: Decimal
    credited: Decimal
    paid: Decimal
    written_off: Decimal
    still_disputed: Decimal
    opened_on: date
    resolved_on: date | None
    closed_on: date | None
    notes: list[TrailNote] = strawberry.field(description="The case's notes at that "
                                                            "version.")

    @classmethod
    def of(cls, case: DisputeCase, segment: str) -> DisputeAsOf:
        return cls(version=case.version, status=case.status, resolution=case.resolution,
                   reason=case.reason, processor=case.processor, currency=case.currency,
                   invoice_ids=list(case.invoice_ids), disputed_amount=case.original_amount,
                   credited=case.credited, paid=case.paid, written_off=case.written_off,
                   still_disputed=case.still_disputed, opened_on=case.opened_on,
                   resolved_on=case.resolved_on, closed_on=case.closed_on,
                   notes=[TrailNote(note_id=note_id, text=Personal(text, segment))
                          for note_id, text in case.notes.items()])


@strawberry.type(description="A dispute case's trail up to a version, and its state then.")
class DisputeTrail:
    dispute_id: UUID
    customer_id: UUID
    current_version: int = strawberry.field(description="The version the case has now.")
    events: list[DisputeTrailEvent] = strawberry.field(
        description="Every event up to the version asked for (all of them by default), "
                    "oldest first.")
    state: DisputeAsOf = strawberry.field(description="The case as it stood at that version.")


DisputeTrailResult = Annotated[DisputeTrail | NotFound | RuleBroken,
                               strawberry.union("DisputeTrailResult")]


@dataclass(frozen=True)
class _Read:
    events: list[Any]  # up to the version asked for
    case: DisputeCase  # at that version
    current: int
    segment: str


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, default=str, sort_keys=True)
    return value.isoformat() if isinstance(value, date) else str(value)


def _event(event: Any, segment: str) -> DisputeTrailEvent:
    personal = getattr(type(event), "PERSONAL", ())
    values = {k: v for k, v in vars(event).items() if k not in _COMMON}
    return DisputeTrailEvent(
        version=event.originator_version, type=type(event).__name__,
        topic=type(event).TOPIC, actor=event.actor, business_date=event.business_date,
        recorded_at=event.timestamp,
        fields=[TrailField(name=k, value=_text(v)) for k, v in sorted(values.items())
                if k not in personal],
        personal_fields=[
            PersonalTrailField(name=k, value=None if v is None else Personal(_text(v), segment))
            for k, v in sorted(values.items()) if k in personal])


def _read(info: Info, dispute_id: UUID, version: int | None) -> _Read | NotFound | RuleBroken:
    """In a worker thread: the case's events and its state at ``version``."""
    collections = info.context.collections
    events = list(collections.events.get(dispute_id))
    if not events or not isinstance(events[0], DisputeCase.Opened):
        return NotFound(message=f"dispute {dispute_id} does not exist", code="NOT_FOUND")
    current = events[-1].originator_version
    wanted = current if version is None else version
    if not 1 <= wanted <= current:
        return RuleBroken(message=f"dispute {dispute_id} has versions 1 to {current}; there "
                                  f"is no version {version}", code="INVALID")
    case = collections.repository.get(dispute_id, version=wanted)
    customer = collections.repository.get(events[0].customer_id)
    segment = customer.segment if isinstance(customer, Customer) else ""
    return _Read([e for e in events if e.originator_version <= wanted], case, current, segment)


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Every event of a dispute case in order (actor, business "
                                  "date, record time, what it recorded) and the case as it "
                                  "stood at `asOfVersion` (its latest version by default).")
    async def dispute_trail(self, info: Info, dispute_id: UUID,
                            as_of_version: int | None = None) -> DisputeTrailResult:
        require(info.context.user, Action.READ)
        found = await run_in_threadpool(_read, info, dispute_id, as_of_version)
        if not isinstance(found, _Read):
            return found
        return DisputeTrail(
            dispute_id=dispute_id, customer_id=found.case.customer_id,
            current_version=found.current,
            events=[_event(e, found.segment) for e in found.events],
            state=DisputeAsOf.of(found.case, found.segment))
