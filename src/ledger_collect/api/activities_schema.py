"""Activities: tasks for a specialist with a due date (call back, send a statement)."""

from __future__ import annotations

from datetime import date
from typing import Self
from uuid import UUID

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Problem, command_mutation
from ledger_collect.api.runner import ACTIVITY_READS, RecordCommands
from ledger_collect.commands import casework_commands as commands
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


_ACTIVITY = RecordCommands(Activity, "activity_id", "activity", ACTIVITY_READS)


@strawberry.type
class ActivityMutations:
    @command_mutation(ActivityCreated,
                      description="Create a task about the customer for a specialist.")
    async def create_activity(self, info: Info,
                              input: CreateActivityInput) -> ActivityState | Problem:
        return await _ACTIVITY.create(info, commands.create_activity, input,
                                      specialist=input.specialist or info.context.user.id,
                                      answer=ActivityCreated)

    @command_mutation(ActivityRescheduled, description="Move the task's due date.")
    async def reschedule_activity(self, info: Info,
                                  input: RescheduleActivityInput) -> ActivityState | Problem:
        return await _ACTIVITY.change(info, commands.reschedule_activity, input,
                                      answer=ActivityRescheduled)

    @command_mutation(ActivityClosed, description="The task is done (or no longer needed).")
    async def close_activity(self, info: Info,
                             input: CloseActivityInput) -> ActivityState | Problem:
        return await _ACTIVITY.change(info, commands.close_activity, input,
                                      answer=ActivityClosed)
