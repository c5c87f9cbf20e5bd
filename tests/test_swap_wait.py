"""A rebuild's swap held up by a long reader: it waits a few seconds at most (readers queued
behind it with it), gives up naming the reader, and leaves the old tables live. The API's reads
never run, nor wait, longer than its statement timeout."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from datetime import date
from decimal import Decimal

import asyncpg
import psycopg
import pytest
from psycopg import sql

from ledger_collect.api.server import read_pool
from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import register_customer
from ledger_collect.config import Settings
from ledger_collect.projections.engine import ProjectionError, catch_up, rebuild
from ledger_collect.projections.swap_wait import SWAP_LOCK_WAIT
from ledger_collect.storage.database import Database


def reader(database: Database) -> psycopg.Connection:
    conn = psycopg.connect(database.url, autocommit=True)
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(database.schema)))
    return conn


@pytest.mark.slow
def test_a_swap_blocked_by_a_long_reader_gives_up_naming_it_and_readers_wait_no_longer(
        app: Collections, database: Database) -> None:
    for n in range(3):
        app.run(register_customer, number=f"C{n}", name="Ada", segment="north",
                credit_limit=Decimal("1000.00"), currency="EUR", risk_class="B",
                source_id=f"c{n}", actor="erp", business_date=date(2026, 11, 23))
    catch_up(app, "customers")
    long_reader = reader(database)
    long_pid = long_reader.info.backend_pid
    def long_report() -> None:
        with contextlib.suppress(psycopg.errors.QueryCanceled):  # cancelled at the end
            long_reader.execute("SELECT pg_sleep(25), count(*) FROM customers")

    report = threading.Thread(target=long_report)
    report.start()
    time.sleep(0.5)  # the report holds the table

    failure: list[BaseException] = []

    def rebuilding() -> None:
        try:
            rebuild(app, "customers")
        except ProjectionError as error:
            failure.append(error)

    started = time.monotonic()
    rebuilder = threading.Thread(target=rebuilding)
    rebuilder.start()
    try:
        time.sleep(2.0)  # built (three customers), the swap now waits for the report
        with reader(database) as next_reader:  # queued behind the swap's lock request
            asked = time.monotonic()
            assert next_reader.execute("SELECT count(*) FROM customers").fetchone() == (3,)
            assert time.monotonic() - asked < 7  # the swap's 5 s at most, not the report's 25
        rebuilder.join(timeout=30)
        assert time.monotonic() - started < 12
        assert failure, "the swap went through: it waited for the report to end"
        message = str(failure[0])
        assert message.startswith(f"read model customers: the swap waited {SWAP_LOCK_WAIT} s"
                                  f" for pid {long_pid} (active ")
        assert "SELECT pg_sleep(25), count(*) FROM customers) holding customers" in message
        with reader(database) as check:  # the old tables are still the live ones
            assert check.execute("SELECT count(*) FROM customers").fetchone() == (3,)
    finally:
        with psycopg.connect(database.url, autocommit=True) as admin:
            admin.execute("SELECT pg_cancel_backend(%s)", (long_pid,))
        report.join(timeout=30)
        rebuilder.join(timeout=30)
        long_reader.close()


def test_the_api_read_pools_cut_a_statement_at_the_statement_timeout(
        database: Database, settings: Settings) -> None:
    async def scenario() -> float:
        pool = await read_pool(database, settings.with_changes(statement_timeout=1))
        try:
            started = time.monotonic()
            with pytest.raises(asyncpg.QueryCanceledError):
                await pool.fetchval("SELECT pg_sleep(5)")
            return time.monotonic() - started
        finally:
            await pool.close()

    assert asyncio.run(scenario()) < 2
