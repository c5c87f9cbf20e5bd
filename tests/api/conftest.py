"""The API over real HTTP (Starlette's TestClient drives the real ASGI app, lifespan included)
on the real PostgreSQL of ``tests/conftest.py``, with a small portfolio in two segments."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from starlette.testclient import TestClient

from api.helpers import SECRET, TODAY, Api, Portfolio, casework, when
from ledger_collect.app import create_api
from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import (
    add_contact,
    add_customer_note,
    apply_credit_memo,
    apply_payment,
    assign_customer,
    post_invoice,
    register_customer,
)
from ledger_collect.config import Settings
from ledger_collect.projections.engine import catch_up
from ledger_collect.speedups import Speedups
from ledger_collect.storage.database import Database


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    # No projector follows in most API tests: mutations answer without waiting for read
    # models (test_overview_api's read-your-writes test runs one and waits).
    return settings.with_changes(jwt_secret=SECRET, read_wait_seconds=0.0)


@pytest.fixture
def portfolio(app: Collections) -> Portfolio:
    when = {"actor": "erp", "business_date": TODAY - timedelta(days=40)}
    ids = {}
    for number, segment in (("C-1", "north"), ("C-2", "south")):
        ids[number] = app.run(
            register_customer, number=number, name=f"Customer {number}", segment=segment,
            credit_limit=Decimal("5000.00"), currency="EUR", risk_class="B",
            source_id=f"md-{number}", **when).result
        ids[f"INV-{number}"] = app.run(
            post_invoice, customer_number=number, document_number=f"INV-{number}",
            amount=Decimal("1000.00"), currency="EUR", posting_date=TODAY - timedelta(days=40),
            due_date=TODAY - timedelta(days=10), source_id=f"inv-{number}", **when).result
    app.run(assign_customer, ids["C-1"], "alice", **when)
    app.run(add_contact, ids["C-1"], "p1", name="Marie Curie", email="marie@c1.example",
            phone="+33 1 23 45 67 89", role="accounts payable", **when)
    app.run(add_customer_note, ids["C-1"], "n1", "prefers calls after 2 pm", **when)
    catch_up(app, "customers")  # `customer(id)` reads the customers read model
    return Portfolio(north=ids["C-1"], south=ids["C-2"], north_invoice=ids["INV-C-1"],
                     south_invoice=ids["INV-C-2"])


@pytest.fixture
def busy(app: Collections, portfolio: Portfolio) -> Portfolio:
    """C-2 (south) gets one of everything; C-1 (north) gets 20 more invoices, casework on
    five of them, a credit memo and an unapplied payment on account."""
    erp = when(30, "erp")
    app.run(add_contact, portfolio.south, "p2", name="Sam South", email="sam@c2.example",
            phone=None, role=None, **erp)
    casework(app, portfolio.south, portfolio.south_invoice, "south", "p2")
    for n in range(20):
        invoice = app.run(
            post_invoice, customer_number="C-1", document_number=f"INV-C-1-{n:02}",
            amount=Decimal("100.00"), currency="EUR", posting_date=TODAY - timedelta(days=200),
            due_date=TODAY - timedelta(days=n * 10 - 5), source_id=f"inv-c1-{n}",
            **when(200, "erp")).result
        if n < 5:
            casework(app, portfolio.north, invoice, f"north{n}", "p1")
    app.run(apply_credit_memo, source_id="cm-1", customer_number="C-1", invoice_number=None,
            amount=Decimal("75.00"), currency="EUR",
            document_date=TODAY - timedelta(days=3), **when(3, "erp"))
    app.run(apply_payment, source_id="pay-1", customer_number="C-1", allocations=[],
            unapplied=Decimal("60.00"), currency="EUR",
            payment_date=TODAY - timedelta(days=2), **when(2, "erp"))
    catch_up(app)
    return portfolio


@pytest.fixture
def api(api_settings: Settings, database: Database) -> Iterator[Api]:
    """The API; the broker a mutation opened to request a job's run is closed after it."""
    from ledger_collect.jobs.actors import close_job_actors

    app = create_api(api_settings, database, today=lambda: TODAY)
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            yield Api(client, api_settings)
    finally:
        close_job_actors()


@pytest.fixture
def fast_api(api_settings: Settings, database: Database) -> Iterator[Api]:
    """The API with every speed-up on, whatever LEDGER_SPEEDUPS says: for a speed-up's tests."""
    settings = api_settings.with_changes(speedups=Speedups())
    app = create_api(settings, database, today=lambda: TODAY)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield Api(client, settings)


POOL_RESET = "SELECT pg_advisory_unlock_all();"  # asyncpg's, on giving a connection back


@pytest.fixture
def sql_queries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement the API's asyncpg connections run while the test goes on (what a
    query costs: tests assert it stays fixed whatever the number of items)."""
    seen: list[str] = []
    for method in ("fetch", "fetchrow", "fetchval", "execute"):
        original = getattr(asyncpg.connection.Connection, method)

        def counting(self: Any, query: str, *args: Any, _original: Any = original,
                     **kwargs: Any) -> Any:
            if not query.startswith(POOL_RESET):
                seen.append(query)
            return _original(self, query, *args, **kwargs)

        monkeypatch.setattr(asyncpg.connection.Connection, method, counting)
    yield seen
