"""`ledger-collect serve` runs the jobs too: a run requested while it serves (as the API would
request it) is done by its own worker, on the queue in its database; SIGTERM stops it cleanly."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from job_helpers import (
    VALUE_DAY,
    Process,
    broker_settings,
    closing_brokers,  # noqa: F401 - a fixture
    given_promises,
    valued_per_promise,
    wait_until,
)
from servers import wait_healthy

from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.domain.job_run import FINISHED
from ledger_collect.jobs.actors import request_run
from ledger_collect.storage.database import Database

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("closing_brokers")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_run_requested_while_serve_runs_is_done_by_it(settings: Settings, database: Database,
                                                        tmp_path: Path) -> None:
    app = Collections(database, broker_settings(settings, "postgres"))
    try:
        promises = given_promises(app, 12)
        port = _free_port()
        server = Process(app.settings, "serve", "--demo-customers", "0", "--production",
                         "--port", str(port), log=tmp_path / "serve.log")
        try:
            wait_healthy(f"http://127.0.0.1:{port}", server.popen)
            run_id = request_run(app, "promise-valuation", business_date=VALUE_DAY,
                                 actor="sue")
            wait_until(lambda: app.repository.get(run_id).status == FINISHED,
                       "the run done by serve's worker", seconds=60, pause=0.2)
        finally:
            assert server.stop() == 0, server.output()
        assert app.repository.get(run_id).counts == {"valued": 12, "broken": 12}
        assert valued_per_promise(app.settings) == dict.fromkeys(promises, 1)
    finally:
        app.close()
