"""Job runs over GraphQL: the runs newest first in pages with their filters, a run with its
failures, counts and progress while it runs, the schedule with each job's next due time and
latest run; specialists see counts, not details; supervisors and admins run a job by hand,
and a worker does it (the embedded broker: a queue in the test's database)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from job_helpers import closing_brokers  # noqa: F401 - a fixture

from api.helpers import TODAY, Api, Portfolio, when
from ledger_collect.commands.application import Collections
from ledger_collect.commands.job_commands import (
    fail_job_run,
    finish_job_run,
    request_job_run,
    start_job_run,
)
from ledger_collect.commands.promise_commands import record_promise
from ledger_collect.jobs.schedule import SCHEDULE
from ledger_collect.jobs.worker import working
from ledger_collect.projections.engine import catch_up
from ledger_collect.storage.database import Database

pytestmark = pytest.mark.usefixtures("closing_brokers")

RUN_FIELDS = """id job status trigger businessDate requestedAt startedAt endedAt attempts
                counts { name count } progress { attempt done total fraction }"""
DETAILS = "requestedBy worker error errors { attempt error final }"
RUNS = f"""query ($job: String, $status: [String!], $since: Date, $first: Int, $after: String) {{
  jobRuns(job: $job, status: $status, since: $since, first: $first, after: $after) {{
    nodes {{ {RUN_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
RUN = f"query ($id: UUID!) {{ jobRun(id: $id) {{ {RUN_FIELDS} {DETAILS} }} }}"
RUN_BRIEF = f"query ($id: UUID!) {{ jobRun(id: $id) {{ {RUN_FIELDS} }} }}"
SCHEDULED = """{ scheduledJobs { job description cron timeZone group nextDue lastStatus
                                 lastRun { id status } } }"""
RUN_JOB = """mutation ($input: RunJobInput!) { runJob(input: $input) {
  __typename ... on JobRunRequested { jobRunId job businessDate status }
  ... on Problem { code message } } }"""
BY = {"actor": "jobs", "business_date": TODAY}


def _request(app: Collections, job: str, key: str, days_ago: int = 0) -> UUID:
    return app.run(request_job_run, job=job, run_key=key, trigger="scheduled",
                   actor="scheduler", business_date=TODAY - timedelta(days=days_ago)).result


@pytest.fixture
def runs(app: Collections, database: Database) -> dict[str, UUID]:
    """Yesterday's valuation retried once then finished; today's running, 300 of 1,200 done;
    today's rankings requested."""
    done = _request(app, "promise-valuation", "yesterday", 1)
    app.run(start_job_run, done, worker="host:1:1", **BY)
    app.run(fail_job_run, done, error="OperationalError: lost customer C-1's row", final=False,
            **BY)
    app.run(start_job_run, done, worker="host:2:1", **BY)
    app.run(finish_job_run, done, counts={"valued": 12, "broken": 3}, **BY)
    running = _request(app, "promise-valuation", "today")
    app.run(start_job_run, running, worker="host:2:2", **BY)
    waiting = _request(app, "worklist-rankings", "today")
    with database.connect() as conn:
        conn.execute("INSERT INTO job_progress (run_id, attempt, done, total)"
                     " VALUES (%s, 1, 300, 1200), (%s, 2, 7, 7)", (running, done))
    catch_up(app, "job_runs")
    return {"done": done, "running": running, "waiting": waiting}


def test_runs_are_listed_newest_first_in_pages_with_their_filters(
        api: Api, runs: dict[str, UUID]) -> None:
    first = api.data(RUNS, {"first": 2}, user="alice")["jobRuns"]
    assert [n["id"] for n in first["nodes"]] == [str(runs["waiting"]), str(runs["running"])]
    assert first["pageInfo"]["hasNextPage"]
    rest = api.data(RUNS, {"first": 2, "after": first["pageInfo"]["endCursor"]})["jobRuns"]
    assert [n["id"] for n in rest["nodes"]] == [str(runs["done"])]
    assert not rest["pageInfo"]["hasNextPage"]

    def ids(**variables: Any) -> list[str]:
        return [n["id"] for n in api.data(RUNS, variables)["jobRuns"]["nodes"]]

    assert ids(job="promise-valuation") == [str(runs["running"]), str(runs["done"])]
    assert ids(status=["finished", "requested"]) == [str(runs["waiting"]), str(runs["done"])]
    assert ids(since=TODAY.isoformat()) == [str(runs["waiting"]), str(runs["running"])]
    error = api.errors(RUNS, {"after": "not-a-cursor"})[0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_run_shows_counts_failures_and_progress_only_while_it_runs(
        api: Api, runs: dict[str, UUID]) -> None:
    done = api.data(RUN, {"id": str(runs["done"])}, user="sue")["jobRun"]
    assert (done["status"], done["trigger"], done["attempts"], done["businessDate"]) == (
        "finished", "scheduled", 2, (TODAY - timedelta(days=1)).isoformat())
    assert done["counts"] == [{"name": "valued", "count": 12}, {"name": "broken", "count": 3}]
    assert done["progress"] is None  # its row stays, showing where it stopped; not shown
    assert (done["requestedBy"], done["worker"], done["error"]) == ("scheduler", "host:2:1",
                                                                    None)
    assert done["errors"] == [{"attempt": 1, "final": False,
                               "error": "OperationalError: lost customer C-1's row"}]
    running = api.data(RUN, {"id": str(runs["running"])}, user="audrey")["jobRun"]
    assert (running["status"], running["endedAt"], running["counts"]) == ("running", None, [])
    assert running["progress"] == {"attempt": 1, "done": 300, "total": 1200, "fraction": 0.25}
    assert api.data(RUN, {"id": str(UUID(int=5))})["jobRun"] is None


def test_a_specialist_sees_status_counts_and_progress_not_the_details(
        api: Api, runs: dict[str, UUID]) -> None:
    body = api.post(RUN, {"id": str(runs["done"])}, user="alice").json()
    run = body["data"]["jobRun"]
    assert (run["status"], run["counts"][0]) == ("finished", {"name": "valued", "count": 12})
    assert [run[f] for f in ("requestedBy", "worker", "error", "errors")] == [None] * 4
    assert sorted(e["path"][-1] for e in body["errors"]) == [
        "error", "errors", "requestedBy", "worker"]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}


def test_the_schedule_says_when_each_job_is_due_and_how_its_latest_run_went(
        api: Api, runs: dict[str, UUID]) -> None:
    before = datetime.now(UTC)
    lines = api.data(SCHEDULED, user="bob")["scheduledJobs"]
    assert [line["job"] for line in lines] == [due.job for due in SCHEDULE]
    by_job = {line["job"]: line for line in lines}
    valuation = by_job["promise-valuation"]
    assert (valuation["cron"], valuation["timeZone"], valuation["group"]) == (
        "30 5 * * *", "UTC", "morning")
    due = datetime.fromisoformat(valuation["nextDue"])
    assert before < due <= before + timedelta(days=1) and (due.hour, due.minute) == (5, 30)
    assert (valuation["lastStatus"], valuation["lastRun"]) == (
        "running", {"id": str(runs["running"]), "status": "running"})
    assert by_job["worklist-rankings"]["lastStatus"] == "requested"


def test_who_may_run_a_job_and_what_is_refused(api: Api, app: Collections) -> None:
    denied = api.errors(RUN_JOB, {"input": {"job": "promise-valuation"}}, user="alice")[0]
    assert (denied["extensions"]["code"], denied["path"]) == ("FORBIDDEN", ["runJob"])
    for user in ("audrey", "erp", "carl"):
        assert api.errors(RUN_JOB, {"input": {"job": "promise-valuation"}}, user=user)

    def refused(job: str, day: str | None = None) -> dict[str, Any]:
        answer = api.data(RUN_JOB, {"input": {"job": job, "businessDate": day}}, user="sue")
        return answer["runJob"]

    unknown = refused("promise-valuations")
    assert (unknown["__typename"], unknown["code"]) == ("NotFound", "NOT_FOUND")
    assert "promise-valuation" in unknown["message"]  # the jobs there are
    tomorrow = refused("promise-valuation", (TODAY + timedelta(days=1)).isoformat())
    assert (tomorrow["__typename"], tomorrow["code"]) == ("RuleBroken", "BUSINESS_DATE_IN_FUTURE")
    bad = refused("promise\x00valuation")
    assert (bad["__typename"], bad["code"]) == ("RuleBroken", "INVALID")
    assert app.events.recorder.max_notification_id() is None  # nothing was recorded


def test_a_supervisor_runs_the_valuation_by_hand_and_a_worker_does_it(
        api: Api, app: Collections, portfolio: Portfolio) -> None:
    app.run(record_promise, invoice_id=portfolio.north_invoice, amount=Decimal("100.00"),
            promised_date=TODAY - timedelta(days=20), tolerance_days=2, **when(30))
    answer = api.data(RUN_JOB, {"input": {"job": "promise-valuation"}}, user="sue")["runJob"]
    assert (answer["__typename"], answer["job"], answer["businessDate"], answer["status"]) == (
        "JobRunRequested", "promise-valuation", TODAY.isoformat(), "requested")
    run_id = answer["jobRunId"]
    catch_up(app, "job_runs")
    run = api.data(RUN, {"id": run_id}, user="sue")["jobRun"]
    assert (run["status"], run["trigger"], run["businessDate"], run["requestedBy"]) == (
        "requested", "manual", TODAY.isoformat(), "sue")
    with working(app, threads=1):
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while app.repository.get(UUID(run_id)).status != "finished":
            assert datetime.now(UTC) < deadline, "the worker did not finish the run"
            time.sleep(0.05)
    catch_up(app, "job_runs")
    run = api.data(RUN_BRIEF, {"id": run_id}, user="alice")["jobRun"]
    assert (run["status"], run["attempts"]) == ("finished", 1)
    assert run["counts"] == [{"name": "valued", "count": 1}, {"name": "broken", "count": 1}]
    earlier = api.data(RUN_JOB, {"input": {"job": "worklist-rankings",
                                           "businessDate": "2026-11-01"}}, user="root")
    assert earlier["runJob"]["__typename"] == "JobRunRequested"
    assert earlier["runJob"]["jobRunId"] != run_id


def test_a_page_of_runs_costs_at_most_two_queries_whatever_its_size(
        api: Api, runs: dict[str, UUID], sql_queries: list[str]) -> None:
    for first, running in ((1, 0), (3, 1)):
        sql_queries.clear()
        nodes = api.data(RUNS, {"first": first})["jobRuns"]["nodes"]
        assert len(nodes) == first and sum(n["progress"] is not None for n in nodes) == running
        assert len(sql_queries) == 1 + running, sql_queries  # the page, then its progress
    sql_queries.clear()
    api.data(SCHEDULED)  # each job's latest run, the progress of the one running
    assert len(sql_queries) == 2, sql_queries
