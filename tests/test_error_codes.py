"""Every domain error's ``code``, pinned: clients act on the codes the API returns, so a renamed
error class must not change its code (``DomainError`` derives it from the name)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import ledger_collect
from ledger_collect.domain.base import DomainError

CODES = {
    "ActivityClosedError": "ACTIVITY_CLOSED",
    "ConflictError": "CONFLICT",
    "CurrencyMismatchError": "CURRENCY_MISMATCH",
    "DisputeClosedError": "DISPUTE_CLOSED",
    "DisputedAmountError": "DISPUTED_AMOUNT",
    "DomainError": "RULE_BROKEN",
    "FollowUpDateError": "FOLLOW_UP_DATE",
    "IllegalTransitionError": "ILLEGAL_TRANSITION",
    "InstalmentDateError": "INSTALMENT_DATE",
    "InstalmentSumError": "INSTALMENT_SUM",
    "InvoiceClosedError": "INVOICE_CLOSED",
    "InvoiceOfAnotherCustomerError": "INVOICE_OF_ANOTHER_CUSTOMER",
    "NotFoundError": "NOT_FOUND",
    "OverpaymentError": "OVERPAYMENT",
    "PromiseAmountError": "PROMISE_AMOUNT",
    "PromiseClosedError": "PROMISE_CLOSED",
    "PromiseDateError": "PROMISE_DATE",
    "RecordError": "BAD_RECORD",
    "ResubmissionCompletedError": "RESUBMISSION_COMPLETED",
    "StrategyError": "STRATEGY_INVALID",
    "UnknownContactError": "NOT_FOUND",
    "UnknownStrategyError": "NOT_FOUND",
    "ValidationError": "INVALID",
    "WrongCustomerError": "WRONG_CUSTOMER",
}


def _every_domain_error() -> dict[str, str]:
    for module in pkgutil.walk_packages(ledger_collect.__path__, "ledger_collect."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found, todo = {DomainError.__name__: DomainError.code}, [DomainError]
    while todo:
        for error in todo.pop().__subclasses__():
            if error.__module__.startswith("ledger_collect."):  # not a test's own
                found[error.__name__] = error.code
                todo.append(error)
    return found


def test_every_domain_error_keeps_its_code() -> None:
    assert _every_domain_error() == CODES


@pytest.mark.parametrize(("name", "code"), [("PromiseAmountError", "PROMISE_AMOUNT"),
                                            ("FollowUpDateError", "FOLLOW_UP_DATE"),
                                            ("Sla2ReachedError", "SLA2_REACHED")])
def test_a_code_follows_from_the_class_name(name: str, code: str) -> None:
    assert type(name, (DomainError,), {}).code == code


def test_a_class_may_name_its_own_code() -> None:
    class RefusedError(DomainError, code="REFUSED_HERE"):
        pass

    assert RefusedError.code == "REFUSED_HERE"
    assert RefusedError("why").code == "REFUSED_HERE"
