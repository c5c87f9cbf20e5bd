"""Erased customers leave the worklists (ranked, stored and generated) and the dunning run."""

from __future__ import annotations

import dunning_helpers as dh
from test_worklist_generation import lists, portfolio
from test_worklist_model import TODAY

from ledger_collect.compliance.erasure import erase_customer
from ledger_collect.domain.customer import Customer
from ledger_collect.jobs.worklists import generate_worklists
from ledger_collect.projections.engine import catch_up
from ledger_collect.projections.worklist.day_rankings import build_rankings


def test_an_erased_customer_leaves_worklists_at_once(app, database) -> None:
    portfolio(app)
    catch_up(app)
    unassigned = [entry[0] for entry in lists(app, database, None)]
    assert "U1" in unassigned
    erase_customer(app, Customer.create_id("U1"), "GDPR Art. 17(1)(a)", "carl", today=TODAY)
    assert [n for n in (entry[0] for entry in lists(app, database, None))] == [
        n for n in unassigned if n != "U1"]  # ranked in the query
    build_rankings(app, [], today=TODAY)
    assert "U1" not in [entry[0] for entry in lists(app, database, None)]  # stored ranking
    counts = generate_worklists(app, business_date=TODAY)
    assert counts["customers"] == 12
    assert "U1" not in [entry[0] for entry in lists(app, database, None)]  # generated


def test_an_erased_customer_gets_no_dunning_letter(app, database) -> None:
    dh.standard(app)
    for number in ("D-1", "D-2"):
        dh.customer(app, number)
        dh.invoice(app, number, f"{number}-1", overdue=40)
    assert [p[0] for p in dh.letters(app)] == ["D-1", "D-2"]
    erase_customer(app, Customer.create_id("D-1"), "GDPR Art. 17(1)(a)", "carl", today=dh.DAY)
    assert [p[0] for p in dh.letters(app)] == ["D-2"]
