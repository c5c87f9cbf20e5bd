"""``ledger-collect retention``: policies listed with their defaults marked, a policy set and
refused, a customer held by number, why it is kept, released."""

from __future__ import annotations

from test_cli import invoke
from test_retention_policies import _customer, _invoice

from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings


def test_policies_set_hold_show_and_release(app: Collections, settings: Settings) -> None:
    _customer(app, "C-7")
    _invoice(app, "C-7", "INV-7")
    listed = invoke(settings, "retention", "policies")
    assert listed.exit_code == 0, listed.output
    assert "invoice            cleared        archive  P2Y     P10Y *" in listed.output
    changed = invoke(settings, "retention", "set", "email", "--after", "P8Y")
    assert changed.exit_code == 0, changed.output
    assert changed.output == "email: purge P8Y after sent, retain P6Y\n"
    assert "email              sent           purge    P8Y     P6Y\n" in invoke(
        settings, "retention", "policies").output
    refused = invoke(settings, "retention", "set", "email", "--after", "P1Y")
    assert refused.exit_code == 1 and "must be kept P6Y" in refused.output
    held = invoke(settings, "retention", "hold", "customer", "C-7", "--reference", "LIT-1")
    assert (held.exit_code, held.output) == (0, "customer C-7 held under LIT-1\n")
    shown = invoke(settings, "retention", "show", "--invoice", "INV-7")
    assert shown.exit_code == 0, shown.output
    assert "under legal hold LIT-1" in shown.output
    assert "legal hold LIT-1: nothing is purged or erased" in shown.output
    released = invoke(settings, "retention", "release", "C-7")
    assert released.exit_code == 0, released.output
    shown = invoke(settings, "retention", "show", "--customer", "C-7", "--date", "2021-01-01")
    assert "legal hold" not in shown.output and "customer_personal" in shown.output
    again = invoke(settings, "retention", "release", "C-7")
    assert again.exit_code == 1 and "not under a legal hold" in again.output
    assert invoke(settings, "retention", "show").exit_code == 2
    missing = invoke(settings, "retention", "show", "--customer", "nobody")
    assert missing.exit_code == 1 and "there is no customer nobody" in missing.output
