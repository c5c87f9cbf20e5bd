"""Follow-ups (resubmissions): "do not contact this customer (about these invoices) before D"."""

from __future__ import annotations

from datetime import date
from typing import Self
from uuid import UUID

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Problem, command_mutation
from ledger_collect.api.runner import FOLLOW_UP_READS, RecordCommands
from ledger_collect.commands import casework_commands as commands
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


_FOLLOW_UP = RecordCommands(Resubmission, "resubmission_id", "follow-up", FOLLOW_UP_READS)


@strawberry.type
class ResubmissionMutations:
    @command_mutation(ResubmissionCreated,
                      description="Keep the customer (or some of its invoices) off the worklist "
                                  "until the follow-up date.")
    async def create_resubmission(self, info: Info,
                                  input: CreateResubmissionInput) -> ResubmissionState | Problem:
        return await _FOLLOW_UP.create(info, commands.create_resubmission, input,
                                       answer=ResubmissionCreated)

    @command_mutation(ResubmissionMoved,
                      description="Move the follow-up to another date, saying why.")
    async def move_resubmission(self, info: Info,
                                input: MoveResubmissionInput) -> ResubmissionState | Problem:
        return await _FOLLOW_UP.change(info, commands.move_resubmission, input,
                                       answer=ResubmissionMoved)

    @command_mutation(ResubmissionCompleted, description="The follow-up was done.")
    async def complete_resubmission(
            self, info: Info, input: CompleteResubmissionInput) -> ResubmissionState | Problem:
        return await _FOLLOW_UP.change(info, commands.complete_resubmission, input,
                                       answer=ResubmissionCompleted)
