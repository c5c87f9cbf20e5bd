"""Teams: who works a collection segment, who is away and who stands in for them. The morning
worklist is spread over the specialists present (``jobs.worklists``).

A segment's team is its supervisors' business (and the admins'): they change it and read it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Self
from uuid import UUID

import strawberry

from ledger_collect.api.context import Info
from ledger_collect.api.errors import Problem, command_mutation
from ledger_collect.api.generation_requests import generate_again
from ledger_collect.api.permissions import Action, User, require
from ledger_collect.api.runner import TEAM_READS, Guard, arguments, run_command
from ledger_collect.commands import Batch, Outcome
from ledger_collect.commands import team_commands as commands
from ledger_collect.domain import team as domain
from ledger_collect.projections.teams import TeamView, team_view


@strawberry.input
class JoinTeamInput:
    segment: str
    specialist: str


@strawberry.input
class LeaveTeamInput:
    segment: str
    specialist: str


@strawberry.input
class RecordAbsenceInput:
    segment: str
    specialist: str
    first_day: date
    last_day: date = strawberry.field(description="The last day away (whole days).")
    substitute: str | None = strawberry.field(
        default=None, description="Takes the absent specialist's own customers on those days: "
                                  "a member of the team, present then. None: they are shared "
                                  "among the specialists present.")


@strawberry.input
class CancelAbsenceInput:
    segment: str
    absence_id: UUID


@strawberry.type(description="A member of a segment's team.")
class TeamMember:
    specialist: str
    joined_on: date


@strawberry.type(description="A specialist away for whole days, and who stands in.")
class Absence:
    absence_id: UUID
    specialist: str
    first_day: date
    last_day: date
    substitute: str | None = strawberry.field(
        description="Null: the absent specialist's customers are shared among those present.")


@strawberry.type(description="Who works a collection segment, as of a day.")
class Team:
    segment: str
    as_of: date = strawberry.field(description="The day `present` and `absences` are seen from.")
    members: list[TeamMember]
    absences: list[Absence] = strawberry.field(description="Absences not over by the day, "
                                                           "by first day.")
    present: list[str] = strawberry.field(
        description="Members present on the day: the worklist is spread over them.")

    @classmethod
    def of_view(cls, view: TeamView) -> Self:
        return cls(segment=view.segment, as_of=view.day,
                   members=[TeamMember(specialist=m.specialist, joined_on=m.joined_on)
                            for m in view.members],
                   absences=[Absence(absence_id=a.id, specialist=a.specialist,
                                     first_day=a.first_day, last_day=a.last_day,
                                     substitute=a.substitute) for a in view.absences],
                   present=view.present)

    @classmethod
    def of_aggregate(cls, team: domain.Team, day: date) -> Self:
        absences = sorted(((key, a) for key, a in team.absences.items() if a["last_day"] >= day),
                          key=lambda pair: (pair[1]["first_day"], pair[1]["specialist"]))
        return cls(segment=team.segment, as_of=day,
                   members=[TeamMember(specialist=s, joined_on=team.members[s])
                            for s in sorted(team.members)],
                   absences=[Absence(absence_id=key, specialist=a["specialist"],
                                     first_day=a["first_day"], last_day=a["last_day"],
                                     substitute=a["substitute"]) for key, a in absences],
                   present=team.present_on(day))


@strawberry.type(description="The team as it stands after the change.")
class TeamChanged:
    team: Team


@strawberry.type(description="The absence is recorded; the team as it stands now.")
class AbsenceRecorded:
    absence_id: UUID
    team: Team


def on_team(segment: str) -> Guard:
    """Only the segment's supervisors (and admins) change its team."""

    def guard(user: User, batch: Batch) -> None:
        require(user, Action.TEAM)
        require(user, Action.TEAM, (segment or "").strip())

    return guard


async def _change(info: Info, function: Any, input: Any, answer: Any) -> Any:
    today = info.context.business_date

    def made(outcome: Outcome[Any]) -> Any:
        team = outcome.aggregates[domain.Team.create_id(input.segment.strip())]
        return answer(outcome, Team.of_aggregate(team, today))

    answered = await run_command(info, on_team(input.segment), function, **arguments(input),
                                 answer=made, reads=TEAM_READS)
    if isinstance(answered, TeamChanged | AbsenceRecorded):  # who works today may have changed
        await generate_again(info, "a team change")
    return answered


@strawberry.type
class TeamMutations:
    @command_mutation(TeamChanged, description="Add a specialist to a segment's team (formed "
                                               "with its first member).")
    async def join_team(self, info: Info, input: JoinTeamInput) -> TeamChanged | Problem:
        return await _change(info, commands.join_team, input,
                             lambda _, team: TeamChanged(team=team))

    @command_mutation(TeamChanged, description="Take a specialist off a segment's team.")
    async def leave_team(self, info: Info, input: LeaveTeamInput) -> TeamChanged | Problem:
        return await _change(info, commands.leave_team, input,
                             lambda _, team: TeamChanged(team=team))

    @command_mutation(AbsenceRecorded, description="A specialist is away for whole days; "
                                                   "their customers go to the substitute.")
    async def record_absence(self, info: Info,
                             input: RecordAbsenceInput) -> AbsenceRecorded | Problem:
        return await _change(info, commands.record_absence, input,
                             lambda outcome, team: AbsenceRecorded(absence_id=outcome.result,
                                                                   team=team))

    @command_mutation(TeamChanged, description="The specialist is back, or was never away.")
    async def cancel_absence(self, info: Info, input: CancelAbsenceInput) -> TeamChanged | Problem:
        return await _change(info, commands.cancel_absence, input,
                             lambda _, team: TeamChanged(team=team))


@strawberry.type
class TeamQuery:
    @strawberry.field(description="A segment's team as of a day (today by default); null when "
                                  "the segment has none.")
    async def team(self, info: Info, segment: str, as_of: Annotated[date | None, strawberry.argument(
            name="date", description="The day to see the team from; today by default.")] = None,
                   ) -> Team | None:
        context = info.context
        require(context.user, Action.TEAM)
        require(context.user, Action.TEAM, segment.strip())
        view = await team_view(context.pool, segment.strip(), as_of or context.business_date)
        return Team.of_view(view) if view.members or view.absences else None
