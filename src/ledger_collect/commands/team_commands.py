"""A segment's team: specialists join and leave, absences are recorded with their substitute.

The team of a segment is formed when its first specialist joins. Every rule (membership, the
substitute's presence, overlapping absences) is the ``Team`` aggregate's; a refused command
records nothing.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

from ledger_collect.commands.values import CODE, DATE, UNCHECKED, checked
from ledger_collect.domain.base import NotFoundError
from ledger_collect.domain.team import Team

if TYPE_CHECKING:
    from ledger_collect.commands import Batch


def team_of(batch: Batch, segment: str) -> Team:
    """The segment's team, or a NotFoundError saying the segment has none."""
    found = batch.find(Team, Team.create_id(segment.strip()))
    if found is None:
        raise NotFoundError(f"segment {segment} has no team yet: add its first specialist")
    return found


@checked
def join_team(batch: Batch, segment: str, specialist: str, *, actor: str,
              business_date: date) -> UUID:
    """Add the specialist to the segment's team (formed now if it has none); returns the
    team's id."""
    team = batch.find(Team, Team.create_id((segment or "").strip()))
    if team is None:
        team = batch.add(Team.form(segment=segment, actor=actor, business_date=business_date))
    team.join(specialist, actor=actor, business_date=business_date)
    return team.id


@checked
def leave_team(batch: Batch, segment: str, specialist: str, *, actor: str,
               business_date: date) -> UUID:
    team = team_of(batch, segment)
    team.leave(specialist, actor=actor, business_date=business_date)
    return team.id


@checked(first_day=DATE, last_day=DATE, substitute=CODE)
def record_absence(batch: Batch, segment: str, specialist: str, *, first_day: date,
                   last_day: date, substitute: str | None = None, actor: str,
                   business_date: date) -> UUID:
    """The specialist is away from ``first_day`` to ``last_day`` (whole days); their own
    customers go to ``substitute`` on those days, or are shared among those present when
    nobody is named. Returns the absence's id."""
    absence_id = uuid.uuid4()
    team_of(batch, segment).record_absence(
        absence_id, specialist=specialist, first_day=first_day, last_day=last_day,
        substitute=substitute, actor=actor, business_date=business_date)
    return absence_id


@checked(absence_id=UNCHECKED)
def cancel_absence(batch: Batch, segment: str, absence_id: UUID, *, actor: str,
                   business_date: date) -> UUID:
    team = team_of(batch, segment)
    team.cancel_absence(absence_id, actor=actor, business_date=business_date)
    return team.id
