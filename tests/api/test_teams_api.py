"""A segment's team over HTTP: its supervisor forms it, records an absence with a substitute and
reads it back; refusals come back as typed problems with nothing recorded; specialists and
other segments' supervisors are denied."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api.helpers import TODAY, Api
from ledger_collect.commands.application import Collections
from ledger_collect.projections.engine import catch_up

TEAM = """fragment team on Team { segment asOf present members { specialist joinedOn }
  absences { specialist firstDay lastDay substitute } }"""
JOIN = TEAM + """mutation ($segment: String!, $specialist: String!) {
  joinTeam(input: {segment: $segment, specialist: $specialist}) {
    __typename ... on TeamChanged { team { ...team } } ... on Problem { code message } } }"""
ABSENT = TEAM + """mutation ($input: RecordAbsenceInput!) { recordAbsence(input: $input) {
  __typename ... on AbsenceRecorded { absenceId team { ...team } }
  ... on Problem { code message } } }"""
CANCEL = """mutation ($id: UUID!) { cancelAbsence(input: {segment: "north", absenceId: $id}) {
  __typename ... on TeamChanged { team { present } } ... on Problem { code message } } }"""
QUERY = TEAM + "query ($date: Date) { team(segment: \"north\", date: $date) { ...team } }"


def absence(api: Api, specialist: str, first: int, last: int, substitute: str | None = None,
            user: str = "sue") -> dict[str, Any]:
    return api.data(ABSENT, {"input": {
        "segment": "north", "specialist": specialist, "firstDay": str(TODAY + timedelta(first)),
        "lastDay": str(TODAY + timedelta(last)), "substitute": substitute}},
        user=user)["recordAbsence"]  # type: ignore[no-any-return]


def test_a_supervisor_forms_the_team_and_records_an_absence(api: Api, app: Collections) -> None:
    for member in ("alice", "anna"):
        changed = api.data(JOIN, {"segment": "north", "specialist": member}, user="sue")
    assert changed["joinTeam"]["team"] == {
        "segment": "north", "asOf": str(TODAY), "present": ["alice", "anna"],
        "members": [{"specialist": "alice", "joinedOn": str(TODAY)},
                    {"specialist": "anna", "joinedOn": str(TODAY)}], "absences": []}
    recorded = absence(api, "alice", 0, 2, substitute="anna")
    assert recorded["team"]["present"] == ["anna"]
    assert recorded["team"]["absences"] == [{"specialist": "alice", "firstDay": str(TODAY),
                                             "lastDay": str(TODAY + timedelta(2)),
                                             "substitute": "anna"}]
    catch_up(app, "teams")
    assert api.data(QUERY, user="sue")["team"] == recorded["team"]
    after = api.data(QUERY, {"date": str(TODAY + timedelta(3))}, user="root")["team"]
    assert (after["present"], after["absences"]) == (["alice", "anna"], [])
    cancelled = api.data(CANCEL, {"id": recorded["absenceId"]}, user="sue")["cancelAbsence"]
    assert cancelled == {"__typename": "TeamChanged", "team": {"present": ["alice", "anna"]}}


def test_refusals_are_typed_and_outsiders_are_denied(api: Api, app: Collections) -> None:
    api.data(JOIN, {"segment": "north", "specialist": "alice"}, user="sue")
    assert absence(api, "alice", 0, 1, substitute="bob") == {
        "__typename": "RuleBroken", "code": "SUBSTITUTE_UNAVAILABLE",
        "message": "bob is not a member of the north team and cannot stand in for alice"}
    assert absence(api, "zoe", 0, 1)["code"] == "NOT_TEAM_MEMBER"
    assert api.data(CANCEL, {"id": "00000000-0000-0000-0000-000000000000"}, user="sue")[
        "cancelAbsence"]["code"] == "NOT_FOUND"
    catch_up(app, "teams")
    assert api.data(QUERY, user="sue")["team"]["absences"] == []
    for user, segment in (("alice", "north"), ("sue", "south"), ("audrey", "north")):
        errors = api.errors(JOIN, {"segment": segment, "specialist": "alice"}, user=user)
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert api.errors(QUERY, user="alice")[0]["extensions"]["code"] == "FORBIDDEN"
    assert api.data(TEAM + 'query { team(segment: "east") { ...team } }')["team"] is None
