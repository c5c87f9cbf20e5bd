"""Collection-agency hand-over on PostgreSQL: the criteria at their edges, a case submitted and
its items locked from dunning, the export file, the agency's status and payment file imported
back through the ERP feed's importer (twice: once), closing and recalling."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from dunning_helpers import DAY, SUE, customer, invoice, letters, proposal, standard
from model_helpers import assert_equals_rebuild

from ledger_collect.commands import agency_commands as ac
from ledger_collect.commands import dunning_commands as dc
from ledger_collect.commands import promise_commands as pr
from ledger_collect.commands.application import Collections
from ledger_collect.domain.agency_case import AgencyCase, AgencyCaseClosedError, AgencyCriteriaError
from ledger_collect.domain.base import IllegalTransitionError, ValidationError
from ledger_collect.feed import Importer
from ledger_collect.feed.agency_export import export_case
from ledger_collect.feed.files import open_feed
from ledger_collect.projections import agency
from ledger_collect.projections.engine import catch_up


def _candidates(app: Collections, on: Any = DAY) -> list[tuple[str, Decimal, list[str]]]:
    catch_up(app)
    assert app.database is not None
    with app.database.connect() as conn:
        return [(c.customer_number, c.amount, c.documents) for c in agency.candidates(conn, on)]


def _book(app: Collections) -> dict[str, Any]:
    standard(app)
    app.run(ac.set_agency_criteria, minimum_amount=Decimal("500.00"), days_overdue=90, **SUE)
    ids = {"C-1": customer(app, "C-1"), "C-2": customer(app, "C-2")}
    ids["I-90"] = invoice(app, "C-1", "I-90", overdue=90, amount="300.00")
    ids["I-120"] = invoice(app, "C-1", "I-120", overdue=120, amount="200.00")
    ids["I-89"] = invoice(app, "C-1", "I-89", overdue=89, amount="1000.00")
    ids["I-2"] = invoice(app, "C-2", "I-2", overdue=100, amount="499.99")
    return ids


def test_the_criteria_at_their_edges(app: Collections) -> None:
    """90 days overdue and 500.00: 89 days does not count; 499.99 is under the minimum."""
    ids = _book(app)
    assert _candidates(app) == [("C-1", Decimal("500.00"), ["I-120", "I-90"])]
    assert _candidates(app, DAY + timedelta(days=1))[0][2] == ["I-120", "I-90", "I-89"]
    app.run(pr.record_promise, invoice_id=ids["I-90"], amount=Decimal("300.00"),
            promised_date=DAY + timedelta(days=10), **SUE)
    assert _candidates(app) == []
    with pytest.raises(AgencyCriteriaError, match="under a promise"):
        app.run(ac.submit_to_agency, ids["C-1"], agency="Recouvra",
                invoice_ids=[ids["I-90"], ids["I-120"]], **SUE)
    with pytest.raises(AgencyCriteriaError, match="I-89 is not 90 days overdue"):
        app.run(ac.submit_to_agency, ids["C-1"], agency="Recouvra", invoice_ids=[ids["I-89"]],
                **SUE)
    with pytest.raises(AgencyCriteriaError, match="499.99, under the minimum of 500.00"):
        app.run(ac.submit_to_agency, ids["C-2"], agency="Recouvra", invoice_ids=[ids["I-2"]],
                **SUE)


def test_no_criteria_no_hand_over(app: Collections) -> None:
    cid = customer(app, "C-1")
    iid = invoice(app, "C-1", "I-1", overdue=200)
    assert _candidates(app) == []
    with pytest.raises(AgencyCriteriaError, match="no criteria"):
        app.run(ac.submit_to_agency, cid, agency="Recouvra", invoice_ids=[iid], **SUE)
    with pytest.raises(ValidationError, match="days overdue"):
        app.run(ac.set_agency_criteria, minimum_amount=Decimal("1.00"), days_overdue=0, **SUE)


def _submit(app: Collections, ids: dict[str, Any]) -> Any:
    return app.run(ac.submit_to_agency, ids["C-1"], agency="Recouvra",
                   invoice_ids=[ids["I-120"], ids["I-90"]], **SUE).result


def test_submitted_items_are_locked_from_dunning(app: Collections) -> None:
    ids = _book(app)
    before = proposal(app).letters
    with_c1 = next(p.letter for p in before if p.customer_number == "C-1")
    case_id = _submit(app, ids)
    assert app.repository.get(ids["I-90"]).agency_case_id == case_id
    assert letters(app) == [("C-1", 1, ["I-89"]), ("C-2", 1, ["I-2"])]
    assert _candidates(app) == []
    with pytest.raises(dc.StaleLetterError, match="I-120 is with a collection agency"):
        app.run(dc.issue_dunning_letter, with_c1, **SUE)
    with pytest.raises(ValidationError, match="with a collection agency already"):
        app.run(ac.submit_to_agency, ids["C-1"], agency="Other", invoice_ids=[ids["I-90"]],
                **SUE)
    app.run(ac.recall_from_agency, case_id, reason="customer paying directly", **SUE)
    assert app.repository.get(ids["I-90"]).agency_case_id is None
    assert letters(app)[0] == ("C-1", 1, ["I-120", "I-90", "I-89"])


def test_the_export_file(app: Collections) -> None:
    ids = _book(app)
    case_id = _submit(app, ids)
    out = io.StringIO()
    assert export_case(app, case_id, out) == 2
    assert out.getvalue().splitlines() == [
        ("case_id,agency,submitted_on,customer_number,customer_name,contact_name,contact_email,"
         "contact_phone,invoice_number,currency,open_amount,due_date,days_overdue,dunning_level"),
        (f"{case_id},Recouvra,2026-03-17,C-1,Customer C-1,Paul,ap@c-1.example,,I-120,EUR,"
         "200.00,2025-11-17,120,0"),
        (f"{case_id},Recouvra,2026-03-17,C-1,Customer C-1,Paul,ap@c-1.example,,I-90,EUR,"
         "300.00,2025-12-17,90,0")]


def _import(app: Collections, text: str, tmp_path: Any) -> Any:
    path = tmp_path / "agency.csv"
    path.write_text(text)
    reader, stream = open_feed(path)
    with stream:
        return Importer(app, actor="agency", today=DAY).run(reader)


def test_the_agencys_file_comes_back_through_the_importer(app: Collections,
                                                          tmp_path: Any) -> None:
    ids = _book(app)
    case_id = _submit(app, ids)
    text = ("kind,source_id,case,status,note,customer,invoice,amount,currency,date\n"
            f"agency_status,ag-1,{case_id},in_progress,debtor reached,,,,,2026-03-20\n"
            f"agency_payment,ag-2,{case_id},,,C-1,I-90,120.00,EUR,2026-03-25\n"
            f"agency_payment,ag-3,{case_id},,,C-1,I-89,10.00,EUR,2026-03-25\n"
            f"agency_status,ag-4,{case_id},bribed,,,,,,2026-03-26\n")
    result = _import(app, text, tmp_path)
    assert (result.applied, [bad.line for bad in result.rejected]) == (2, [4, 5])
    assert "not an item of agency case" in result.rejected[0].reason
    assert "bribed" in result.rejected[1].reason
    case: AgencyCase = app.repository.get(case_id)
    assert (case.reported, case.collected) == ("in_progress", Decimal("120.00"))
    assert app.repository.get(ids["I-90"]).open_amount == Decimal("180.00")
    again = _import(app, text, tmp_path)
    assert (again.applied, again.already_present) == (0, 2)
    closing = ("kind,source_id,case,status,date\n"
               f"agency_status,ag-9,{case_id},closed,2026-04-30\n")
    assert _import(app, closing, tmp_path).applied == 1
    assert app.repository.get(ids["I-120"]).agency_case_id is None
    with pytest.raises(IllegalTransitionError, match="closed cannot become recalled"):
        app.run(ac.recall_from_agency, case_id, reason="too late", **SUE)
    with pytest.raises(AgencyCaseClosedError, match="is closed"):
        app.run(ac.report_agency_status, source_id="ag-10", case_id=case_id,
                status="legal_action", **SUE)
    catch_up(app)
    live = assert_equals_rebuild(app, app.database, "agency")  # type: ignore[arg-type]
    (row,) = live["agency_cases"]
    assert (row[3], row[4], row[6]) == ("closed", "closed", Decimal("120.00"))
    assert {r[3] for r in live["agency_items"]} == {"closed"}
