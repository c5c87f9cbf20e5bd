"""``ledger-collect dunning propose|run --date``: the proposal as a table, the run's counts,
and a second run the same day issuing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from dunning_helpers import DAY, customer, invoice, kept_emails, standard
from test_cli import invoke

from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings


@pytest.fixture
def emails(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[UUID, dict[str, Any]]]:
    yield from kept_emails(monkeypatch)


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
                                  "stale: 0")
    again = invoke(settings, "dunning", "run", "--date", DAY.isoformat())
    assert again.stdout.strip() == ("proposed: 1, issued: 0, already: 0, no address: 1, "
                                    "stale: 0")
    assert len(emails) == 1
