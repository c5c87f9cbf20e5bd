"""Teams: per collection segment its members (with the day they joined, and left) and their
absences (with the substitute, and whether they were cancelled), as the team query shows them.

Writer: the members and absences a page touches are loaded (one query each), folded in memory,
written back with one upsert each. A specialist leaving takes their absences with them (the
aggregate forgets them): they are marked cancelled on that day. Reader: ``team_view``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain.base import derived_id
from ledger_collect.domain.team import Team
from ledger_collect.projections import Projection
from ledger_collect.projections.rows import PageRows
from ledger_collect.projections.tables import Key, Table


@dataclass(frozen=True)
class MemberRecord:
    id: UUID
    segment: Key
    specialist: Key
    joined_on: date
    left_on: date | None


@dataclass(frozen=True)
class AbsenceRecord:
    id: UUID
    segment: Key
    specialist: str
    first_day: date
    last_day: date
    substitute: str | None
    recorded_on: date
    recorded_by: str
    cancelled_on: date | None
    cancelled_by: str | None


MEMBER_TABLE = Table("team_members", MemberRecord)
ABSENCE_TABLE = Table("team_absences", AbsenceRecord)


def member_id(segment: str, specialist: str) -> UUID:
    return derived_id("team-member", f"{segment}\x1f{specialist}")


class Teams(Projection):
    name = "teams"
    declared = (MEMBER_TABLE, ABSENCE_TABLE)
    handles = (Team.SpecialistJoined, Team.SpecialistLeft, Team.AbsenceRecorded,
               Team.AbsenceCancelled)

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        page = PageRows(conn, self.declared)
        members, absences = page[MEMBER_TABLE], page[ABSENCE_TABLE]
        members.load(member_id(e.segment, e.specialist) for e in events
                     if type(e) in (Team.SpecialistJoined, Team.SpecialistLeft))
        absences.load(e.absence_id for e in events if type(e) is Team.AbsenceCancelled)
        absences.load({e.segment for e in events if type(e) is Team.SpecialistLeft},
                      by="segment")
        for e in events:
            kind = type(e)
            if kind is Team.SpecialistJoined:
                members.add({"id": member_id(e.segment, e.specialist), "segment": e.segment,
                             "specialist": e.specialist, "joined_on": e.business_date,
                             "left_on": None})
            elif kind is Team.SpecialistLeft:
                row = members.get(member_id(e.segment, e.specialist))
                if row is not None:
                    row["left_on"] = e.business_date
                for key, absence in list(absences.rows.items()):
                    if (absence["segment"], absence["specialist"]) == (e.segment, e.specialist) \
                            and absence["cancelled_on"] is None:
                        _cancel(absences.get(key), e)
            elif kind is Team.AbsenceRecorded:
                absences.add({"id": e.absence_id, "segment": e.segment,
                              "specialist": e.specialist, "first_day": e.first_day,
                              "last_day": e.last_day, "substitute": e.substitute,
                              "recorded_on": e.business_date, "recorded_by": e.actor,
                              "cancelled_on": None, "cancelled_by": None})
            else:
                _cancel(absences.get(e.absence_id), e)
        page.write()


def _cancel(row: dict[str, Any] | None, e: Any) -> None:
    if row is not None:
        row.update(cancelled_on=e.business_date, cancelled_by=e.actor)


# -- reader (asyncpg; the pool's search_path is the app's schema) -------------------------------
@dataclass(frozen=True)
class TeamView:
    """A segment's team as of a day: its members, and the absences not over by then."""

    segment: str
    day: date
    members: list[MemberRecord]
    absences: list[AbsenceRecord]

    @property
    def absent(self) -> dict[str, str | None]:
        """Members absent on the day, each with their substitute."""
        return {a.specialist: a.substitute for a in self.absences
                if a.first_day <= self.day <= a.last_day}

    @property
    def present(self) -> list[str]:
        absent = self.absent
        return [m.specialist for m in self.members
                if m.joined_on <= self.day and m.specialist not in absent]


async def team_view(pool: Any, segment: str, day: date) -> TeamView:
    """The current members (by name) and the absences not cancelled that end on ``day`` or
    later (by first day): two queries."""
    members = await pool.fetch(
        f"SELECT {MEMBER_TABLE.select()} FROM team_members WHERE segment = $1"
        " AND left_on IS NULL ORDER BY specialist", segment)
    absences = await pool.fetch(
        f"SELECT {ABSENCE_TABLE.select()} FROM team_absences WHERE segment = $1"
        " AND cancelled_on IS NULL AND last_day >= $2 ORDER BY first_day, specialist",
        segment, day)
    return TeamView(segment, day, [MEMBER_TABLE.make(r) for r in members],
                    [ABSENCE_TABLE.make(r) for r in absences])
