"""A segment's team: members, absences and substitutes, each rule at its edge (on the in-memory
store), the teams read model against a rebuild, and the team over GraphQL (who may change and
read it, precise refusals with nothing recorded)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from model_helpers import assert_equals_rebuild, run_async

from ledger_collect.commands.application import Collections
from ledger_collect.commands.team_commands import (
    cancel_absence,
    join_team,
    leave_team,
    record_absence,
)
from ledger_collect.domain.base import DomainError, NotFoundError, ValidationError
from ledger_collect.domain.team import (
    AbsenceOverlapError,
    NotTeamMemberError,
    StandsInError,
    SubstituteUnavailableError,
    Team,
)
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.teams import team_view
from ledger_collect.storage.database import Database

TODAY = date(2026, 11, 23)
SUE = {"actor": "sue", "business_date": TODAY}


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def team(app: Collections, segment: str = "north") -> Team:
    return app.repository.get(Team.create_id(segment))  # type: ignore[no-any-return]


def north(app: Collections, *members: str) -> None:
    for member in members or ("alice", "bob", "chloe"):
        app.run(join_team, "north", member, **SUE)


def away(app: Collections, specialist: str, first: int, last: int,
         substitute: str | None = None) -> Any:
    return app.run(record_absence, "north", specialist, first_day=day(first),
                   last_day=day(last), substitute=substitute, **SUE).result


def refused(app: Collections, error: type[DomainError], *args: Any, **kwargs: Any) -> str:
    """The command is refused with ``error`` and the team records nothing."""
    before = team(app).version
    with pytest.raises(error) as caught:
        app.run(*args, **{**SUE, **kwargs})
    assert team(app).version == before
    return str(caught.value)


@pytest.mark.store("memory")
class TestRules:
    def test_the_first_member_forms_the_team_and_joining_twice_changes_nothing(
            self, app: Collections) -> None:
        with pytest.raises(NotFoundError, match="segment north has no team yet"):
            app.run(record_absence, "north", "alice", first_day=TODAY, last_day=TODAY, **SUE)
        first = app.run(join_team, "north", "alice", **SUE)
        assert first.result == Team.create_id("north") and team(app).members == {"alice": TODAY}
        assert app.run(join_team, "north", " alice ", **SUE).position is None
        app.run(join_team, "north", "bob", actor="sue", business_date=day(2))
        assert team(app).present_on(day(1)) == ["alice"]  # bob works from the day he joined
        assert team(app).present_on(day(2)) == ["alice", "bob"]

    def test_an_absence_covers_its_first_and_last_day_and_no_other(self,
                                                                    app: Collections) -> None:
        north(app)
        away(app, "alice", 1, 3, substitute="bob")
        assert [team(app).present_on(day(n)) for n in range(5)] == [
            ["alice", "bob", "chloe"], ["bob", "chloe"], ["bob", "chloe"], ["bob", "chloe"],
            ["alice", "bob", "chloe"]]
        assert team(app).absent_on(day(1)) == {"alice": "bob"}
        assert team(app).absent_on(day(4)) == {}

    def test_the_substitute_must_be_a_present_member_other_than_the_absent_one(
            self, app: Collections) -> None:
        north(app)
        app.run(join_team, "south", "sam", **SUE)
        away(app, "bob", 5, 7)
        assert refused(app, SubstituteUnavailableError, record_absence, "north", "alice",
                       first_day=day(1), last_day=day(2), substitute="alice") == (
            "alice cannot stand in for themselves")
        assert refused(app, SubstituteUnavailableError, record_absence, "north", "alice",
                       first_day=day(1), last_day=day(2), substitute="sam") == (
            "sam is not a member of the north team and cannot stand in for alice")
        # bob is away from day 5: alice's absence ending on day 5 clashes, on day 4 it does not
        assert refused(app, SubstituteUnavailableError, record_absence, "north", "alice",
                       first_day=day(1), last_day=day(5), substitute="bob") == (
            f"bob is absent {day(5)} to {day(7)} and cannot stand in for alice "
            f"{day(1)} to {day(5)}")
        away(app, "alice", 1, 4, substitute="bob")
        away(app, "chloe", 8, 8, substitute="bob")  # the day after bob's absence

    def test_a_specialist_is_not_absent_twice_nor_while_standing_in(self,
                                                                     app: Collections) -> None:
        north(app)
        away(app, "alice", 3, 6, substitute="bob")
        assert refused(app, AbsenceOverlapError, record_absence, "north", "alice",
                       first_day=day(6), last_day=day(9)) == (
            f"alice is already absent {day(3)} to {day(6)}, which overlaps {day(6)} to {day(9)}")
        assert refused(app, StandsInError, record_absence, "north", "bob",
                       first_day=day(0), last_day=day(3)) == (
            f"bob stands in for alice ({day(3)} to {day(6)}); record that absence with "
            "another substitute first")
        away(app, "alice", 7, 9)
        away(app, "bob", 0, 2)

    def test_the_days_are_checked(self, app: Collections) -> None:
        north(app)
        assert refused(app, ValidationError, record_absence, "north", "alice",
                       first_day=day(2), last_day=day(1)) == (
            f"an absence from {day(2)} cannot end before, on {day(1)}")
        assert "ended on 2026-11-22 changes no worklist" in refused(
            app, ValidationError, record_absence, "north", "alice", first_day=day(-3),
            last_day=day(-1))
        assert "at most 366 days" in refused(app, ValidationError, record_absence, "north",
                                             "alice", first_day=day(0), last_day=day(366))
        away(app, "alice", 0, 365)  # 366 days, today included
        away(app, "bob", -3, 0)  # began before today, still on today
        assert refused(app, NotTeamMemberError, record_absence, "north", "zoe",
                       first_day=day(1), last_day=day(1)) == (
            "zoe is not a member of the north team")

    def test_leaving_takes_own_absences_and_waits_for_the_ones_covered(
            self, app: Collections) -> None:
        north(app)
        away(app, "alice", 2, 4, substitute="bob")
        away(app, "bob", 6, 6, substitute="chloe")
        assert refused(app, StandsInError, leave_team, "north", "bob") == (
            f"bob stands in for alice ({day(2)} to {day(4)}); record that absence with another "
            "substitute before bob leaves the north team")
        # once alice's absence is over, bob may leave; his own absence goes with him
        app.run(leave_team, "north", "bob", actor="sue", business_date=day(5))
        assert [a["specialist"] for a in team(app).absences.values()] == ["alice"]
        assert sorted(team(app).members) == ["alice", "chloe"]
        assert refused(app, NotTeamMemberError, leave_team, "north", "bob") == (
            "bob is not a member of the north team")

    def test_cancelling_an_absence(self, app: Collections) -> None:
        north(app)
        absence = away(app, "alice", 0, 2, substitute="bob")
        assert "no absence" in refused(app, NotFoundError, cancel_absence, "north",
                                       Team.create_id("other"))
        assert refused(app, ValidationError, cancel_absence, "north", absence,
                       business_date=day(3)) == (
            f"the absence of alice ended on {day(2)}; an absence that is over stays on record")
        app.run(cancel_absence, "north", absence, **SUE)
        assert team(app).present_on(day(1)) == ["alice", "bob", "chloe"]


def test_the_read_model_follows_the_team_and_equals_a_rebuild(app: Collections,
                                                              database: Database) -> None:
    north(app)
    app.run(join_team, "south", "sam", **SUE)
    gone = away(app, "alice", 1, 3, substitute="bob")
    away(app, "chloe", 2, 2)
    away(app, "bob", 5, 6)
    app.run(cancel_absence, "north", gone, **SUE)
    away(app, "alice", 1, 1, substitute="chloe")
    app.run(leave_team, "north", "bob", **SUE)
    catch_up(app, "teams")
    assert_equals_rebuild(app, database, "teams")
    view = run_async(database, team_view, "north", day(1))
    assert [m.specialist for m in view.members] == ["alice", "chloe"]
    assert [(a.specialist, a.first_day, a.substitute) for a in view.absences] == [
        ("alice", day(1), "chloe"), ("chloe", day(2), None)]
    assert view.present == ["chloe"] and view.absent == {"alice": "chloe"}
    assert run_async(database, team_view, "north", day(2)).present == ["alice"]
    assert run_async(database, team_view, "north", day(3)).absences == []
