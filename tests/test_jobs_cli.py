"""The job system's commands: `jobs list` shows the schedule with next due times; `jobs run`
runs a job in its own process through the workers' wrapper, recorded as a manual run; `worker
--processes 2` runs the jobs in two processes and stops them all on SIGTERM."""

from __future__ import annotations

import os
from pathlib import Path
from uuid import UUID

import pytest
from click.testing import CliRunner
from job_helpers import (
    VALUE_DAY,
    Process,
    broker_settings,
    closing_brokers,  # noqa: F401 - a fixture
    given_promises,
    job_environment,
    wait_until,
)

from ledger_collect.cli import cli
from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.domain.job_run import FINISHED, MANUAL
from ledger_collect.jobs.actors import request_run
from ledger_collect.storage.database import Database

pytestmark = pytest.mark.usefixtures("closing_brokers")


def invoke(settings: Settings, *args: str):
    return CliRunner().invoke(cli, list(args), env=job_environment(settings))


@pytest.fixture
def jobs_app(settings: Settings, database: Database):
    app = Collections(database, broker_settings(settings, "postgres"))
    yield app
    app.close()


def test_jobs_list_shows_the_schedule_with_next_due_times(settings: Settings) -> None:
    result = invoke(settings.with_changes(time_zone="Europe/Berlin"), "jobs", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[:6] for line in lines] == [
        ["promise-valuation", "30", "5", "*", "*", "*"],
        ["worklist-rankings", "0", "6", "*", "*", "*"],
        ["worklist-generation", "15", "6", "*", "*", "*"],
        ["dunning-run", "30", "6", "*", "*", "*"],
        ["emails", "*/5", "*", "*", "*", "*"], ["compliance", "30", "2", "*", "*", "*"],
        ["send-email", "per", "email_id"]]
    assert all("Europe/Berlin" in line and " next 20" in line for line in lines[:5])
    assert all("morning" in line for line in lines[:4]) and "emails" in lines[4]
    assert lines[0].endswith(("05:30 CET", "05:30 CEST"))


def test_jobs_run_runs_a_job_here_as_a_manual_run(jobs_app: Collections) -> None:
    given_promises(jobs_app, 7)
    first = invoke(jobs_app.settings, "jobs", "run", "promise-valuation", "--date",
                   VALUE_DAY.isoformat())
    assert first.exit_code == 0, first.output
    assert "promise-valuation for 2026-12-15: finished" in first.output
    assert first.output.endswith("  valued: 7\n  broken: 7\n")
    again = invoke(jobs_app.settings, "jobs", "run", "promise-valuation", "--date",
                   VALUE_DAY.isoformat())
    assert again.exit_code == 0, again.output
    assert again.output.endswith(")\n  valued: 0\n")  # a run of its own: nothing left to value
    run_id, other = (UUID(out.output.split("(run ")[1].split(")")[0]) for out in (first, again))
    assert run_id != other
    run = jobs_app.repository.get(run_id)
    assert (run.status, run.trigger, run.run_date, run.requested_by[:4]) == (
        FINISHED, MANUAL, VALUE_DAY, "cli:")


def test_jobs_run_refuses_a_job_nobody_registered(jobs_app: Collections) -> None:
    result = invoke(jobs_app.settings, "jobs", "run", "polish-silver")
    assert result.exit_code == 1
    assert result.output.startswith("Error: there is no job 'polish-silver' to run; the jobs "
                                    "are compliance, dunning-run, emails, promise-valuation, "
                                    "worklist-generation, worklist-rankings")


@pytest.mark.slow
def test_a_worker_of_two_processes_runs_jobs_and_stops_on_sigterm(jobs_app: Collections,
                                                                   tmp_path: Path) -> None:
    given_promises(jobs_app, 5)
    worker = Process(jobs_app.settings, "worker", "--processes", "2", "--threads", "1",
                     log=tmp_path / "worker.log")
    try:
        up = f"queues {jobs_app.settings.queue_prefix}."
        wait_until(lambda: worker.output().count(up) == 2, "both worker processes up",
                   seconds=60)
        children = _children(worker.popen.pid)
        assert len(children) == 2
        run_id = request_run(jobs_app, "promise-valuation", business_date=VALUE_DAY,
                             actor="sue")
        wait_until(lambda: jobs_app.repository.get(run_id).status == FINISHED, "run done")
    finally:
        assert worker.stop() == 0, worker.output()
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)
    assert worker.output().count("Worker has been shut down") == 2


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry))
    return found
