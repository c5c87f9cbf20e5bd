"""The dunning proposal read from the real read models on PostgreSQL, at every edge: the grace
day N against N+1, the minimum just under and at it, the quiet day boundary, promises, disputes
and blocks keeping items out, interest to the cent, segments and procedures per customer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from dunning_helpers import DAY, ERP, SUE, customer, invoice, letters, proposal, standard
from model_helpers import assert_equals_rebuild

from ledger_collect.commands import casework_commands as cw
from ledger_collect.commands import dunning_commands as dc
from ledger_collect.commands import promise_commands as pr
from ledger_collect.commands import receivable_commands as rc
from ledger_collect.commands.application import Collections


def test_no_procedure_no_letter(app: Collections) -> None:
    customer(app, "C-1")
    invoice(app, "C-1", "I-1", overdue=40)
    assert letters(app) == []
    app.run(dc.save_dunning_procedure, code="north-only", levels=[
        {"days_overdue": 1, "grace_days": 0}], **SUE)
    found = proposal(app)
    assert (found.customers, found.no_procedure, found.letters) == (1, 1, [])
    app.run(dc.set_segment_dunning_procedure, "north", "north-only", **SUE)
    assert letters(app) == [("C-1", 1, ["I-1"])]


def test_grace_day_n_against_n_plus_one(app: Collections) -> None:
    """Level 1 after 14 days' grace: 14 days overdue, nothing; 15 days, level 1."""
    standard(app)
    customer(app, "C-1")
    invoice(app, "C-1", "I-14", overdue=14)
    invoice(app, "C-1", "I-15", overdue=15)
    assert letters(app) == [("C-1", 1, ["I-15"])]
    assert letters(app, DAY + timedelta(days=1)) == [("C-1", 1, ["I-15", "I-14"])]


def test_minimum_amount_just_under_and_at(app: Collections) -> None:
    standard(app)
    customer(app, "C-1")
    customer(app, "C-2")
    invoice(app, "C-1", "I-1", overdue=20, amount="49.99")
    invoice(app, "C-2", "I-2", overdue=20, amount="50.00")
    assert letters(app) == [("C-2", 1, ["I-2"])]


def test_quiet_days_boundary(app: Collections) -> None:
    """Three quiet days: a conversation three days ago holds the letter back, four days ago
    does not; an email delivered counts as being written to."""
    standard(app)
    for number, days in (("C-3", 3), ("C-4", 4)):
        cid = customer(app, number)
        invoice(app, number, f"I-{number}", overdue=20)
        app.run(cw.record_contact, cid, channel="phone", result="no_answer",
                contact_date=DAY - timedelta(days=days), **SUE)
    cid = customer(app, "C-5")
    invoice(app, "C-5", "I-C-5", overdue=20)
    email = app.run(cw.create_email, cid, to=["x@c5.example"], template="statement",
                    **SUE).result
    app.run(cw.mark_email_sent, email, actor="mailer", business_date=DAY - timedelta(days=2))
    found = proposal(app)
    assert [p.customer_number for p in found.letters] == ["C-4"]
    assert found.quiet == 2


def test_promises_disputes_and_blocks_keep_items_out(app: Collections) -> None:
    standard(app)
    cid = customer(app, "C-1")
    promised = invoice(app, "C-1", "I-PROMISED", overdue=20)
    disputed = invoice(app, "C-1", "I-DISPUTED", overdue=20)
    blocked = invoice(app, "C-1", "I-BLOCKED", overdue=20)
    invoice(app, "C-1", "I-FREE", overdue=20)
    promise = app.run(pr.record_promise, invoice_id=promised, amount=Decimal("100.00"),
                      promised_date=DAY + timedelta(days=5), **SUE).result
    dispute = app.run(cw.open_dispute, cid, [disputed], amount=Decimal("10.00"),
                      reason="price", processor="pat", **SUE).result
    app.run(dc.block_invoice_dunning, blocked, reason="goods returned", until=DAY, **SUE)
    assert letters(app) == [("C-1", 1, ["I-FREE"])]
    # the block holds through its last day, and is over the day after
    assert letters(app, DAY + timedelta(days=1))[0][2] == ["I-BLOCKED", "I-FREE"]
    # a withdrawn promise and a resolved dispute let their items back in
    app.run(pr.withdraw_promise, promise, reason="changed mind", **SUE)
    app.run(cw.start_dispute_processing, dispute, **SUE)
    app.run(cw.resolve_dispute, dispute, "rejected", **SUE)
    assert letters(app, DAY + timedelta(days=1))[0][2] == [
        "I-BLOCKED", "I-DISPUTED", "I-FREE", "I-PROMISED"]
    # a customer block keeps the whole customer out until released
    app.run(dc.block_customer_dunning, cid, reason="insolvency check", **SUE)
    assert letters(app) == []
    app.run(dc.release_customer_dunning_block, cid, **SUE)
    assert letters(app) == [("C-1", 1, ["I-DISPUTED", "I-FREE", "I-PROMISED"])]


def test_closed_and_paid_items_are_not_dunned(app: Collections) -> None:
    standard(app, minimum_amount=Decimal("0.00"))
    customer(app, "C-1")
    invoice(app, "C-1", "I-CLEARED", overdue=20)
    invoice(app, "C-1", "I-PART", overdue=20)
    app.run(rc.clear_invoice, source_id="clr", invoice_number="I-CLEARED", **ERP)
    app.run(rc.apply_payment, source_id="pay", customer_number="C-1",
            allocations=[("I-PART", Decimal("99.99"))], unapplied=None, currency="EUR",
            payment_date=DAY - timedelta(days=1), **ERP)
    (letter,) = proposal(app).letters
    assert [(line.document_number, line.open_amount) for line in letter.letter.lines] == [
        ("I-PART", Decimal("0.01"))]


def test_interest_and_fee_to_the_cent(app: Collections) -> None:
    """1,234.56 at 8 % for 45 days: 12.18; the level-2 fee 5.00."""
    standard(app)
    customer(app, "C-1")
    invoice(app, "C-1", "I-1", overdue=45, amount="1234.56")
    (first,) = proposal(app).letters
    assert (first.letter.level, first.letter.fee, first.letter.interest) == (
        1, Decimal("0.00"), Decimal("12.18"))
    assert first.letter.total == Decimal("1246.74")
    assert first.has_address


def test_segments_and_a_customers_own_procedure(app: Collections) -> None:
    standard(app)
    app.run(dc.save_dunning_procedure, code="patient", levels=[
        {"days_overdue": 60, "grace_days": 0}], **SUE)
    app.run(dc.set_segment_dunning_procedure, "south", "patient", **SUE)
    customer(app, "N-1")
    customer(app, "S-1", segment="south")
    vip = customer(app, "S-2", segment="south")
    for number in ("N-1", "S-1", "S-2"):
        invoice(app, number, f"I-{number}", overdue=30)
    app.run(dc.set_customer_dunning_procedure, vip, "standard", **SUE)
    assert letters(app) == [("N-1", 1, ["I-N-1"]), ("S-2", 1, ["I-S-2"])]
    assert letters(app, segment="south") == [("S-2", 1, ["I-S-2"])]


def test_a_customer_without_an_address_is_proposed_as_such(app: Collections) -> None:
    standard(app)
    customer(app, "C-1", email=None)
    invoice(app, "C-1", "I-1", overdue=20)
    found = proposal(app)
    assert [p.has_address for p in found.letters] == [False]
    assert found.no_address == 1


def test_pre_due_reminders(app: Collections) -> None:
    standard(app)
    customer(app, "C-1")
    invoice(app, "C-1", "I-6", overdue=-6, amount="60.00")
    invoice(app, "C-1", "I-5", overdue=-5, amount="60.00")
    (found,) = proposal(app).letters
    assert (found.letter.kind, found.letter.level, found.letter.dunning) == (
        "reminder", 0, [(found.letter.lines[0].invoice_id, 0)])
    assert [line.document_number for line in found.letter.lines] == ["I-5"]


def test_the_model_equals_its_rebuild(app: Collections) -> None:
    standard(app)
    cid = customer(app, "C-1")
    iid = invoice(app, "C-1", "I-1", overdue=20)
    app.run(dc.save_dunning_procedure, code="gone", levels=[{"days_overdue": 1,
                                                             "grace_days": 0}], **SUE)
    app.run(dc.set_segment_dunning_procedure, "north", "gone", **SUE)
    app.run(dc.set_segment_dunning_procedure, "north", None, **SUE)
    app.run(dc.remove_dunning_procedure, "gone", **SUE)
    app.run(dc.set_customer_dunning_procedure, cid, "standard", **SUE)
    app.run(dc.block_invoice_dunning, iid, reason="x", **SUE)
    app.run(dc.block_customer_dunning, cid, reason="y", until=DAY, **SUE)
    app.run(dc.release_invoice_dunning_block, iid, **SUE)
    proposal(app)  # catches the models up
    live = assert_equals_rebuild(app, app.database, "dunning")  # type: ignore[arg-type]
    assert [row[1] for row in live["dunning_procedures"]] == ["standard"]
    assert [row[1] for row in live["dunning_blocks"]] == ["customer"]
    assert [row[1:] for row in live["dunning_assignments"]] == [("", "standard")]
