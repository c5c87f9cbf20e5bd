"""A generated worklist over HTTP: the specialist's list as the morning's generation placed it,
each entry saying why it is there, the version of the day's list shown, and a page still one
query."""

from __future__ import annotations

from test_worklist_model import Book

from api.helpers import TODAY, Api
from api.test_worklist_api import three, worklist
from ledger_collect.commands.application import Collections
from ledger_collect.commands.team_commands import join_team, record_absence
from ledger_collect.domain.daily_worklist import DailyWorklist
from ledger_collect.jobs.worklists import generate_worklists
from ledger_collect.projections.engine import catch_up
from ledger_collect.storage.database import Database

__all__ = ["three"]  # the fixture, used by name

GENERATED = """query ($specialist: String, $unassigned: Boolean! = false) {
  worklist(specialist: $specialist, unassigned: $unassigned) {
    generated { segment date version strategyCode strategyVersion team present
                absences { specialist substitute } customers own substitute unassigned
                ownerAway unplaced generatedBy }
    nodes { number score rankedScore assignment assignedTo listVersion tasksDue } } }"""


def test_the_generated_list_is_read_with_its_version(api: Api, app: Collections, three: Book,
                                                     sql_queries: list[str]) -> None:
    for member in ("alice", "anna", "bob"):
        app.run(join_team, "north", member, actor="sue", business_date=TODAY)
    app.run(record_absence, "north", "bob", first_day=TODAY, last_day=TODAY,
            substitute="anna", actor="sue", business_date=TODAY)
    catch_up(app, "worklist")
    assert generate_worklists(app, business_date=TODAY)["generated"] == 1
    catch_up(app, "worklist")
    anna = api.data(GENERATED, {"specialist": "anna"}, user="anna")["worklist"]
    assert anna["generated"] == [{
        "segment": "north", "date": str(TODAY), "version": 1, "strategyCode": "default",
        "strategyVersion": 1, "team": True, "present": ["alice", "anna"],
        "absences": [{"specialist": "bob", "substitute": "anna"}], "customers": 5, "own": 3,
        "substitute": 1, "unassigned": 1, "ownerAway": 0, "unplaced": 0,
        "generatedBy": "worklist-generation"}]
    assert anna["nodes"] == [
        {"number": "BOB", "score": 0, "rankedScore": 0, "assignment": "substitute",
         "assignedTo": "bob", "listVersion": 1, "tasksDue": 0}]
    alice = api.data(GENERATED, user="alice")["worklist"]["nodes"]
    assert [(n["number"], n["assignment"]) for n in alice] == [
        ("BIG", "own"), ("MID", "own"), ("NOBODY", "unassigned"), ("SMALL", "own")]
    assert api.data(GENERATED, {"unassigned": True})["worklist"]["nodes"] == []
    assert [n["number"] for n in worklist(api, app, user="bob")["nodes"]] == []
    sql_queries.clear()
    api.data("{ worklist { nodes { number assignment } } }", user="alice")
    assert len(sql_queries) == 2, sql_queries  # the active strategies, the page itself


PUBLISH = """mutation ($input: PublishCollectionStrategyInput!) {
  publishCollectionStrategy(input: $input) { __typename } }"""


def test_a_strategy_published_requests_a_generation_of_the_day(
        api: Api, app: Collections, database: Database, three: Book) -> None:
    app.run(join_team, "north", "alice", actor="sue", business_date=TODAY)
    catch_up(app, "worklist")
    generate_worklists(app, business_date=TODAY)
    rules = [{"name": "risky", "kind": "risk_class", "riskClasses": ["D"], "points": 50}]
    assert api.data(PUBLISH, {"input": {"code": "north", "segment": "north", "rules": rules}},
                    user="sue")["publishCollectionStrategy"]["__typename"] == "StrategyPublished"
    with database.connect() as conn:
        runs = conn.execute("SELECT originator_id FROM collections_events"
                            " WHERE topic = 'ledger_collect.JobRun.Requested'").fetchall()
    (run,) = [app.repository.get(row[0]) for row in runs]
    assert (run.job, run.trigger, run.requested_by, run.run_date) == (
        "worklist-generation", "manual", "sue", TODAY)
    catch_up(app, "worklist")
    assert generate_worklists(app, business_date=TODAY)["generated"] == 1  # what the run does
    north = app.repository.get(DailyWorklist.create_id("north", TODAY))
    assert (north.number, north.basis.strategy_code) == (2, "north")


ABSENCE = """mutation ($input: RecordAbsenceInput!) {
  recordAbsence(input: $input) { __typename } }"""


def test_an_absence_recorded_for_today_requests_a_generation_that_hands_over_the_list(
        api: Api, app: Collections, database: Database, three: Book) -> None:
    """alice owns the north customers; anna stands in for her today: the run the absence
    requests records version 2, on which alice's customers are anna's."""
    for member in ("alice", "anna"):
        app.run(join_team, "north", member, actor="sue", business_date=TODAY)
    catch_up(app, "worklist")
    generate_worklists(app, business_date=TODAY)
    refused = api.data(ABSENCE, {"input": {"segment": "north", "specialist": "nobody",
                                           "firstDay": str(TODAY), "lastDay": str(TODAY)}},
                       user="sue")["recordAbsence"]["__typename"]
    assert refused != "AbsenceRecorded" and _requested_runs(database) == []
    recorded = api.data(ABSENCE, {"input": {"segment": "north", "specialist": "alice",
                                            "firstDay": str(TODAY), "lastDay": str(TODAY),
                                            "substitute": "anna"}}, user="sue")
    assert recorded["recordAbsence"]["__typename"] == "AbsenceRecorded"
    (run,) = [app.repository.get(run_id) for run_id in _requested_runs(database)]
    assert (run.job, run.requested_by, run.run_date) == ("worklist-generation", "sue", TODAY)
    catch_up(app)
    assert generate_worklists(app, business_date=TODAY)["generated"] == 1  # what the run does
    north = app.repository.get(DailyWorklist.create_id("north", TODAY))
    assert north.number == 2 and north.basis.absences
    catch_up(app, "worklist")
    listed = api.data(GENERATED, {"specialist": "anna"}, user="anna")["worklist"]["nodes"]
    assert listed and {n["assignment"] for n in listed} >= {"substitute"}


def _requested_runs(database: Database) -> list[object]:
    with database.connect() as conn:
        return [row[0] for row in conn.execute(
            "SELECT originator_id FROM collections_events"
            " WHERE topic = 'ledger_collect.JobRun.Requested'")]
