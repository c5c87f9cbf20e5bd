"""A worker process killed (SIGKILL) in the middle of the daily valuation, on each broker: the
message comes back (RabbitMQ: at once, as the connection closes; Redis and the queue in the
database: once the dead worker's heartbeat is overdue), a new worker finishes the run, and each
promise was valued once — one Valued event each, one finished run of two attempts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from job_helpers import (
    VALUE_DAY,
    Process,
    broker_settings,
    brokers,
    closing_brokers,  # noqa: F401 - a fixture
    count_events,
    events_table,
    given_promises,
    run_events,
    valued_per_promise,
    wait_until,
)
from psycopg import sql

from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.domain.job_run import FINISHED, RUNNING
from ledger_collect.jobs.actors import request_run
from ledger_collect.storage.database import Database

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("closing_brokers")]

PROMISES, CHUNK = 400, 20


@pytest.fixture(params=brokers())
def jobs_app(request: pytest.FixtureRequest, settings: Settings,
             database: Database) -> Iterator[Collections]:
    app = Collections(database, broker_settings(settings, request.param,
                                                worker_heartbeat_seconds=3.0,
                                                valuation_chunk=CHUNK))
    yield app
    app.close()


def test_a_worker_killed_mid_run_leaves_every_promise_valued_once(
        jobs_app: Collections, tmp_path: Path) -> None:
    settings = jobs_app.settings
    promises = given_promises(jobs_app, PROMISES)
    run_id = request_run(jobs_app, "promise-valuation", business_date=VALUE_DAY, actor="sue")
    first = Process(settings, "worker", "--threads", "2", log=tmp_path / "first.log")
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            wait_until(lambda: count_events(settings, "PromiseToPay.Valued", conn) >= CHUNK,
                       "the first chunk valued", pause=0.005)
            with conn.transaction():  # no more chunks saved until the worker is dead
                conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(
                    events_table(settings)))
                valued_before = count_events(settings, "PromiseToPay.Valued", conn)
                first.kill()
    finally:
        first.stop()
    assert CHUNK <= valued_before < PROMISES
    assert valued_before % CHUNK == 0  # whole chunks: each one transaction
    run = jobs_app.repository.get(run_id)
    assert (run.status, run.attempts) == (RUNNING, 1)

    second = Process(settings, "worker", "--threads", "2", log=tmp_path / "second.log")
    try:
        wait_until(lambda: jobs_app.repository.get(run_id).status == FINISHED,
                   "the run finished by the second worker", seconds=90, pause=0.2)
    finally:
        assert second.stop() == 0, second.output()
    assert "Worker has been shut down" in second.output()
    assert valued_per_promise(settings) == dict.fromkeys(promises, 1)
    run = jobs_app.repository.get(run_id)
    rest = PROMISES - valued_before
    assert (run.attempts, run.counts) == (2, {"valued": rest, "broken": rest})
    assert run_events(jobs_app, run_id) == ["Requested", "Started", "Started", "Finished"]
