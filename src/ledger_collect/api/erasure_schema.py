"""GDPR erasure: ask for a customer's erasure, list the requests, read what legal retention
keeps restricted.

Compliance (and admins) request erasures (``Action.RETENTION``); the answer comes once every
read model shows the customer's personal fields erased. The restricted personal data, copied
out before the key was deleted, is for auditors and compliance only
(``Action.RESTRICTED_DATA``). The requests hold no personal data: everyone who may manage
retention sees them.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Self
from uuid import UUID

import orjson
import strawberry
from starlette.concurrency import run_in_threadpool

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Problem, command_mutation, problem
from ledger_collect.api.permissions import Action, require
from ledger_collect.api.runner import wait_for_read_models
from ledger_collect.compliance import erasure
from ledger_collect.domain.base import DomainError
from ledger_collect.domain.erasure_request import ErasureRequest as Request
from ledger_collect.projections import select


@strawberry.input
class RequestErasureInput:
    customer_id: UUID
    basis: str = strawberry.field(description="The legal basis, e.g. GDPR Art. 17(1)(a).")


@strawberry.type(description="A customer's erasure: requested, suspended by a legal hold, or "
                             "completed. Holds no personal data.")
class ErasureRequest:
    customer_id: UUID
    status: str = strawberry.field(description="requested, suspended or completed.")
    basis: str
    requested_by: str
    requested_on: date
    hold_reference: str | None = strawberry.field(
        description="The legal hold that suspended it (null unless suspended).")
    erased_on: date | None
    restricted_records: int = strawberry.field(
        description="Personal fields kept, restricted, because a legal retention requires them.")
    retained_until: date | None = strawberry.field(
        description="The last day one of them is kept; null while a retention has not started.")

    @classmethod
    def of(cls, request: Request) -> Self:
        return cls(customer_id=request.customer_id, status=request.status, basis=request.basis,
                   requested_by=request.requested_by, requested_on=request.requested_on,
                   hold_reference=request.hold_reference, erased_on=request.erased_on,
                   restricted_records=request.restricted_records,
                   retained_until=request.retained_until)


@strawberry.type(description="The erasure as it stands after the request.")
class ErasureRequested:
    request: ErasureRequest
    erased_now: bool = strawberry.field(
        description="False: suspended by a legal hold, or erased before.")


@strawberry.type(description="A personal field kept under legal retention after erasure.")
class RestrictedRecord:
    stream_id: UUID
    record_class: str
    event: str = strawberry.field(description="The event's topic.")
    version: int
    field: str
    value: str = strawberry.field(description="The value, as JSON.")
    retained_until: date | None
    restricted_on: date

    @classmethod
    def of(cls, record: erasure.RestrictedRecord) -> Self:
        return cls(stream_id=record.stream_id, record_class=record.record_class,
                   event=record.topic, version=record.originator_version, field=record.field,
                   value=orjson.dumps(record.value).decode(),
                   retained_until=record.retained_until, restricted_on=record.restricted_on)


def _personal_models() -> tuple[str, ...]:
    return tuple(cls.name for cls in select() if cls.personal)


@strawberry.type
class ErasureMutations:
    @command_mutation(ErasureRequested, description="Erase a customer's personal data now "
                      "(what legal retention requires is kept, restricted); suspended while a "
                      "legal hold is active.")
    async def request_erasure(self, info: Info,
                              input: RequestErasureInput) -> ErasureRequested | Problem:
        context = info.context
        require(context.user, Action.RETENTION)

        def work() -> Any:
            outcome = erasure.erase_customer(context.collections, input.customer_id,
                                             input.basis, context.user.id,
                                             today=context.business_date)
            saved = context.collections.repository.get(Request.create_id(input.customer_id))
            return outcome, saved

        try:
            outcome, saved = await run_in_threadpool(work)
        except DomainError as error:
            return problem(error)
        if outcome.position is not None:
            await wait_for_read_models(context, outcome.position, _personal_models())
        return ErasureRequested(request=ErasureRequest.of(saved), erased_now=outcome.erased_now)


@strawberry.type
class ErasureQuery:
    @strawberry.field(description="Every erasure request, latest first (compliance).")
    async def erasure_requests(self, info: Info) -> list[ErasureRequest]:
        require(info.context.user, Action.RETENTION)
        found = await run_in_threadpool(erasure.erasure_requests, info.context.collections)
        return [ErasureRequest.of(request) for request in found]

    @strawberry.field(description="The personal data of an erased customer that legal "
                                  "retention keeps, restricted (auditors and compliance).")
    async def restricted_personal_data(self, info: Info,
                                       customer_id: UUID) -> list[RestrictedRecord]:
        require(info.context.user, Action.RESTRICTED_DATA)
        found = await run_in_threadpool(erasure.restricted_personal_data,
                                        info.context.collections, customer_id)
        return [RestrictedRecord.of(record) for record in found]
