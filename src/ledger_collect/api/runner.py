"""How a mutation runs a command: through the pipeline, ``Collections.run``.

In a worker thread (the event store is synchronous), the pipeline runs the command guarded: on
a fresh batch the guard checks the user's role and loads the customer the command concerns to
check its segment; the command function decides and records; the batch is saved in one
transaction; the answer is built from the aggregates just saved. Back on the event loop, the
mutation waits (bounded) until the read models its answer reads have reached the command's
notification id, so a client that asks again sees its own write. Refusals of the domain come
back as ``Problem`` union members; denials raise ``Forbidden``; anything else is an internal
error (masked, logged).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from starlette.concurrency import run_in_threadpool

from ledger_collect.api.context import Context, Info
from ledger_collect.api.errors import Conflict, NotFound, RuleBroken, problem
from ledger_collect.api.permissions import Action, User, require
from ledger_collect.commands import Batch, Outcome, guarded
from ledger_collect.domain.base import DomainError
from ledger_collect.domain.customer import Customer
from ledger_collect.projections.live import ProjectionTimeoutError

logger = logging.getLogger("ledger_collect.api")

#: The read models a mutation's answer and the customer overview show, by kind of command: the
#: mutation answers once they have caught up with its events (read-your-writes).
PROMISE_READS = ("open_items", "casework", "timeline", "worklist")
DISPUTE_READS = ("open_items", "disputes", "timeline", "worklist")
FOLLOW_UP_READS = ("casework", "timeline", "worklist")
ACTIVITY_READS = ("casework", "timeline")
EMAIL_READS = ("correspondence", "timeline")
CONTACT_READS = ("customers", "correspondence", "casework", "timeline", "worklist")
CUSTOMER_READS = ("customers", "timeline", "worklist")
TEAM_READS = ("teams",)
ERP_READS = ("open_items", "customers", "casework", "disputes", "timeline", "worklist")

R = TypeVar("R")
P = TypeVar("P")
#: Checks the user may run the command, on its batch before it runs; raises Forbidden, or
#: NotFoundError for unknown ids.
Guard = Callable[[User, Batch], None]


def anywhere(action: Action) -> Guard:
    """For commands not about one known customer (ERP facts): the role decides alone."""

    def guard(user: User, batch: Batch) -> None:
        require(user, action)

    return guard


def on_customer(action: Action, customer_id: UUID) -> Guard:
    """For commands about a customer: the role, then the customer's segment."""

    def guard(user: User, batch: Batch) -> None:
        require(user, action)  # before loading anything: no hint whether the id exists
        require(user, action, batch.get(Customer, customer_id, "customer").segment)

    return guard


def on_record(action: Action, kind: type[Any], record_id: UUID, label: str) -> Guard:
    """For commands about a customer's record (a promise, a dispute...): its customer decides.
    ``label`` names the record as the command's own not-found message would."""

    def guard(user: User, batch: Batch) -> None:
        require(user, action)
        record = batch.get(kind, record_id, label)
        require(user, action, batch.get(Customer, record.customer_id, "customer").segment)

    return guard


async def run_command(info: Info, guard: Guard, function: Callable[..., R], *args: Any,
                      answer: Callable[[Outcome[R]], P], reads: Sequence[str] = (),
                      business_date: date | None = None,
                      **kwargs: Any) -> P | NotFound | RuleBroken | Conflict:
    """Run ``function(batch, *args, **kwargs, actor=<user>, business_date=<today>)`` for the
    request's user, guarded, and answer ``answer(<its Outcome>)``, once the read models named
    in ``reads`` show the change."""
    context = info.context
    command = guarded(functools.partial(guard, context.user), function)
    when = business_date or context.business_date

    def work() -> tuple[P, int | None]:
        outcome = context.collections.run(command, *args, actor=context.user.id,
                                          business_date=when, **kwargs)
        return answer(outcome), outcome.position

    try:
        payload, position = await run_in_threadpool(work)
    except DomainError as error:
        return problem(error)
    if reads and position is not None:
        await wait_for_read_models(context, position, reads)
    return payload


def arguments(input: Any, **changes: Any) -> dict[str, Any]:
    """A mutation's input as its command's arguments: each input field names one (``changes``
    replace or add some)."""
    return {**{field.name: getattr(input, field.name) for field in dataclasses.fields(input)},
            **changes}


@dataclass(frozen=True)
class RecordCommands:
    """How mutations run the commands on one kind of a customer's record (a dispute case, an
    email...), their inputs naming the commands' arguments: the record's customer decides who
    may, and the answer is the record as saved once the read models ``reads`` show it.
    ``key``: the input field holding the record's id; ``label``: the record as the commands'
    own not-found messages name it."""

    kind: type[Any]
    key: str
    label: str
    reads: Sequence[str]

    def guard(self, record_id: UUID, action: Action = Action.CASEWORK) -> Guard:
        return on_record(action, self.kind, record_id, self.label)

    async def create(self, info: Info, function: Callable[..., UUID], input: Any, *,
                     answer: Any, **changes: Any) -> Any:
        """Run a command making a record for the customer ``input.customer_id``; answer
        ``answer.of(<the record made>)``."""
        return await run_command(
            info, on_customer(Action.CASEWORK, input.customer_id), function,
            **arguments(input, **changes), reads=self.reads,
            answer=lambda saved: answer.of(saved[saved.result]))

    async def change(self, info: Info, function: Callable[..., Any], input: Any, *,
                     answer: Any, action: Action = Action.CASEWORK, **changes: Any) -> Any:
        """Run a command changing the record the input names; answer
        ``answer.of(<the record as saved>)``."""
        record_id = getattr(input, self.key)
        return await run_command(
            info, self.guard(record_id, action), function, **arguments(input, **changes),
            reads=self.reads, answer=lambda saved: answer.of(saved[record_id]))


async def wait_for_read_models(context: Context, position: int, names: Sequence[str]) -> bool:
    """Wait until each named read model has processed the notification log up to ``position``,
    at most ``settings.read_wait_seconds`` (``projections.waiting``: woken by the projector's
    notifications, holding no connection of the request pools). True when they did; on
    time-out the answer goes out anyway (a little behind) and the lag is logged."""
    if context.read_models is None:
        return False
    try:
        await context.read_models.wait_for(names, position, context.settings.read_wait_seconds)
    except ProjectionTimeoutError as error:
        logger.warning("%s", error)
        return False
    return True
