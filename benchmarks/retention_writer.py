"""The retention benchmark's concurrent writer: commands the whole time an archive run purges.

A process of its own (the archive run's Python work must not slow it through this process's
GIL, nor it the run), started with ``multiprocessing``'s spawn. It runs commands as the API's
mutations run them, one after the other: a conversation with a customer, a promise on an open
invoice, in turn; each is timed from call to commit. Meanwhile a thread takes the event table's
lock the way every writer of the library does (``LOCK TABLE ... IN EXCLUSIVE MODE``, in a
transaction of its own, released at once) and times how long it waited: a command's time also
holds the CPU it waits for on a busy 2-core machine, the lock's wait only what the purge makes
it wait.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from ledger_collect.app import open_database
from ledger_collect.commands.application import Collections
from ledger_collect.commands.casework_commands import record_contact
from ledger_collect.commands.promise_commands import record_promise
from ledger_collect.config import Settings
from ledger_collect.domain.base import DomainError

PROBE_PAUSE = 0.02
SAMPLE = 500


@dataclass
class WriterReport:
    commands: list[float] = field(default_factory=list)  # seconds, call to commit
    waits: list[float] = field(default_factory=list)  # seconds waited for the lock
    refused: int = 0
    failures: list[str] = field(default_factory=list)
    customers: set[UUID] = field(default_factory=set)


def _targets(conn: psycopg.Connection[Any]) -> tuple[list[UUID], list[UUID]]:
    """Customers (their streams are never purged) and open invoices (not due for archive)."""
    customers = [r[0] for r in conn.execute(
        "SELECT id FROM customers ORDER BY md5(id::text) LIMIT %s", (SAMPLE,))]
    invoices = [r[0] for r in conn.execute(
        "SELECT id FROM open_items WHERE status = 'open' AND open_amount > 10"
        " AND open_disputes = 0 ORDER BY md5(id::text) LIMIT %s", (SAMPLE * 10,))]
    return customers, invoices


def _probe(url: str, schema: str, stop: Any, report: WriterReport) -> None:
    lock = sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(
        sql.Identifier(schema, "collections_events"))
    with psycopg.connect(url) as conn:
        while not stop.is_set():
            with conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '10s'")
                started = time.perf_counter()
                conn.execute(lock)
                report.waits.append(time.perf_counter() - started)
            stop.wait(PROBE_PAUSE)


def writer(settings: Settings, stop: Any, ready: Any, send: Any, pause: float) -> None:
    """Run commands until ``stop`` is set, then send the ``WriterReport`` down ``send``."""
    report = WriterReport()
    rng = random.Random(5)
    today = date.today()
    try:
        with open_database(settings, migrate=False) as database:
            app = Collections(database)
            with database.connect() as conn:
                customers, invoices = _targets(conn)
            report.customers = set(customers)
            probe = threading.Thread(target=_probe, args=(
                database.url, database.schema, stop, report), daemon=True)
            probe.start()
            ready.set()
            turn = 0
            while not stop.is_set():
                turn += 1
                started = time.perf_counter()
                try:
                    if turn % 2 and invoices:
                        app.run(record_promise, invoice_id=invoices.pop(), amount=Decimal("1.00"),
                                promised_date=today + timedelta(days=7), actor="bench-writer",
                                business_date=today)
                    else:
                        app.run(record_contact, rng.choice(customers), channel="phone",
                                result="no_answer", actor="bench-writer", business_date=today)
                except DomainError:
                    report.refused += 1
                    continue
                except Exception as error:  # noqa: BLE001 - reported, the run goes on
                    report.failures.append(f"{type(error).__name__}: {error}")
                    continue
                report.commands.append(time.perf_counter() - started)
                stop.wait(pause)
            probe.join(15)
            app.close()
    except Exception as error:  # noqa: BLE001 - the report says why the writer stopped
        report.failures.append(f"the writer stopped: {type(error).__name__}: {error}")
    finally:
        ready.set()
        send.send(report)
