"""Team: the specialists who work one collection segment, and their absences.

Each morning the segment's unassigned customers are spread over the specialists present that
day: members of the team who are not absent. An absent specialist's own customers go to the
substitute named for the absence, so a substitute must be a member and present on every day of
it. That is checked both ways: a substitute cannot be recorded absent while standing in, a
specialist standing in for someone cannot be recorded absent on those days, and cannot leave
the team while an absence they cover is still to come.

Absences cover whole days, first to last. No reason is kept: why someone is away is not the
worklist's business, and would often be health data. Specialists are user ids, not personal
data (the worklist shows them to every reader).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger_collect.domain.base import (
    CollectionsAggregate,
    DomainError,
    NotFoundError,
    ValidationError,
    derived_id,
)

#: The longest absence recorded at once (a longer one is recorded again when it goes on).
MAX_ABSENCE_DAYS = 366


class NotTeamMemberError(DomainError):
    """A specialist named for a team's business is not a member of that segment's team."""


class AbsenceOverlapError(DomainError):
    """The specialist is already recorded absent on some of those days."""


class SubstituteUnavailableError(DomainError):
    """The substitute named cannot stand in: not a member, the absent specialist themselves,
    or absent on some of the days."""


class StandsInError(DomainError):
    """The specialist stands in for an absent colleague on those days: that absence must get
    another substitute first (cancel it and record it again)."""


class UnknownAbsenceError(NotFoundError, code="NOT_FOUND"):
    """The team has no absence of that id."""


def _specialist(value: str, what: str = "specialist") -> str:
    found = (value or "").strip()
    if not found:
        raise ValidationError(f"name the {what}")
    return found


def _days(first: date, last: date) -> str:
    return str(first) if first == last else f"{first} to {last}"


class Team(CollectionsAggregate):
    TOPIC = "ledger_collect.Team"

    @staticmethod
    def create_id(segment: str, **_: Any) -> UUID:
        return derived_id("team", segment)

    @classmethod
    def form(cls, *, segment: str, actor: str, business_date: date) -> Team:
        segment = (segment or "").strip()
        if not segment:
            raise ValidationError("name the collection segment of the team")
        return cls(segment=segment, actor=actor, business_date=business_date)

    @event("Formed", topic="ledger_collect.Team.Formed")
    def __init__(self, segment: str, actor: str, business_date: date) -> None:
        self.segment = segment
        self.members: dict[str, date] = {}  # specialist -> joined on
        #: absence id -> {"specialist", "first_day", "last_day", "substitute"}
        self.absences: dict[UUID, dict[str, Any]] = {}

    # -- members ------------------------------------------------------------------------------
    def join(self, specialist: str, *, actor: str, business_date: date) -> None:
        """Add a specialist from ``business_date`` on; joining again changes nothing."""
        specialist = _specialist(specialist)
        if specialist in self.members:
            return
        self._joined(segment=self.segment, specialist=specialist, actor=actor,
                     business_date=business_date)

    @event("SpecialistJoined", topic="ledger_collect.Team.SpecialistJoined")
    def _joined(self, segment: str, specialist: str, actor: str, business_date: date) -> None:
        self.members[specialist] = business_date

    def leave(self, specialist: str, *, actor: str, business_date: date) -> None:
        """The specialist no longer works the segment; their own absences go with them."""
        specialist = self._member(_specialist(specialist))
        covered = [a for a in self.absences.values()
                   if a["substitute"] == specialist and a["last_day"] >= business_date]
        if covered:
            first = min(covered, key=lambda a: a["first_day"])
            raise StandsInError(
                f"{specialist} stands in for {first['specialist']} "
                f"({_days(first['first_day'], first['last_day'])}); record that absence with "
                f"another substitute before {specialist} leaves the {self.segment} team")
        self._left(segment=self.segment, specialist=specialist, actor=actor,
                   business_date=business_date)

    @event("SpecialistLeft", topic="ledger_collect.Team.SpecialistLeft")
    def _left(self, segment: str, specialist: str, actor: str, business_date: date) -> None:
        del self.members[specialist]
        self.absences = {key: a for key, a in self.absences.items()
                         if a["specialist"] != specialist}

    def _member(self, specialist: str, role: str = "") -> str:
        if specialist not in self.members:
            raise NotTeamMemberError(f"{specialist}{role} is not a member of the {self.segment} "
                                     f"team")
        return specialist

    # -- absences -----------------------------------------------------------------------------
    def record_absence(self, absence_id: UUID, *, specialist: str, first_day: date,
                       last_day: date, substitute: str | None, actor: str,
                       business_date: date) -> None:
        specialist = self._member(_specialist(specialist))
        if first_day > last_day:
            raise ValidationError(f"an absence from {first_day} cannot end before, on "
                                  f"{last_day}")
        if last_day < business_date:
            raise ValidationError(f"an absence that ended on {last_day} changes no worklist "
                                  f"from {business_date} on")
        if (last_day - first_day).days >= MAX_ABSENCE_DAYS:
            raise ValidationError(f"an absence is recorded for at most {MAX_ABSENCE_DAYS} days "
                                  f"at once; {_days(first_day, last_day)} is longer")
        for other in self._overlapping(first_day, last_day):
            if other["specialist"] == specialist:
                raise AbsenceOverlapError(
                    f"{specialist} is already absent {_days(other['first_day'], other['last_day'])}"
                    f", which overlaps {_days(first_day, last_day)}")
            if other["substitute"] == specialist:
                raise StandsInError(
                    f"{specialist} stands in for {other['specialist']} "
                    f"({_days(other['first_day'], other['last_day'])}); record that absence "
                    f"with another substitute first")
        if substitute is not None:
            self._check_substitute(_specialist(substitute, "substitute"), specialist,
                                   first_day, last_day)
        self._absence_recorded(segment=self.segment, absence_id=absence_id,
                               specialist=specialist, first_day=first_day, last_day=last_day,
                               substitute=substitute.strip() if substitute else None,
                               actor=actor, business_date=business_date)

    def _check_substitute(self, substitute: str, specialist: str, first_day: date,
                          last_day: date) -> None:
        if substitute == specialist:
            raise SubstituteUnavailableError(f"{specialist} cannot stand in for themselves")
        if substitute not in self.members:
            raise SubstituteUnavailableError(
                f"{substitute} is not a member of the {self.segment} team and cannot stand in "
                f"for {specialist}")
        for other in self._overlapping(first_day, last_day):
            if other["specialist"] == substitute:
                raise SubstituteUnavailableError(
                    f"{substitute} is absent {_days(other['first_day'], other['last_day'])} and "
                    f"cannot stand in for {specialist} {_days(first_day, last_day)}")

    def _overlapping(self, first_day: date, last_day: date) -> list[dict[str, Any]]:
        return sorted((a for a in self.absences.values()
                       if a["first_day"] <= last_day and first_day <= a["last_day"]),
                      key=lambda a: (a["first_day"], a["specialist"]))

    @event("AbsenceRecorded", topic="ledger_collect.Team.AbsenceRecorded")
    def _absence_recorded(self, segment: str, absence_id: UUID, specialist: str,
                          first_day: date, last_day: date, substitute: str | None, actor: str,
                          business_date: date) -> None:
        self.absences[absence_id] = {"specialist": specialist, "first_day": first_day,
                                     "last_day": last_day, "substitute": substitute}

    def cancel_absence(self, absence_id: UUID, *, actor: str, business_date: date) -> None:
        """The specialist is back (or was never away): from today on they are present. An
        absence that is over stays on record."""
        absence = self.absences.get(absence_id)
        if absence is None:
            raise UnknownAbsenceError(f"the {self.segment} team has no absence {absence_id}")
        if absence["last_day"] < business_date:
            raise ValidationError(f"the absence of {absence['specialist']} ended on "
                                  f"{absence['last_day']}; an absence that is over stays on record")
        self._absence_cancelled(segment=self.segment, absence_id=absence_id,
                                specialist=absence["specialist"], actor=actor,
                                business_date=business_date)

    @event("AbsenceCancelled", topic="ledger_collect.Team.AbsenceCancelled")
    def _absence_cancelled(self, segment: str, absence_id: UUID, specialist: str, actor: str,
                           business_date: date) -> None:
        del self.absences[absence_id]

    # -- a day --------------------------------------------------------------------------------
    def absent_on(self, day: date) -> dict[str, str | None]:
        """Members absent on ``day``, each with their substitute (None: nobody named)."""
        return {a["specialist"]: a["substitute"] for a in self.absences.values()
                if a["first_day"] <= day <= a["last_day"] and a["specialist"] in self.members}

    def present_on(self, day: date) -> list[str]:
        """Members who had joined by ``day`` and are not absent on it, by name."""
        absent = self.absent_on(day)
        return sorted(s for s, joined in self.members.items()
                      if joined <= day and s not in absent)
