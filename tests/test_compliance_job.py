"""The nightly compliance job: archive, purge, erase and expire for one business date, run
as the workers run it (a recorded job run, progress included); a second run finds nothing."""

from __future__ import annotations

from datetime import timedelta

from test_archiver import LATER, _portfolio, _stored

from ledger_collect.commands.application import Collections
from ledger_collect.domain.erasure_request import ErasureRequest
from ledger_collect.jobs.compliance_job import run_compliance
from ledger_collect.jobs.registry import job
from ledger_collect.jobs.schedule import SCHEDULE
from ledger_collect.storage.database import Database


def test_the_job_applies_every_policy_once(app: Collections, database: Database) -> None:
    cleared, still_open = _portfolio(app, 3, 4)
    ticks: list[tuple[int, int]] = []
    counts = run_compliance(app, business_date=LATER,
                            progress=lambda done, total: ticks.append((done, total)))
    assert counts["archive_streams"] == counts["archive_purged_streams"] == len(cleared)
    assert counts["purge_purged_streams"] == 0
    assert counts["erased"] == 3 and counts["suspended"] == 0
    assert ticks and ticks[-1][0] == ticks[-1][1]
    assert _stored(database, cleared) == {}
    assert set(_stored(database, still_open)) == set(still_open)
    with database.connect() as conn:
        customers = [r[0] for r in conn.execute("SELECT customer_id FROM retention_customers").fetchall()]
    requests = app.load_aggregates([ErasureRequest.create_id(c) for c in customers])
    assert len(requests) == 3 and all(r.completed for r in requests.values())
    again = run_compliance(app, business_date=LATER + timedelta(days=1))
    assert again["archive_streams"] == again["erased"] == again["purge_purged_streams"] == 0


def test_the_job_is_registered_and_scheduled_at_night() -> None:
    assert job("compliance").body is run_compliance
    (line,) = [due for due in SCHEDULE if due.job == "compliance"]
    assert line.cron == "30 2 * * *"
