"""Job runs as events: given a run requested, when workers start, finish or fail it, then its
events — the same run found again however often it is requested or its message delivered."""

from __future__ import annotations

from datetime import date

import pytest

from ledger_collect.commands.application import Collections
from ledger_collect.commands.job_commands import (
    fail_job_run,
    finish_job_run,
    request_job_run,
    start_job_run,
)
from ledger_collect.domain.base import IllegalTransitionError, NotFoundError, ValidationError
from ledger_collect.domain.job_run import FAILED, FINISHED, RETRYING, RUNNING, JobRun

pytestmark = pytest.mark.store("memory")

D = date(2026, 11, 23)
DUE = "2026-11-23T06:00:00+01:00"
SCHEDULER = {"actor": "scheduler", "business_date": D}
WORKER = {"actor": "jobs", "business_date": D}


def _request(app: Collections, key: str = DUE, trigger: str = "scheduled"):
    return app.run(request_job_run, job="promise-valuation", run_key=key, trigger=trigger,
                   **SCHEDULER)


def test_a_run_is_named_by_its_job_and_key() -> None:
    assert JobRun.create_id("promise-valuation", DUE) == JobRun.create_id("promise-valuation",
                                                                          DUE)
    assert JobRun.create_id("promise-valuation", DUE) != JobRun.create_id("worklist-rankings",
                                                                          DUE)
    assert JobRun.create_id("promise-valuation", DUE) != JobRun.create_id(
        "promise-valuation", "2026-11-24T06:00:00+01:00")


def test_requesting_a_run_twice_records_it_once(app: Collections) -> None:
    first = _request(app)
    again = _request(app)
    assert first.result == again.result == JobRun.create_id("promise-valuation", DUE)
    assert first.changed == {first.result} and again.changed == frozenset()
    run = app.repository.get(first.result)
    assert (run.job, run.run_key, run.trigger, run.requested_by, run.run_date, run.status) == (
        "promise-valuation", DUE, "scheduled", "scheduler", D, "requested")
    assert [type(e).__name__ for e in app.events.get(first.result)] == ["Requested"]


def test_a_redelivered_message_starts_the_next_attempt_and_a_finished_run_never_again(
        app: Collections) -> None:
    run_id = _request(app).result
    assert app.run(start_job_run, run_id, worker="w1", **WORKER).result == 1
    # w1 was killed mid-run: the broker delivers the message again to w2
    assert app.run(start_job_run, run_id, worker="w2", **WORKER).result == 2
    app.run(finish_job_run, run_id, counts={"valued": 12, "broken": 3}, **WORKER)
    done = app.run(start_job_run, run_id, worker="w3", **WORKER)
    assert done.result is None and done.changed == frozenset()
    run = app.repository.get(run_id)
    assert (run.status, run.attempts, run.worker, run.counts) == (
        FINISHED, 2, "w2", {"valued": 12, "broken": 3})
    assert [type(e).__name__ for e in app.events.get(run_id)] == [
        "Requested", "Started", "Started", "Finished"]


def test_a_failure_is_retried_until_it_is_final(app: Collections) -> None:
    run_id = _request(app).result
    app.run(start_job_run, run_id, worker="w1", **WORKER)
    app.run(fail_job_run, run_id, error="database went away", final=False, **WORKER)
    assert app.repository.get(run_id).status == RETRYING
    assert app.run(start_job_run, run_id, worker="w1", **WORKER).result == 2
    assert app.repository.get(run_id).status == RUNNING
    app.run(fail_job_run, run_id, error="database went away again", final=True, **WORKER)
    run = app.repository.get(run_id)
    assert (run.status, run.error, run.is_done) == (FAILED, "database went away again", True)
    assert app.run(start_job_run, run_id, worker="w2", **WORKER).result is None
    failed = [e for e in app.events.get(run_id) if type(e).__name__ == "Failed"]
    assert [(e.attempt, e.final) for e in failed] == [(1, False), (2, True)]


def test_what_a_run_refuses(app: Collections) -> None:
    run_id = _request(app).result
    with pytest.raises(IllegalTransitionError, match="requested cannot become finished"):
        app.run(finish_job_run, run_id, counts={}, **WORKER)
    with pytest.raises(IllegalTransitionError, match="requested cannot become retrying"):
        app.run(fail_job_run, run_id, error="boom", final=False, **WORKER)
    app.run(start_job_run, run_id, worker="w1", **WORKER)
    with pytest.raises(ValidationError, match="the count valued must be a whole number"):
        app.run(finish_job_run, run_id, counts={"valued": -1}, **WORKER)
    with pytest.raises(ValidationError, match="the count valued must be a whole number"):
        app.run(finish_job_run, run_id, counts={"valued": 1.5}, **WORKER)
    with pytest.raises(ValidationError, match="say why"):
        app.run(fail_job_run, run_id, error="  ", final=True, **WORKER)
    with pytest.raises(ValidationError, match="not 'hourly'"):
        _request(app, key="other", trigger="hourly")
    with pytest.raises(ValidationError, match="needs a key"):
        _request(app, key=" ")
    with pytest.raises(NotFoundError, match="job run .* does not exist"):
        app.run(start_job_run, JobRun.create_id("x", "y"), worker="w1", **WORKER)
    assert [type(e).__name__ for e in app.events.get(run_id)] == ["Requested", "Started"]
