"""Promises to pay: recorded and withdrawn by specialists (see ``domain.promise`` for the rules)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Self
from uuid import UUID

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Problem, command_mutation
from ledger_collect.api.permissions import Action
from ledger_collect.api.runner import (
    PROMISE_READS,
    RecordCommands,
    arguments,
    on_record,
    run_command,
)
from ledger_collect.commands import promise_commands as commands
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.promise import PromiseToPay


@strawberry.input
class InstalmentInput:
    due_date: date
    amount: Decimal


@strawberry.input
class RecordPromiseInput:
    invoice_id: UUID
    amount: Decimal
    promised_date: date
    instalments: list[InstalmentInput] | None = strawberry.field(
        default=None, description="Split the promised amount over several dates.")
    currency: str | None = strawberry.field(
        default=None, description="Checked against the invoice's currency when given.")
    contact_id: UUID | None = strawberry.field(
        default=None, description="The customer contact (conversation) it was made in.")


@strawberry.input
class WithdrawPromiseInput:
    promise_id: UUID
    reason: str


@strawberry.interface(description="A promise to pay as it stands after the command.")
class PromiseState:
    promise_id: UUID
    invoice_id: UUID
    status: str = strawberry.field(description="open, in_process, kept, partially_kept, "
                                               "broken, withdrawn or closed.")
    amount: Decimal
    currency: str
    promised_date: date
    level: int = strawberry.field(description="1 for a first promise on the invoice, one more "
                                              "for each promise replacing an unconfirmed one.")

    @classmethod
    def of(cls, promise: PromiseToPay, **extra: Any) -> Self:
        return cls(promise_id=promise.id, invoice_id=promise.invoice_id, status=promise.status,
                   amount=promise.amount, currency=promise.currency,
                   promised_date=promise.promised_date, level=promise.level, **extra)


@strawberry.type
class PromiseRecorded(PromiseState):
    replaced_promise_id: UUID | None = strawberry.field(
        default=None, description="The unconfirmed promise this one replaced (now closed).")


@strawberry.type
class PromiseWithdrawn(PromiseState):
    pass


_PROMISE = RecordCommands(PromiseToPay, "promise_id", "promise to pay", PROMISE_READS)


@strawberry.type
class PromiseMutations:
    @command_mutation(PromiseRecorded,
                      description="The customer promises to pay (part of) an invoice by a date. "
                                  "An unconfirmed promise on the invoice is replaced.")
    async def record_promise(self, info: Info, input: RecordPromiseInput) -> PromiseState | Problem:
        instalments = ([(i.due_date, i.amount) for i in input.instalments]
                       if input.instalments else None)
        return await run_command(
            info, on_record(Action.CASEWORK, Invoice, input.invoice_id, "invoice"),
            commands.record_promise, **arguments(input, instalments=instalments),
            reads=PROMISE_READS, answer=lambda saved: PromiseRecorded.of(
                saved[saved.result], replaced_promise_id=saved[saved.result].replaces))

    @command_mutation(PromiseWithdrawn,
                      description="Take back an open or in-process promise, saying why.")
    async def withdraw_promise(self, info: Info,
                               input: WithdrawPromiseInput) -> PromiseState | Problem:
        return await _PROMISE.change(info, commands.withdraw_promise, input,
                                     answer=PromiseWithdrawn)
