"""A worker whose database goes away (a PostgreSQL the test stops and starts): it says so in one
line, does not hang, and recovers by itself once the database is back — with the queue in that
database as its broker, and, when the machine's brokers are named, with a message that arrived
while the database was down (its attempts fail and are retried until one succeeds)."""

from __future__ import annotations

from pathlib import Path

import pytest
from job_helpers import (
    VALUE_DAY,
    Process,
    broker_settings,
    brokers,
    closing_brokers,  # noqa: F401 - a fixture
    given_promises,
    wait_until,
)

from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.domain.job_run import FINISHED
from ledger_collect.jobs.actors import job_actors, request_run
from ledger_collect.storage.database import Database
from ledger_collect.storage.embedded import EmbeddedPostgres

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("closing_brokers")]

UNREACHABLE = "worker: the database is unreachable"


def _app(server: EmbeddedPostgres, settings: Settings, kind: str) -> Collections:
    changed = broker_settings(settings.with_changes(database_url=server.url("outage"),
                                                    connect_timeout=2),
                              kind, job_retries=30, job_backoff_seconds=0.5)
    database = Database(changed).open()
    database.migrate()
    return Collections(database, changed)


def test_a_worker_on_the_queue_in_its_database_recovers_from_an_outage(
        own_server: EmbeddedPostgres, settings: Settings, tmp_path: Path) -> None:
    app = _app(own_server, settings, "postgres")
    worker = Process(app.settings, "worker", "--threads", "2", log=tmp_path / "worker.log")
    try:
        worker.wait_for_line("queues ")
        own_server.stop()
        worker.wait_for_line(UNREACHABLE, seconds=30)
        own_server.start()
        worker.wait_for_line("worker: the database is back", seconds=30)
        app.close()  # the test's own pool has not noticed the restart yet: a new one
        app = Collections(app.database, app.settings)
        given_promises(app, 3)
        run_id = request_run(app, "promise-valuation", business_date=VALUE_DAY, actor="sue")
        wait_until(lambda: app.repository.get(run_id).status == FINISHED,
                   "the run done after the outage", seconds=60, pause=0.2)
    finally:
        assert worker.stop() == 0, worker.output()
        app.close()
    assert worker.output().count(UNREACHABLE) == 1


#: The machine's brokers named: a broker apart from the database (never skipped: collected
#: only when there is one).
APART = [kind for kind in brokers() if kind != "postgres"]


@pytest.mark.parametrize("kind", APART)
def a_message_that_arrives_while_the_database_is_down_is_done_once_it_is_back(
        own_server: EmbeddedPostgres, settings: Settings, tmp_path: Path, kind: str) -> None:
    app = _app(own_server, settings, kind)
    given_promises(app, 3)
    run_id = request_run(app, "promise-valuation", business_date=VALUE_DAY, actor="sue",
                         send=False)
    worker = Process(app.settings, "worker", "--threads", "1", log=tmp_path / "worker.log")
    try:
        worker.wait_for_line("queues ")
        own_server.stop()
        job_actors(app).send("promise-valuation", run_id)
        worker.wait_for_line(UNREACHABLE, seconds=30)
        worker.wait_for_line("Retrying message", seconds=60)  # an attempt failed
        own_server.start()
        app.close()  # the test's own pool has not noticed the restart yet: a new one
        app = Collections(app.database, app.settings)
        wait_until(lambda: app.repository.get(run_id).status == FINISHED,
                   "the run done after the outage", seconds=90, pause=0.2)
        run = app.repository.get(run_id)
        assert (run.attempts, run.counts) == (1, {"valued": 3, "broken": 3})
    finally:
        assert worker.stop() == 0, worker.output()
        app.close()




if APART:
    test_a_message_that_arrives_while_the_database_is_down_is_done_once_it_is_back = (
        a_message_that_arrives_while_the_database_is_down_is_done_once_it_is_back)
