"""Activities: tasks for a specialist with a due date (call back, send a statement)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Self
from uuid import UUID

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Conflict, NotFound, RuleBroken
from ledger_collect.api.permissions import Action
from ledger_collect.api.runner import (
    ACTIVITY_READS,
    Guard,
    on_customer,
    on_record,
    run_command,
    state_of,
)
from ledger_collect.commands import casework as commands
from ledger_collect.domain.activity import Activity


@strawberry.input
class CreateActivityInput:
    customer_id: UUID
    due_date: date
    description: str
    specialist: str | None = strawberry.field(
        default=None, description="Who is to do it; default the caller.")


@strawberry.input
class RescheduleActivityInput:
    activity_id: UUID
    due_date: date


@strawberry.input
class CloseActivityInput:
    activity_id: UUID
    note: str | None = None


@strawberry.interface(description="An activity as it stands after the command.")
class ActivityState:
    activity_id: UUID
    customer_id: UUID
    specialist: str
    due_date: date
    status: str = strawberry.field(description="open or closed.")

    @classmethod
    def of(cls, activity: Activity) -> Self:
        return cls(activity_id=activity.id, customer_id=activity.customer_id,
                   specialist=activity.specialist, due_date=activity.due_date,
                   status=activity.status)


@strawberry.type
class ActivityCreated(ActivityState):
    pass


@strawberry.type
class ActivityRescheduled(ActivityState):
    pass


@strawberry.type
class ActivityClosed(ActivityState):
    pass


CreateActivityResult = Annotated[ActivityCreated | NotFound | RuleBroken | Conflict,
                                 strawberry.union("CreateActivityResult")]
RescheduleActivityResult = Annotated[ActivityRescheduled | NotFound | RuleBroken | Conflict,
                                     strawberry.union("RescheduleActivityResult")]
CloseActivityResult = Annotated[ActivityClosed | NotFound | RuleBroken | Conflict,
                                strawberry.union("CloseActivityResult")]


def _task(activity_id: UUID) -> Guard:
    return on_record(Action.CASEWORK, Activity, activity_id, "activity")


@strawberry.type
class ActivityMutations:
    @strawberry.mutation(description="Create a task about the customer for a specialist.")
    async def create_activity(self, info: Info,
                              input: CreateActivityInput) -> CreateActivityResult:
        return await run_command(
            info, on_customer(Action.CASEWORK, input.customer_id), commands.create_activity,
            input.customer_id, specialist=input.specialist or info.context.user.id,
            due_date=input.due_date, description=input.description,
            reads=ACTIVITY_READS, answer=lambda saved: ActivityCreated.of(saved[saved.result]))

    @strawberry.mutation(description="Move the task's due date.")
    async def reschedule_activity(self, info: Info,
                                  input: RescheduleActivityInput) -> RescheduleActivityResult:
        return await run_command(
            info, _task(input.activity_id), commands.reschedule_activity, input.activity_id,
            input.due_date, reads=ACTIVITY_READS, answer=state_of(ActivityRescheduled, input.activity_id))

    @strawberry.mutation(description="The task is done (or no longer needed).")
    async def close_activity(self, info: Info,
                             input: CloseActivityInput) -> CloseActivityResult:
        return await run_command(
            info, _task(input.activity_id), commands.close_activity, input.activity_id,
            note=input.note, reads=ACTIVITY_READS, answer=state_of(ActivityClosed, input.activity_id))
