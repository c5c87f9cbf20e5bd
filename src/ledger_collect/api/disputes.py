"""Dispute cases: open → in process → resolved → closed (see ``domain.dispute``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Self
from uuid import UUID

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Conflict, NotFound, RuleBroken
from ledger_collect.api.permissions import Action
from ledger_collect.api.runner import (
    DISPUTE_READS,
    Guard,
    on_customer,
    on_record,
    run_command,
    state_of,
)
from ledger_collect.commands import Outcome
from ledger_collect.commands import casework as commands
from ledger_collect.domain.dispute import REASONS, RESOLUTIONS, DisputeCase

ZERO = Decimal("0.00")


@strawberry.input
class OpenDisputeInput:
    customer_id: UUID
    invoice_ids: list[UUID]
    amount: Decimal
    reason: str = strawberry.field(description=f"One of {', '.join(REASONS)}.")
    processor: str = strawberry.field(description="Who works the case.")
    note: str | None = None


@strawberry.input
class StartDisputeProcessingInput:
    dispute_id: UUID


@strawberry.input
class CloseDisputeInput:
    dispute_id: UUID


@strawberry.input
class ChangeDisputeProcessorInput:
    dispute_id: UUID
    processor: str


@strawberry.input
class RecordDisputeProgressInput:
    dispute_id: UUID
    credited: Decimal = ZERO
    paid: Decimal = ZERO
    written_off: Decimal = ZERO


@strawberry.input
class ResolveDisputeInput:
    dispute_id: UUID
    resolution: str = strawberry.field(description=f"One of {', '.join(RESOLUTIONS)}.")
    credited: Decimal = ZERO
    paid: Decimal = ZERO
    written_off: Decimal = ZERO


@strawberry.input
class AddDisputeNoteInput:
    dispute_id: UUID
    text: str


@strawberry.interface(description="A dispute case as it stands after the command.")
class DisputeState:
    dispute_id: UUID
    customer_id: UUID
    status: str = strawberry.field(description="open, in_process, resolved or closed.")
    resolution: str | None
    processor: str
    currency: str
    disputed_amount: Decimal
    still_disputed: Decimal

    @classmethod
    def of(cls, dispute: DisputeCase, **extra: Any) -> Self:
        return cls(dispute_id=dispute.id, customer_id=dispute.customer_id,
                   status=dispute.status, resolution=dispute.resolution,
                   processor=dispute.processor, currency=dispute.currency,
                   disputed_amount=dispute.original_amount,
                   still_disputed=dispute.still_disputed, **extra)


@strawberry.type
class DisputeOpened(DisputeState):
    pass


@strawberry.type
class DisputeProcessingStarted(DisputeState):
    pass


@strawberry.type
class DisputeProcessorChanged(DisputeState):
    pass


@strawberry.type
class DisputeProgressRecorded(DisputeState):
    pass


@strawberry.type
class DisputeResolved(DisputeState):
    pass


@strawberry.type
class DisputeNoteAdded(DisputeState):
    note_id: str


@strawberry.type
class DisputeClosed(DisputeState):
    pass


OpenDisputeResult = Annotated[DisputeOpened | NotFound | RuleBroken | Conflict,
                              strawberry.union("OpenDisputeResult")]
StartDisputeProcessingResult = Annotated[
    DisputeProcessingStarted | NotFound | RuleBroken | Conflict,
    strawberry.union("StartDisputeProcessingResult")]
ChangeDisputeProcessorResult = Annotated[
    DisputeProcessorChanged | NotFound | RuleBroken | Conflict,
    strawberry.union("ChangeDisputeProcessorResult")]
RecordDisputeProgressResult = Annotated[
    DisputeProgressRecorded | NotFound | RuleBroken | Conflict,
    strawberry.union("RecordDisputeProgressResult")]
ResolveDisputeResult = Annotated[DisputeResolved | NotFound | RuleBroken | Conflict,
                                 strawberry.union("ResolveDisputeResult")]
AddDisputeNoteResult = Annotated[DisputeNoteAdded | NotFound | RuleBroken | Conflict,
                                 strawberry.union("AddDisputeNoteResult")]
CloseDisputeResult = Annotated[DisputeClosed | NotFound | RuleBroken | Conflict,
                               strawberry.union("CloseDisputeResult")]


def _case(dispute_id: UUID) -> Guard:
    return on_record(Action.CASEWORK, DisputeCase, dispute_id, "dispute")


@strawberry.type
class DisputeMutations:
    @strawberry.mutation(description="Open a dispute over open invoices of one customer; the "
                                     "disputed amount leaves collection and dunning.")
    async def open_dispute(self, info: Info, input: OpenDisputeInput) -> OpenDisputeResult:
        return await run_command(
            info, on_customer(Action.CASEWORK, input.customer_id), commands.open_dispute,
            input.customer_id, input.invoice_ids, amount=input.amount, reason=input.reason,
            processor=input.processor, note=input.note,
            reads=DISPUTE_READS, answer=lambda saved: DisputeOpened.of(saved[saved.result]))

    @strawberry.mutation(description="The processor starts working the case.")
    async def start_dispute_processing(
            self, info: Info, input: StartDisputeProcessingInput) -> StartDisputeProcessingResult:
        return await run_command(
            info, _case(input.dispute_id), commands.start_dispute_processing, input.dispute_id,
            reads=DISPUTE_READS, answer=state_of(DisputeProcessingStarted, input.dispute_id))

    @strawberry.mutation(description="Hand the case to another processor.")
    async def change_dispute_processor(
            self, info: Info, input: ChangeDisputeProcessorInput) -> ChangeDisputeProcessorResult:
        return await run_command(
            info, _case(input.dispute_id), commands.change_dispute_processor, input.dispute_id,
            input.processor, reads=DISPUTE_READS, answer=state_of(DisputeProcessorChanged, input.dispute_id))

    @strawberry.mutation(description="Part of the disputed amount was credited, paid or "
                                     "written off.")
    async def record_dispute_progress(
            self, info: Info, input: RecordDisputeProgressInput) -> RecordDisputeProgressResult:
        return await run_command(
            info, _case(input.dispute_id), commands.record_dispute_progress, input.dispute_id,
            credited=input.credited, paid=input.paid, written_off=input.written_off,
            reads=DISPUTE_READS, answer=state_of(DisputeProgressRecorded, input.dispute_id))

    @strawberry.mutation(description="Resolve an in-process case: accepted (credit memo), "
                                     "rejected, or written off.")
    async def resolve_dispute(self, info: Info,
                              input: ResolveDisputeInput) -> ResolveDisputeResult:
        return await run_command(
            info, _case(input.dispute_id), commands.resolve_dispute, input.dispute_id,
            input.resolution, credited=input.credited, paid=input.paid,
            written_off=input.written_off, reads=DISPUTE_READS, answer=state_of(DisputeResolved, input.dispute_id))

    @strawberry.mutation(description="Add a note to the case (personal data).")
    async def add_dispute_note(self, info: Info,
                               input: AddDisputeNoteInput) -> AddDisputeNoteResult:
        def answer(saved: Outcome[str]) -> DisputeNoteAdded:
            return DisputeNoteAdded.of(saved[input.dispute_id], note_id=saved.result)

        return await run_command(info, _case(input.dispute_id), commands.add_dispute_note,
                                 input.dispute_id, input.text, reads=DISPUTE_READS, answer=answer)

    @strawberry.mutation(description="Close a resolved case; it is read-only afterwards.")
    async def close_dispute(self, info: Info, input: CloseDisputeInput) -> CloseDisputeResult:
        return await run_command(
            info, _case(input.dispute_id), commands.close_dispute, input.dispute_id,
            reads=DISPUTE_READS, answer=state_of(DisputeClosed, input.dispute_id))
