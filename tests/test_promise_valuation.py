"""The daily valuation of promises: a promise nobody pays is broken once its window is over,
with no payment needed to trigger it; the worklist then counts it and collects its amount.

Customer V1 owes invoice V1-1 of 500.00 EUR, due 2026-11-20. On 12-01 it promises the 500.00
for 12-12 with 2 days' grace: money counts up to 12-14, the promise is broken from 12-15 on.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from test_cli import invoke
from test_worklist_model import listed

from ledger_collect.commands.application import Collections
from ledger_collect.commands.promise_commands import record_promise
from ledger_collect.commands.receivable_commands import (
    apply_payment,
    assign_customer,
    post_invoice,
    register_customer,
)
from ledger_collect.commands.valuation import daily_valuation
from ledger_collect.config import Settings
from ledger_collect.domain.invoice import Invoice
from ledger_collect.storage.database import Database

MADE, PROMISED, LAST_DAY, BROKEN_FROM = (date(2026, 12, 1), date(2026, 12, 12),
                                         date(2026, 12, 14), date(2026, 12, 15))


def given_promise(app: Collections, made: date, promised: date) -> UUID:
    customer = app.run(register_customer, number="V1", name="Valued", segment="north",
                       credit_limit=Decimal(5000), currency="EUR",
                       risk_class="B", source_id="md-V1", actor="erp",
                       business_date=date(2026, 10, 1)).result
    app.run(assign_customer, customer, "alice", actor="sue", business_date=date(2026, 10, 1))
    invoice = app.run(post_invoice, customer_number="V1", document_number="V1-1",
                      amount=Decimal("500.00"), currency="EUR",
                      posting_date=date(2026, 10, 21), due_date=date(2026, 11, 20),
                      source_id="inv-V1-1", actor="erp",
                      business_date=date(2026, 10, 21)).result
    return app.run(record_promise, invoice_id=invoice, amount=Decimal("500.00"),
                   promised_date=promised, tolerance_days=2, actor="alice",
                   business_date=made).result


@pytest.fixture
def promise_id(app: Collections) -> UUID:
    return given_promise(app, MADE, PROMISED)


def test_an_unpaid_promise_is_broken_the_day_after_its_window_and_only_once(
        app: Collections, database: Database, promise_id: UUID) -> None:
    assert daily_valuation(app, as_of=LAST_DAY) == {}  # still inside its window
    assert app.repository.get(promise_id).status == "open"
    before = listed(app, database, as_of=BROKEN_FROM)["V1"]
    assert (before.amounts.to_collect, before.amounts.under_promise) == (Decimal("0.00"),
                                                                         Decimal("500.00"))

    assert daily_valuation(app, as_of=BROKEN_FROM) == {promise_id: "broken"}
    promise = app.repository.get(promise_id)
    assert (promise.status, promise.valued_on) == ("broken", BROKEN_FROM)
    assert app.repository.get(Invoice.create_id("V1-1")).open_promise_id is None
    assert daily_valuation(app, as_of=BROKEN_FROM) == {}  # idempotent

    after = listed(app, database, as_of=BROKEN_FROM)["V1"]
    assert after.facts.broken_promises(BROKEN_FROM, after.strategy.recent_days) == 1
    assert (after.amounts.to_collect, after.amounts.under_promise) == (Decimal("500.00"),
                                                                       Decimal("0.00"))


def test_a_promise_paid_in_its_window_is_not_touched_by_the_valuation(
        app: Collections, promise_id: UUID) -> None:
    app.run(apply_payment, source_id="pay-1", customer_number="V1",
            allocations=[("V1-1", Decimal("200.00"))], unapplied=None,
            currency="EUR", payment_date=LAST_DAY, actor="erp",
            business_date=LAST_DAY)
    assert daily_valuation(app, as_of=BROKEN_FROM) == {promise_id: "partially_kept"}
    assert daily_valuation(app, as_of=date(2026, 12, 20)) == {}


def test_the_cli_values_the_due_promises(app: Collections, settings: Settings) -> None:
    today = date.today()  # the command values as of today by default, never a later day
    promise_id = given_promise(app, today - timedelta(days=5), today - timedelta(days=3))
    result = invoke(settings, "promises", "value", "--as-of",
                    (today - timedelta(days=1)).isoformat())
    assert result.exit_code == 0, result.output
    assert result.output == f"promises valued as of {today - timedelta(days=1)}: 0\n"
    result = invoke(settings, "promises", "value")
    assert result.exit_code == 0, result.output
    assert result.output == f"promises valued as of {today}: 1 (broken: 1)\n"
    assert app.repository.get(promise_id).status == "broken"
    tomorrow = invoke(settings, "promises", "value", "--as-of",
                      (today + timedelta(days=1)).isoformat())
    assert tomorrow.exit_code == 1
    assert "is a day still to come" in tomorrow.output
