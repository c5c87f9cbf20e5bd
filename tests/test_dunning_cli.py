"""``ledger-collect dunning propose|run --date``: the proposal as a table, the run's counts,
and a second run the same day issuing nothing; ``ledger-collect agency``: the hand-over from
the criteria to the agency's file imported back."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from dunning_helpers import DAY, CollectionEmails, customer, invoice, standard
from test_cli import invoke

from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.domain.invoice import Invoice


@pytest.fixture
def emails(app: Collections) -> CollectionEmails:
    return CollectionEmails(app)


def test_propose_then_run_twice(app: Collections, settings: Settings,
                                emails: dict[UUID, dict[str, Any]]) -> None:
    standard(app)
    customer(app, "C-1")
    customer(app, "C-2", email=None)
    invoice(app, "C-1", "I-1", overdue=45, amount="1234.56")
    invoice(app, "C-2", "I-2", overdue=20)
    proposed = invoke(settings, "dunning", "propose", "--date", DAY.isoformat())
    assert proposed.exit_code == 0, proposed.output
    lines = proposed.stdout.splitlines()
    assert lines[1:] == ["C-1\tdunning\t1\tEUR\t1234.56\t0.00\t12.18\t1246.74\tI-1\tyes",
                         "C-2\tdunning\t1\tEUR\t100.00\t0.00\t0.44\t100.44\tI-2\tnone"]
    assert "2 letters for 2026-03-17: 2 customers" in proposed.stderr
    ran = invoke(settings, "dunning", "run", "--date", DAY.isoformat())
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.strip() == ("proposed: 2, issued: 1, already: 0, no address: 1, "
                                  "stale: 0, refused: 0")
    again = invoke(settings, "dunning", "run", "--date", DAY.isoformat())
    assert again.stdout.strip() == ("proposed: 1, issued: 0, already: 0, no address: 1, "
                                    "stale: 0, refused: 0")
    assert len(emails) == 1


def test_agency_criteria_candidates_submit_export_import_recall(
        app: Collections, settings: Settings, tmp_path: Path) -> None:
    customer(app, "C-1")
    invoice(app, "C-1", "I-1", overdue=120, amount="800.00")
    invoice(app, "C-1", "I-2", overdue=30, amount="900.00")
    assert invoke(settings, "agency", "criteria", "--minimum", "500.00",
                  "--days", "90").exit_code == 0
    day = ["--date", DAY.isoformat()]
    listed = invoke(settings, "agency", "candidates", *day)
    assert listed.stdout.splitlines() == ["C-1\tEUR\t800.00\tI-1"]
    submitted = invoke(settings, "agency", "submit", "C-1", "--agency", "Recouvra", *day)
    assert submitted.exit_code == 0, submitted.output
    case_id = submitted.stdout.split()[1].rstrip(":")
    assert submitted.stdout.strip().endswith("EUR 800.00, 1 items")
    exported = tmp_path / "case.csv"
    assert invoke(settings, "agency", "export", case_id, "-o", str(exported)).exit_code == 0
    assert exported.read_text().splitlines()[1].endswith(",I-1,EUR,800.00,2025-11-17,120,0")
    back = tmp_path / "back.jsonl"
    back.write_text(
        f'{{"kind":"agency_payment","source_id":"ag-1","case":"{case_id}","customer":"C-1",'
        f'"invoice":"I-1","amount":"800.00","currency":"EUR","date":"2026-03-20"}}\n')
    imported = invoke(settings, "import", str(back))
    assert imported.exit_code == 0, imported.output
    assert "applied: 1" in imported.stdout
    assert app.repository.get(Invoice.create_id("I-1")).open_amount == Decimal("0.00")
    recalled = invoke(settings, "agency", "recall", case_id, "--reason", "paid")
    assert recalled.exit_code == 0 and recalled.stdout.strip() == f"case {case_id} recalled"
    unknown = invoke(settings, "agency", "submit", "C-9", "--agency", "Recouvra", *day)
    assert unknown.exit_code == 1 and "does not meet" in unknown.output
