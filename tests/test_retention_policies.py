"""Retention policies and legal holds: the rules at their edges (periods across month ends,
no purge before the legal retention ends), then on the real store which streams are due on
which day — due on the day, not the day before; held, not due; released, due again."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from model_helpers import assert_equals_rebuild, write_casework

from ledger_collect.commands import casework_commands as cw
from ledger_collect.commands import promise_commands as pr
from ledger_collect.commands import receivable_commands as rc
from ledger_collect.commands import retention_commands as rt
from ledger_collect.commands.application import Collections
from ledger_collect.compliance.retention import (
    Policy,
    active_hold,
    current_policies,
    default_policies,
    due_streams,
    retention_end,
)
from ledger_collect.domain.base import NotFoundError
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.legal_hold import LegalHoldError
from ledger_collect.domain.retention_policy import Period, RetentionPolicyError, check_policy
from ledger_collect.projections.engine import catch_up
from ledger_collect.storage.database import Database

DAY = date(2020, 3, 2)
BY = {"actor": "officer", "business_date": DAY}


# -- periods and policies ---------------------------------------------------------------------
@pytest.mark.parametrize(("period", "start", "end"), [
    ("P2Y", date(2020, 3, 2), date(2022, 3, 2)),
    ("P1Y", date(2020, 2, 29), date(2021, 2, 28)),  # as PostgreSQL adds an interval
    ("P1M", date(2021, 1, 31), date(2021, 2, 28)),
    ("P1Y1M1D", date(2021, 1, 31), date(2022, 3, 1)),
    ("P2W", date(2021, 12, 25), date(2022, 1, 8)),
    ("P0D", date(2021, 12, 25), date(2021, 12, 25)),
])
def test_a_period_ends_as_postgresql_counts_it(period: str, start: date, end: date,
                                               database: Database) -> None:
    assert Period.parse(period).after(start) == end
    with database.connect() as conn:
        found = conn.execute("SELECT (%s::date + %s::interval)::date", (start, period))
        assert found.fetchone() == (end,)


@pytest.mark.parametrize("period", ["P2Y", "P1Y", "P1M", "P1Y1M1D", "P0D", "P3M"])
def test_the_latest_start_is_the_last_day_whose_period_has_run_out(period: str) -> None:
    length = Period.parse(period)
    for end in (date(2021, 2, 28), date(2021, 3, 1), date(2024, 2, 29), date(2024, 12, 31)):
        start = length.latest_start(end)
        assert length.after(start) <= end < length.after(start + timedelta(days=1))


@pytest.mark.parametrize("text", ["2Y", "P", "P-1Y", "PT1H", "P1.5Y", "", "P101Y"])
def test_a_malformed_period_is_refused(text: str) -> None:
    with pytest.raises(RetentionPolicyError):
        Period.parse(text)


def test_nothing_is_purged_or_erased_before_the_legal_retention_runs_out() -> None:
    assert check_policy("email", "sent", "purge", "P6Y", "P6Y")["after"] == "P6Y"
    with pytest.raises(RetentionPolicyError, match="must be kept P6Y"):
        check_policy("email", "sent", "purge", "P5Y11M30D", "P6Y")
    assert check_policy("invoice", "cleared", "archive", "P2Y", "P10Y")["retain"] == "P10Y"
    with pytest.raises(RetentionPolicyError, match="only be erased"):
        check_policy("contact", "last_activity", "purge", "P3Y", "P0D")
    with pytest.raises(RetentionPolicyError, match="archived or purged"):
        check_policy("invoice", "cleared", "erase", "P12Y", "P10Y")
    with pytest.raises(RetentionPolicyError, match="starts on"):
        check_policy("invoice", "sent", "archive", "P2Y", "P10Y")
    with pytest.raises(RetentionPolicyError, match="no record class"):
        check_policy("invoices", "cleared", "archive", "P2Y", "P10Y")


def test_the_shipped_defaults_cover_every_class() -> None:
    found = default_policies()
    assert found["invoice"] == Policy("invoice", "cleared", "archive", "P2Y", "P10Y")
    assert found["email"] == Policy("email", "sent", "purge", "P6Y", "P6Y")
    assert found["contact"] == Policy("contact", "last_activity", "erase", "P3Y", "P0D")
    assert found["activity"].action == "purge" and found["agency_case"].retain == "P10Y"


@pytest.mark.store("memory")
def test_a_policy_set_is_an_event_and_reads_over_the_default(app: Collections) -> None:
    assert current_policies(app) == default_policies()
    assert app.run(rt.set_retention_policy, "email", trigger="sent", action="purge",
                   after="P7Y", retain="P6Y", **BY).result is True
    assert app.run(rt.set_retention_policy, "email", trigger="sent", action="purge",
                   after="P7Y", retain="P6Y", **BY).position is None  # already so
    policies = current_policies(app)
    assert policies["email"] == Policy("email", "sent", "purge", "P7Y", "P6Y")
    assert policies["invoice"] == default_policies()["invoice"]
    with pytest.raises(RetentionPolicyError):
        app.run(rt.set_retention_policy, "email", trigger="sent", action="purge",
                after="P5Y", retain="P6Y", **BY)
    assert current_policies(app)["email"].after == "P7Y"
    assert retention_end(policies, "email", date(2020, 2, 29)) == date(2026, 2, 28)
    assert retention_end(policies, "email", None) is None


# -- the store: what is due when --------------------------------------------------------------
def _customer(app: Collections, number: str) -> UUID:
    return app.run(rc.register_customer, number=number, name=f"Customer {number}",
                   segment="north", credit_limit=Decimal(1000), currency="EUR", risk_class="B",
                   source_id=f"reg-{number}", **BY).result


def _invoice(app: Collections, customer: str, number: str, on: date = DAY) -> UUID:
    return app.run(rc.post_invoice, customer_number=customer, document_number=number,
                   amount=Decimal("100.00"), currency="EUR", posting_date=on, due_date=on,
                   source_id=f"post-{number}", actor="erp", business_date=on).result


def _pay(app: Collections, customer: str, number: str, amount: str, on: date) -> None:
    app.run(rc.apply_payment, source_id=f"pay-{number}-{on}-{amount}", customer_number=customer,
            allocations=[(number, Decimal(amount))], unapplied=None, currency="EUR",
            payment_date=on, actor="erp", business_date=on)


def _due(app: Collections, database: Database, today: date, action: str = "archive",
         **kwargs: Any) -> list[Any]:
    catch_up(app, "retention_streams")
    with database.connect() as conn:
        return due_streams(conn, current_policies(app), today, action, **kwargs)


def test_an_invoice_is_due_for_archive_two_years_after_it_was_paid(
        app: Collections, database: Database) -> None:
    customer = _customer(app, "C1")
    invoice = _invoice(app, "C1", "INV-1")
    _pay(app, "C1", "INV-1", "40.00", date(2020, 4, 1))
    assert _due(app, database, date(2030, 1, 1)) == []  # still open: no clock
    _pay(app, "C1", "INV-1", "60.00", date(2020, 5, 15))
    assert _due(app, database, date(2022, 5, 14)) == []
    [due] = _due(app, database, date(2022, 5, 15))
    assert (due.stream_id, due.record_class, due.customer_id, due.due_on) == (
        invoice, "invoice", customer, date(2022, 5, 15))
    app.run(rc.reverse_payment, source_id="rev-1", invoice_number="INV-1",
            payment_source_id="pay-INV-1-2020-05-15-60.00", actor="erp",
            business_date=date(2020, 6, 1))
    assert _due(app, database, date(2030, 1, 1)) == []  # open again
    app.run(rc.clear_invoice, source_id="clr-1", invoice_number="INV-1", actor="erp",
            business_date=date(2020, 6, 30))
    assert _due(app, database, date(2022, 6, 29)) == []
    assert [d.due_on for d in _due(app, database, date(2022, 6, 30))] == [date(2022, 6, 30)]
    assert _due(app, database, date(2040, 1, 1), "purge") == []
    assert_equals_rebuild(app, database, "retention_streams")


def test_a_hold_on_the_customer_keeps_its_streams_until_released(
        app: Collections, database: Database) -> None:
    held, other = _customer(app, "C1"), _customer(app, "C2")
    for customer, number in ((held, "A"), (other, "B")):
        _invoice(app, f"C{1 if customer == held else 2}", number)
        app.run(rc.clear_invoice, source_id=f"clr-{number}", invoice_number=number,
                actor="erp", business_date=DAY)
    later = date(2023, 1, 1)
    assert {d.customer_id for d in _due(app, database, later)} == {held, other}
    app.run(rt.place_legal_hold, "customer", held, reference="LIT-2021-7", **BY)
    assert active_hold(app, customer_id=held) == "LIT-2021-7"
    assert active_hold(app, customer_id=other) is None
    assert {d.customer_id for d in _due(app, database, later)} == {other}
    with pytest.raises(LegalHoldError, match="already held under LIT-2021-7"):
        app.run(rt.place_legal_hold, "customer", held, reference="LIT-2022-1", **BY)
    app.run(rt.release_legal_hold, held, actor="officer", business_date=date(2022, 1, 1))
    assert active_hold(app, customer_id=held) is None
    assert {d.customer_id for d in _due(app, database, later)} == {held, other}
    app.run(rt.place_legal_hold, "customer", held, reference="LIT-2022-1", **BY)  # again
    assert active_hold(app, customer_id=held) == "LIT-2022-1"
    assert {d.customer_id for d in _due(app, database, later)} == {other}
    with pytest.raises(LegalHoldError, match="not under a legal hold"):
        app.run(rt.release_legal_hold, other, **BY)
    with pytest.raises(NotFoundError):
        app.run(rt.place_legal_hold, "customer", Customer.create_id("nobody"),
                reference="X", **BY)
    assert_equals_rebuild(app, database, "retention_streams")


def test_a_hold_on_a_dispute_keeps_the_dispute_its_invoices_and_their_promises(
        app: Collections, database: Database) -> None:
    customer = _customer(app, "C1")
    disputed, free = _invoice(app, "C1", "D-1"), _invoice(app, "C1", "F-1")
    promise = app.run(pr.record_promise, invoice_id=disputed, amount=Decimal("10.00"),
                      promised_date=DAY + timedelta(days=10), **BY).result
    app.run(pr.withdraw_promise, promise, reason="mistake", **BY)
    dispute = app.run(cw.open_dispute, customer, [disputed], amount=Decimal("100.00"),
                      reason="price", processor="bob", **BY).result
    app.run(cw.start_dispute_processing, dispute, **BY)
    app.run(cw.resolve_dispute, dispute, "rejected", **BY)
    for number in ("D-1", "F-1"):
        app.run(rc.clear_invoice, source_id=f"clr-{number}", invoice_number=number,
                actor="erp", business_date=DAY)
    later = date(2022, 3, 2)
    assert {d.stream_id for d in _due(app, database, later)} == {
        disputed, free, promise, dispute}
    assert {d.stream_id for d in _due(app, database, later - timedelta(days=1))} == set()
    app.run(rt.place_legal_hold, "dispute", dispute, reference="ARB-9", **BY)
    assert {d.stream_id for d in _due(app, database, later)} == {free}
    assert active_hold(app, customer_id=customer, dispute_id=dispute) == "ARB-9"
    assert active_hold(app, customer_id=customer) == "ARB-9"  # erasure takes its notes too
    assert _due(app, database, date(2040, 1, 1), "erase") == []
    app.run(rt.release_legal_hold, dispute, **BY)
    assert len(_due(app, database, later)) == 4
    assert_equals_rebuild(app, database, "retention_streams")


def test_keyset_pages_go_through_every_due_stream_once(app: Collections,
                                                       database: Database) -> None:
    _customer(app, "C1")
    ids = set()
    for n in range(7):
        ids.add(_invoice(app, "C1", f"I-{n}"))
        app.run(rc.clear_invoice, source_id=f"clr-{n}", invoice_number=f"I-{n}", actor="erp",
                business_date=DAY)
    seen, after = [], None
    while page := _due(app, database, date(2023, 1, 1), after=after, limit=3):
        seen += [d.stream_id for d in page]
        after = page[-1].stream_id
    assert seen == sorted(ids) and Invoice.create_id("I-0") in seen


def test_a_customer_is_due_for_erasure_three_years_after_its_last_activity(
        app: Collections, database: Database) -> None:
    quiet, busy = _customer(app, "C1"), _customer(app, "C2")
    _invoice(app, "C2", "B-1", on=date(2021, 6, 1))
    assert [(d.stream_id, d.record_class, d.due_on) for d in
            _due(app, database, date(2023, 3, 2), "erase")] == [
        (quiet, "customer_personal", date(2023, 3, 2))]
    assert _due(app, database, date(2023, 3, 1), "erase") == []
    assert {d.stream_id for d in _due(app, database, date(2024, 6, 1), "erase")} == {
        quiet, busy}
    app.run(rt.place_legal_hold, "customer", quiet, reference="TAX-1", **BY)
    assert [d.stream_id for d in _due(app, database, date(2024, 6, 1), "erase")] == [busy]
    with database.connect() as conn:
        conn.execute("INSERT INTO erased_subjects (subject_id, reason) VALUES (%s, 'test')",
                     (busy,))
    assert _due(app, database, date(2024, 6, 1), "erase") == []


def test_the_model_followed_page_by_page_equals_a_rebuild_over_all_casework(
        app: Collections, database: Database) -> None:
    """Every kind of casework (promises kept, broken and withdrawn, disputes through to
    closing, follow-ups, tasks, conversations, emails failed, corrected and sent), followed in
    small pages, gives the rows a rebuild gives; each class is there and its trigger is set
    by the event that ends it."""
    write_casework(app, 12, chunk=3)
    catch_up(app, "retention_streams", page_size=7)
    found = assert_equals_rebuild(app, database, "retention_streams")
    streams = found["retention_streams"]
    classes = {row[1] for row in streams}
    assert classes == {"invoice", "promise", "dispute", "email", "contact", "activity",
                       "resubmission"}
    for record_class in classes - {"contact", "invoice"}:  # no invoice is paid in full
        assert any(row[5] is not None for row in streams if row[1] == record_class), \
            record_class
    assert len(found["retention_customer_activity"]) == 12


def test_letters_agency_cases_and_credits_start_their_clocks(app: Collections,
                                                              database: Database) -> None:
    """A letter is sent when issued, an agency case closed when recalled; a credit on account
    has no recorded use, so nothing starts its clock."""
    from dunning_helpers import DAY as ON
    from dunning_helpers import SUE, customer, invoice, proposal, standard

    from ledger_collect.commands import agency_commands as ac
    from ledger_collect.commands import dunning_commands as dc

    standard(app)
    app.run(ac.set_agency_criteria, minimum_amount=Decimal("100.00"), days_overdue=90, **SUE)
    cid = customer(app, "C-1")
    old = invoice(app, "C-1", "I-1", overdue=120)
    invoice(app, "C-1", "I-2", overdue=20)  # dunned: the other is with the agency
    case = app.run(ac.submit_to_agency, cid, agency="Recouvra", invoice_ids=[old],
                   **SUE).result
    [letter] = [p.letter for p in proposal(app).letters]
    app.run(dc.issue_dunning_letter, letter, **SUE)
    app.run(ac.recall_from_agency, case, reason="paying directly", actor="sue",
            business_date=ON + timedelta(days=3))
    app.run(rc.apply_payment, source_id="pay-1", customer_number="C-1", allocations=[],
            unapplied=Decimal("60.00"), currency="EUR", payment_date=ON, **SUE)
    catch_up(app, "retention_streams")
    with database.connect() as conn:
        found = dict(conn.execute("SELECT record_class, trigger_on FROM retention_streams"
                                  " WHERE record_class IN ('dunning_letter', 'agency_case',"
                                  " 'credit')").fetchall())
    assert found == {"dunning_letter": ON, "agency_case": ON + timedelta(days=3),
                     "credit": None}
    assert [d.record_class for d in _due(app, database, date(2029, 3, 20))] == [
        "agency_case"]
    purged = _due(app, database, ON.replace(year=2032), "purge")
    assert {d.record_class for d in purged} >= {"dunning_letter"}
