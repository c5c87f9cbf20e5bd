"""Dispute cases: open → in process → resolved → closed (see ``domain.dispute``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Self
from uuid import UUID

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Problem, command_mutation
from ledger_collect.api.runner import DISPUTE_READS, RecordCommands, arguments, run_command
from ledger_collect.commands import Outcome
from ledger_collect.commands import casework_commands as commands
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


_CASE = RecordCommands(DisputeCase, "dispute_id", "dispute", DISPUTE_READS)


@strawberry.type
class DisputeMutations:
    @command_mutation(DisputeOpened,
                      description="Open a dispute over open invoices of one customer; the "
                                  "disputed amount leaves collection and dunning.")
    async def open_dispute(self, info: Info, input: OpenDisputeInput) -> DisputeState | Problem:
        return await _CASE.create(info, commands.open_dispute, input, answer=DisputeOpened)

    @command_mutation(DisputeProcessingStarted,
                      description="The processor starts working the case.")
    async def start_dispute_processing(
            self, info: Info, input: StartDisputeProcessingInput) -> DisputeState | Problem:
        return await _CASE.change(info, commands.start_dispute_processing, input,
                                  answer=DisputeProcessingStarted)

    @command_mutation(DisputeProcessorChanged, description="Hand the case to another processor.")
    async def change_dispute_processor(
            self, info: Info, input: ChangeDisputeProcessorInput) -> DisputeState | Problem:
        return await _CASE.change(info, commands.change_dispute_processor, input,
                                  answer=DisputeProcessorChanged)

    @command_mutation(DisputeProgressRecorded,
                      description="Part of the disputed amount was credited, paid or written off.")
    async def record_dispute_progress(self, info: Info,
                                      input: RecordDisputeProgressInput) -> DisputeState | Problem:
        return await _CASE.change(info, commands.record_dispute_progress, input,
                                  answer=DisputeProgressRecorded)

    @command_mutation(DisputeResolved,
                      description="Resolve an in-process case: accepted (credit memo), rejected, "
                                  "or written off.")
    async def resolve_dispute(self, info: Info,
                              input: ResolveDisputeInput) -> DisputeState | Problem:
        return await _CASE.change(info, commands.resolve_dispute, input, answer=DisputeResolved)

    @command_mutation(DisputeNoteAdded, description="Add a note to the case (personal data).")
    async def add_dispute_note(self, info: Info,
                               input: AddDisputeNoteInput) -> DisputeState | Problem:
        def answer(saved: Outcome[str]) -> DisputeNoteAdded:
            return DisputeNoteAdded.of(saved[input.dispute_id], note_id=saved.result)

        return await run_command(info, _CASE.guard(input.dispute_id), commands.add_dispute_note,
                                 **arguments(input), reads=DISPUTE_READS, answer=answer)

    @command_mutation(DisputeClosed,
                      description="Close a resolved case; it is read-only afterwards.")
    async def close_dispute(self, info: Info, input: CloseDisputeInput) -> DisputeState | Problem:
        return await _CASE.change(info, commands.close_dispute, input, answer=DisputeClosed)
