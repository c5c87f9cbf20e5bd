"""Follow-ups (resubmissions): "do not contact this customer (about these invoices) before D"."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Self
from uuid import UUID

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Conflict, NotFound, RuleBroken
from ledger_collect.api.permissions import Action
from ledger_collect.api.runner import (
    FOLLOW_UP_READS,
    Guard,
    on_customer,
    on_record,
    run_command,
    state_of,
)
from ledger_collect.commands import casework as commands
from ledger_collect.domain.resubmission import Resubmission


@strawberry.input
class CreateResubmissionInput:
    customer_id: UUID
    follow_up_date: date
    reason: str
    invoice_ids: list[UUID] = strawberry.field(
        default_factory=list, description="Only these invoices of the customer; none: the "
                                          "whole customer.")


@strawberry.input
class MoveResubmissionInput:
    resubmission_id: UUID
    follow_up_date: date
    reason: str


@strawberry.input
class CompleteResubmissionInput:
    resubmission_id: UUID


@strawberry.interface(description="A follow-up as it stands after the command.")
class ResubmissionState:
    resubmission_id: UUID
    customer_id: UUID
    invoice_ids: list[UUID]
    follow_up_date: date
    status: str = strawberry.field(description="open or completed.")

    @classmethod
    def of(cls, resubmission: Resubmission) -> Self:
        return cls(resubmission_id=resubmission.id, customer_id=resubmission.customer_id,
                   invoice_ids=list(resubmission.invoice_ids),
                   follow_up_date=resubmission.follow_up_date, status=resubmission.status)


@strawberry.type
class ResubmissionCreated(ResubmissionState):
    pass


@strawberry.type
class ResubmissionMoved(ResubmissionState):
    pass


@strawberry.type
class ResubmissionCompleted(ResubmissionState):
    pass


CreateResubmissionResult = Annotated[ResubmissionCreated | NotFound | RuleBroken | Conflict,
                                     strawberry.union("CreateResubmissionResult")]
MoveResubmissionResult = Annotated[ResubmissionMoved | NotFound | RuleBroken | Conflict,
                                   strawberry.union("MoveResubmissionResult")]
CompleteResubmissionResult = Annotated[
    ResubmissionCompleted | NotFound | RuleBroken | Conflict,
    strawberry.union("CompleteResubmissionResult")]


def _follow_up(resubmission_id: UUID) -> Guard:
    return on_record(Action.CASEWORK, Resubmission, resubmission_id, "follow-up")


@strawberry.type
class ResubmissionMutations:
    @strawberry.mutation(description="Keep the customer (or some of its invoices) off the "
                                     "worklist until the follow-up date.")
    async def create_resubmission(self, info: Info,
                                  input: CreateResubmissionInput) -> CreateResubmissionResult:
        return await run_command(
            info, on_customer(Action.CASEWORK, input.customer_id), commands.create_resubmission,
            input.customer_id, follow_up_date=input.follow_up_date, reason=input.reason,
            invoice_ids=input.invoice_ids,
            reads=FOLLOW_UP_READS, answer=lambda saved: ResubmissionCreated.of(saved[saved.result]))

    @strawberry.mutation(description="Move the follow-up to another date, saying why.")
    async def move_resubmission(self, info: Info,
                                input: MoveResubmissionInput) -> MoveResubmissionResult:
        return await run_command(
            info, _follow_up(input.resubmission_id), commands.move_resubmission,
            input.resubmission_id, input.follow_up_date, reason=input.reason,
            reads=FOLLOW_UP_READS, answer=state_of(ResubmissionMoved, input.resubmission_id))

    @strawberry.mutation(description="The follow-up was done.")
    async def complete_resubmission(
            self, info: Info, input: CompleteResubmissionInput) -> CompleteResubmissionResult:
        return await run_command(
            info, _follow_up(input.resubmission_id), commands.complete_resubmission,
            input.resubmission_id, reads=FOLLOW_UP_READS, answer=state_of(ResubmissionCompleted, input.resubmission_id))
