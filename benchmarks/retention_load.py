"""The retention benchmark's store: a generated portfolio imported, projected, and its archive date.

The store is built the fastest way the program has: ``demo_records`` written to a JSON Lines
file and imported as ``ledger-collect import FILE --jobs 2`` does it, then every read model
rebuilt. The portfolio's contact persons (names, emails, phones) are noted on the way: the
erasure measured later must make exactly those disappear from the read models.

"Half the store eligible for archive" cannot be known before the import (which invoices clear,
and when, is the domain's business, not the generator's). So the bench asks the retention
rules themselves: every stream the archive policies will ever select, with the day it becomes
due (``due_streams`` on a far day), weighted by its events; the archive date is the first day
on which the due streams hold half of the store's events.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from api_load import Loaded, head, import_feed, rebuild_all
from psycopg import sql
from retention_parts import archive_schedule

from ledger_collect.commands.application import Collections
from ledger_collect.domain.customer import Customer
from ledger_collect.feed.demo import demo_records
from ledger_collect.feed.files import write_feed
from ledger_collect.storage.database import Database

SEED = 11
AS_OF = date(2026, 11, 23)  # the feed's last day; the bench's "today" comes years later
DENSITY = 1.9  # ~10.7 invoices per customer, as the API benchmark's portfolio
EVENTS_PER_CUSTOMER = 25.5  # what the import makes of one customer at that density


@dataclass
class Portfolio:
    customers: int = 0
    records: int = 0
    events: int = 0
    #: customer id -> the personal values its contact records carried
    personal: dict[UUID, list[str]] = field(default_factory=dict)
    #: customer id -> its first collection contact's id
    contact_ids: dict[UUID, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def customers_for(events: int) -> int:
    return max(20, round(events / EVENTS_PER_CUSTOMER))


def load(app: Collections, events: int, jobs: int) -> Portfolio:
    """Generate about ``events`` events' worth of portfolio, import it, rebuild every model."""
    portfolio = Portfolio(customers=customers_for(events))
    with tempfile.TemporaryDirectory(prefix="ledger-retention-bench-") as folder:
        path = Path(folder) / "portfolio.jsonl"
        started = time.perf_counter()

        def noting(records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            for record in records:
                if record["kind"] == "contact":
                    _note(portfolio, record)
                yield record

        with path.open("w", encoding="utf-8") as out:
            portfolio.records = write_feed(noting(demo_records(
                portfolio.customers, SEED, AS_OF, invoice_density=DENSITY)), out, "jsonl")
        portfolio.seconds["generate"] = time.perf_counter() - started
        print(f"feed: {portfolio.records:,} records of {portfolio.customers:,} customers "
              f"({path.stat().st_size / 1e6:.0f} MB) in {portfolio.seconds['generate']:.0f} s",
              flush=True)
        portfolio.seconds["import"] = import_feed(app.database, path, jobs, AS_OF)
    portfolio.events = head(app.database)
    started = time.perf_counter()
    rebuild_all(app, Loaded(events=portfolio.events))
    portfolio.seconds["rebuild"] = time.perf_counter() - started
    analyze(app.database)
    return portfolio


def analyze(database: Database) -> None:
    """What autovacuum does after a bulk load, now: without the events' statistics the
    planner takes a purge's lookup of a few streams for a scan of the whole log."""
    with database.connect() as conn:
        for (table,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s",
                                     (database.schema,)).fetchall():
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(database.schema, table)))


def noted(database: Database) -> Portfolio:
    """The portfolio of a kept store (``--reuse``): the feed generated again, not imported,
    for its contact persons (same customers, seed and day: same records)."""
    with database.connect() as conn:
        customers = int(conn.execute("SELECT count(*) FROM customers").fetchone()[0])
    portfolio = Portfolio(customers=customers, events=head(database))
    for record in demo_records(customers, SEED, AS_OF, invoice_density=DENSITY):
        if record["kind"] == "contact":
            _note(portfolio, record)
    return portfolio


def _note(portfolio: Portfolio, record: dict[str, Any]) -> None:
    customer = Customer.create_id(str(record["customer"]))
    portfolio.personal.setdefault(customer, []).extend(
        str(record[k]) for k in ("name", "email", "phone"))
    portfolio.contact_ids.setdefault(customer, str(record["contact_id"]))


# -- the archive date ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Eligible:
    today: date
    streams: int
    events: int
    total: int  # events in the store


def events_per_stream(database: Database) -> dict[UUID, int]:
    with database.connect() as conn:
        return dict(conn.execute("SELECT originator_id, count(*) FROM collections_events"
                                 " GROUP BY originator_id").fetchall())


def eligible(app: Collections, today: date | None, share: float = 0.5) -> Eligible:
    """What is due for archive on ``today``; without one, the first day on which the due
    streams hold ``share`` of the store's events (or the last due day, if they never do)."""
    sizes = events_per_stream(app.database)
    total = sum(sizes.values())
    streams = events = 0
    chosen = today
    for due_on, stream_id in archive_schedule(app):
        if today is not None and due_on > today:
            break
        if today is None and events >= share * total and due_on > (chosen or due_on):
            break
        streams, events, chosen = streams + 1, events + sizes.get(stream_id, 0), due_on
    return Eligible(chosen or AS_OF + timedelta(days=1), streams, events, total)
