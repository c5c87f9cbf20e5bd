"""Dunning: procedures, which procedure applies, and blocks.

Who may. Procedures are one catalogue every segment draws on: a supervisor (or an admin) saves
and removes them (``Action.DUNNING``); a segment's procedure is its supervisors' to choose, a
customer's its segment's supervisors'; the default one concerns every segment, so only a role
with the grant everywhere (the admin) sets it, as for the default collection strategy. Blocks
are day-to-day casework: a specialist (or supervisor) blocks and releases customers and
invoices of their own segments (``Action.DUNNING_BLOCK``). Every change is an event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, Self
from uuid import UUID

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Problem, command_mutation
from ledger_collect.api.permissions import Action, User, require, require_everywhere
from ledger_collect.api.runner import Guard, arguments, on_customer, on_record, run_command
from ledger_collect.commands import Batch, Outcome
from ledger_collect.commands import dunning_commands as commands
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dunning_procedure import SETUP_ID, DunningProcedure, DunningSetup
from ledger_collect.domain.invoice import Invoice
from ledger_collect.projections import dunning

READS = ("dunning",)


@strawberry.type(description="One level of a procedure: the letter goes once the item is at "
                             "least `daysOverdue` days past due and more than `graceDays` days "
                             "after its previous letter (level 1: after its due date).")
class DunningLevel:
    level: int
    days_overdue: int
    grace_days: int
    fee: Decimal


@strawberry.type(name="DunningProcedure",
                 description="A dunning procedure (see the README's dunning section).")
class DunningProcedureType:
    code: str
    description: str
    levels: list[DunningLevel]
    minimum_amount: Decimal = strawberry.field(description="A letter's items must reach it.")
    interest_rate: Decimal | None = strawberry.field(
        description="Annual, in percent: simple interest on the open amount, actual days "
                    "over 365.")
    reminder_days: int | None = strawberry.field(
        description="A pre-due reminder (level 0) this many days before due; none: none.")
    quiet_days: int = strawberry.field(description="No letter to a customer contacted or "
                                                   "written to within this many days.")
    per_invoice: bool = strawberry.field(description="One letter per invoice, else per "
                                                     "customer and currency.")
    language: str

    @classmethod
    def of(cls, procedure: DunningProcedure) -> Self:
        return cls(code=procedure.code, description=procedure.description,
                   levels=[DunningLevel(level=lv.level, days_overdue=lv.days_overdue,
                                        grace_days=lv.grace_days, fee=lv.fee)
                           for lv in procedure.levels],
                   minimum_amount=procedure.minimum_amount,
                   interest_rate=procedure.interest_rate, reminder_days=procedure.reminder_days,
                   quiet_days=procedure.quiet_days, per_invoice=procedure.per_invoice,
                   language=procedure.language)


@strawberry.type
class SegmentProcedure:
    segment: str
    code: str


@strawberry.type(name="DunningSetup",
                 description="Every procedure, the default one and the segments' ones.")
class DunningSetupType:
    procedures: list[DunningProcedureType]
    default_procedure: str | None
    segments: list[SegmentProcedure]

    @classmethod
    def of(cls, setup: DunningSetup | None) -> Self:
        if setup is None:
            return cls(procedures=[], default_procedure=None, segments=[])
        return cls(procedures=[DunningProcedureType.of(setup.procedure(code))
                               for code in sorted(setup.procedures)],
                   default_procedure=setup.default,
                   segments=[SegmentProcedure(segment=s, code=c)
                             for s, c in sorted(setup.segments.items())])


@strawberry.type(description="The customer's dunning settings after the command.")
class CustomerDunning:
    customer_id: UUID
    procedure: str | None = strawberry.field(description="Its own; none: its segment's.")
    blocked: bool
    blocked_until: date | None = strawberry.field(description="The block's last day; none: "
                                                              "until released.")

    @classmethod
    def of(cls, customer: Customer) -> Self:
        block = customer.dunning_block
        return cls(customer_id=customer.id, procedure=customer.dunning_procedure,
                   blocked=block is not None, blocked_until=block.until if block else None)


@strawberry.type(description="The invoice's dunning block after the command.")
class InvoiceDunning:
    invoice_id: UUID
    dunning_level: int
    blocked: bool
    blocked_until: date | None

    @classmethod
    def of(cls, invoice: Invoice) -> Self:
        block = invoice.dunning_block
        return cls(invoice_id=invoice.id, dunning_level=invoice.dunning_level,
                   blocked=block is not None, blocked_until=block.until if block else None)


@strawberry.input(description="One level, level 1 first.")
class DunningLevelInput:
    days_overdue: int
    grace_days: int = 0
    fee: Decimal = Decimal("0.00")


@strawberry.input(description="A procedure, new or replacing the one of that code.")
class SaveDunningProcedureInput:
    code: str
    levels: list[DunningLevelInput]
    minimum_amount: Decimal = Decimal("0.00")
    interest_rate: Decimal | None = None
    reminder_days: int | None = None
    quiet_days: int = 0
    per_invoice: bool = False
    language: str = "en"
    description: str = ""


@strawberry.input
class RemoveDunningProcedureInput:
    code: str


@strawberry.input
class SetDefaultDunningProcedureInput:
    code: str | None = strawberry.field(default=None, description="None: segments without "
                                                                  "their own are not dunned.")


@strawberry.input
class SetSegmentDunningProcedureInput:
    segment: str
    code: str | None = strawberry.field(default=None, description="None: the default.")


@strawberry.input
class SetCustomerDunningProcedureInput:
    customer_id: UUID
    code: str | None = strawberry.field(default=None, description="None: its segment's.")


@strawberry.input(description="No letter to the customer until the block is released, or after "
                              "`until` (its last day).")
class BlockCustomerDunningInput:
    customer_id: UUID
    reason: str
    until: date | None = None


@strawberry.input
class ReleaseCustomerDunningBlockInput:
    customer_id: UUID


@strawberry.input(description="No letter about the invoice until the block is released, or "
                              "after `until` (its last day).")
class BlockInvoiceDunningInput:
    invoice_id: UUID
    reason: str
    until: date | None = None


@strawberry.input
class ReleaseInvoiceDunningBlockInput:
    invoice_id: UUID


def _setup_answer(outcome: Outcome[Any]) -> DunningSetupType:
    return DunningSetupType.of(outcome.aggregates.get(SETUP_ID))  # type: ignore[arg-type]


def _configure(segment: str | None = None, *, everywhere: str | None = None) -> Guard:
    def guard(user: User, batch: Batch) -> None:
        if everywhere:
            require_everywhere(user, Action.DUNNING, everywhere)
        else:
            require(user, Action.DUNNING, segment)
    return guard


@strawberry.type
class DunningQuery:
    @strawberry.field(description="Every dunning procedure and which one applies where.")
    async def dunning_setup(self, info: Info) -> DunningSetupType:
        require(info.context.user, Action.READ)
        saved, assigned = await dunning.procedures(info.context.pool)
        return DunningSetupType(
            procedures=[DunningProcedureType.of(DunningProcedure.of_data(
                json.loads(row.definition) if isinstance(row.definition, str)
                else row.definition)) for row in saved],
            default_procedure=assigned.get(dunning.DEFAULT),
            segments=[SegmentProcedure(segment=s, code=c) for s, c in sorted(assigned.items())
                      if s != dunning.DEFAULT])


@strawberry.type
class DunningMutations:
    @command_mutation(DunningSetupType, description="Add a dunning procedure or replace the "
                                                    "one of its code.")
    async def save_dunning_procedure(self, info: Info, input: SaveDunningProcedureInput,
                                     ) -> DunningSetupType | Problem:
        levels = [{"days_overdue": lv.days_overdue, "grace_days": lv.grace_days, "fee": lv.fee}
                  for lv in input.levels]
        return await run_command(info, _configure(), commands.save_dunning_procedure,
                                 **arguments(input, levels=levels), answer=_setup_answer,
                                 reads=READS)

    @command_mutation(DunningSetupType, description="Remove a procedure nothing follows.")
    async def remove_dunning_procedure(self, info: Info, input: RemoveDunningProcedureInput,
                                       ) -> DunningSetupType | Problem:
        return await run_command(info, _configure(), commands.remove_dunning_procedure,
                                 **arguments(input), answer=_setup_answer, reads=READS)

    @command_mutation(DunningSetupType, description="The procedure of segments without their "
                                                    "own.")
    async def set_default_dunning_procedure(self, info: Info,
                                            input: SetDefaultDunningProcedureInput,
                                            ) -> DunningSetupType | Problem:
        return await run_command(
            info, _configure(everywhere="the default procedure"),
            commands.set_default_dunning_procedure, **arguments(input), answer=_setup_answer,
            reads=READS)

    @command_mutation(DunningSetupType, description="The segment's procedure.")
    async def set_segment_dunning_procedure(self, info: Info,
                                            input: SetSegmentDunningProcedureInput,
                                            ) -> DunningSetupType | Problem:
        return await run_command(info, _configure(input.segment.strip()),
                                 commands.set_segment_dunning_procedure, **arguments(input),
                                 answer=_setup_answer, reads=READS)

    @command_mutation(CustomerDunning, description="The customer's own procedure.")
    async def set_customer_dunning_procedure(self, info: Info,
                                             input: SetCustomerDunningProcedureInput,
                                             ) -> CustomerDunning | Problem:
        return await _on_customer(info, Action.DUNNING, commands.set_customer_dunning_procedure,
                                  input)

    @command_mutation(CustomerDunning, description="Block dunning of the customer.")
    async def block_customer_dunning(self, info: Info, input: BlockCustomerDunningInput,
                                     ) -> CustomerDunning | Problem:
        return await _on_customer(info, Action.DUNNING_BLOCK, commands.block_customer_dunning,
                                  input)

    @command_mutation(CustomerDunning, description="Release the customer's dunning block.")
    async def release_customer_dunning_block(self, info: Info,
                                             input: ReleaseCustomerDunningBlockInput,
                                             ) -> CustomerDunning | Problem:
        return await _on_customer(info, Action.DUNNING_BLOCK,
                                  commands.release_customer_dunning_block, input)

    @command_mutation(InvoiceDunning, description="Block dunning of the invoice.")
    async def block_invoice_dunning(self, info: Info, input: BlockInvoiceDunningInput,
                                    ) -> InvoiceDunning | Problem:
        return await _on_invoice(info, commands.block_invoice_dunning, input)

    @command_mutation(InvoiceDunning, description="Release the invoice's dunning block.")
    async def release_invoice_dunning_block(self, info: Info,
                                            input: ReleaseInvoiceDunningBlockInput,
                                            ) -> InvoiceDunning | Problem:
        return await _on_invoice(info, commands.release_invoice_dunning_block, input)


async def _on_customer(info: Info, action: Action, function: Callable[..., Any],
                       input: Any) -> Any:
    customer_id = input.customer_id
    return await run_command(info, on_customer(action, customer_id), function,
                             **arguments(input), reads=READS,
                             answer=lambda saved: CustomerDunning.of(saved[customer_id]))


async def _on_invoice(info: Info, function: Callable[..., Any], input: Any) -> Any:
    invoice_id = input.invoice_id
    return await run_command(
        info, on_record(Action.DUNNING_BLOCK, Invoice, invoice_id, "invoice"), function,
        **arguments(input), reads=READS,
        answer=lambda saved: InvoiceDunning.of(saved[invoice_id]))
