"""The value rules at their edges (``commands.values`` and ``domain.base.money``), the commands
that apply them to every argument, and the ERP import that meets them as bad lines."""

from __future__ import annotations

import inspect
import json
import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.domain import Aggregate

from ledger_collect.commands import Batch, values
from ledger_collect.commands import casework_commands as casework
from ledger_collect.commands import email_commands as emails
from ledger_collect.commands import promise_commands as promises
from ledger_collect.commands import receivable_commands as receivables
from ledger_collect.commands.application import Collections
from ledger_collect.config import Settings
from ledger_collect.domain.base import ValidationError, money
from ledger_collect.feed import Importer
from ledger_collect.feed.files import read_records
from ledger_collect.feed.records import parse_record

pytestmark = pytest.mark.store("memory")  # domain scenarios: no database needed

TODAY = date(2026, 11, 23)
TIGHTLY = Settings(max_code_length=5, max_name_length=8, max_text_length=12,
                   promise_horizon_days=10)
TIGHT = values.Limits.of(TIGHTLY)


def refusal(check: Any, *args: Any) -> str:
    with pytest.raises(ValidationError) as refused:
        check(*args)
    return str(refused.value)


# -- amounts -----------------------------------------------------------------------------------
def test_two_decimal_places_pass_and_a_third_is_refused_never_rounded() -> None:
    assert money("10.01") == Decimal("10.01")
    assert money("10.010") == Decimal("10.01")  # nothing lost: the same amount
    assert money(7) == Decimal("7.00")
    assert refusal(money, "10.015") == "amount 10.015 has more than two decimal places"
    assert refusal(values.amount, "100.005", "paid") == (
        "paid 100.005 has more than two decimal places")


def test_the_largest_amount_passes_and_a_cent_more_is_refused() -> None:
    assert money("999999999999.99") == Decimal("999999999999.99")
    assert money("-999999999999.99") == Decimal("-999999999999.99")
    assert refusal(money, "1000000000000.00") == (
        "amount 1000000000000.00 is beyond the largest amount accepted, 999,999,999,999.99")
    assert "beyond the largest" in refusal(money, "-1000000000000.00")


@pytest.mark.parametrize(("given", "said"), [
    ("1e309", "amount 1e309 is beyond the largest amount accepted"),
    ("1" * 30, "is beyond the largest amount accepted"),
    ("1e-30", "amount 1e-30 has more than two decimal places"),
    ("NaN", "amount NaN is not a finite number"),
    ("Infinity", "amount Infinity is not a finite number"),
    ("ten", "amount 'ten' is not a number"),
    (1e308, "amount 1e+308 must be given as a decimal string, not a float"),
])
def test_amounts_no_sum_could_hold_are_refused(given: Any, said: str) -> None:
    assert said in refusal(money, given)


# -- text ----------------------------------------------------------------------------------------
def test_each_kind_of_string_has_its_length_and_one_more_is_refused() -> None:
    assert values.code("A" * 5, "number", TIGHT) == "AAAAA"
    assert refusal(values.code, "A" * 6, "number", TIGHT) == (
        "number is 6 characters long; at most 5 are allowed")
    assert values.name("N" * 8, "name", TIGHT)
    assert "at most 8" in refusal(values.name, "N" * 9, "name", TIGHT)
    assert values.text("T" * 12, "note", TIGHT)
    assert "at most 12" in refusal(values.text, "T" * 13, "note", TIGHT)
    defaults = values.DEFAULT_LIMITS
    assert (defaults.code_length, defaults.name_length, defaults.text_length) == (
        100, 200, 10_000)
    assert values.code("C" * 100, "number") and "at most 100" in refusal(
        values.code, "C" * 101, "number")


def test_control_characters_are_refused_and_free_text_keeps_its_lines() -> None:
    assert refusal(values.text, "call\x00back", "note") == (
        "note must not contain control characters other than newlines and tabs; found U+0000 "
        "at character 5")
    assert values.text("line one\r\nline two\tend", "note") == "line one\r\nline two\tend"
    assert refusal(values.code, "INV\n1", "document number") == (
        "document number must not contain control characters; found U+000A at character 4")
    assert "U+0009" in refusal(values.name, "Marie\tCurie", "name")
    assert "U+001B" in refusal(values.text, "\x1b[31m", "note")
    assert "U+0085" in refusal(values.name, "a\x85b", "name")  # C1 control
    assert "U+DCFF" in refusal(values.text, "caf\udcff", "note")  # bytes that were not UTF-8
    assert values.name("Zoë Ærø\u00a0SARL 株式会社", "name")  # letters and spaces of any script


# -- dates -----------------------------------------------------------------------------------------
def test_dates_lie_in_the_window_at_both_ends() -> None:
    assert values.day(date(1900, 1, 1), "due date") == date(1900, 1, 1)
    assert values.day(date(2199, 12, 31), "due date") == date(2199, 12, 31)
    assert refusal(values.day, date(1899, 12, 31), "due date") == (
        "due date 1899-12-31 is outside the dates accepted, 1900-01-01 to 2199-12-31")
    assert "outside" in refusal(values.day, date(2200, 1, 1), "due date")


def test_a_promise_reaches_the_horizon_and_not_a_day_further() -> None:
    assert values.promised_day(date(2026, 12, 3), "promised date", TODAY, TIGHT)
    assert refusal(values.promised_day, date(2026, 12, 4), "promised date", TODAY, TIGHT) == (
        "promised date 2026-12-04 is more than 10 days after 2026-11-23; the furthest a "
        "promise may reach is 2026-12-03")
    assert values.promised_day(date(2028, 11, 22), "promised date", TODAY)  # 730 days
    assert "730 days" in refusal(values.promised_day, date(2028, 11, 23), "promised date",
                                 TODAY)
    huge = values.Limits.of(Settings(promise_horizon_days=10**9))  # the calendar's end still holds
    assert "outside" in refusal(values.promised_day, date(9999, 12, 30), "promised date",
                                TODAY, huge)


# -- the commands ------------------------------------------------------------------------------
def test_the_limits_come_from_the_settings_and_their_environment() -> None:
    settings = Settings.from_env({"LEDGER_MAX_CODE_LENGTH": "7", "LEDGER_MAX_NAME_LENGTH": "9",
                                  "LEDGER_MAX_TEXT_LENGTH": "11",
                                  "LEDGER_PROMISE_HORIZON_DAYS": "30"})
    assert values.Limits.of(settings) == values.Limits(7, 9, 11, 30)
    assert values.Limits.of(Settings()) == values.DEFAULT_LIMITS


def _takes_an_aggregate(function: Any) -> bool:
    module = inspect.getmodule(function)
    aggregates = {name for name, value in vars(module).items()
                  if isinstance(value, type) and issubclass(value, Aggregate)}
    return any(set(re.findall(r"\w+", str(parameter.annotation))) & aggregates
               for parameter in inspect.signature(function).parameters.values())


def test_every_command_checks_every_argument() -> None:
    """A command is a public function of the command modules that the pipeline can run: it
    takes the batch first, the actor and the business date, and values only (helpers that
    take aggregates, such as ``after_invoice_change``, are not commands)."""
    commands = [function for module in (receivables, promises, casework, emails)
                for name, function in vars(module).items()
                if inspect.isfunction(function) and function.__module__ == module.__name__
                and not name.startswith("_")
                and list(inspect.signature(function).parameters)[:1] == ["batch"]
                and {"actor", "business_date"} <= set(inspect.signature(function).parameters)
                and not _takes_an_aggregate(function)]
    assert len(commands) >= 40
    assert [c.__name__ for c in commands if not hasattr(c, "__wrapped__")] == []


def test_a_command_with_an_argument_no_rule_covers_cannot_be_defined() -> None:
    with pytest.raises(TypeError, match="no value rule for nickname"):
        @values.checked
        def rename(batch: Batch, *, nickname: str, actor: str, business_date: date) -> None:
            pass


def test_a_refused_argument_leaves_the_batch_untouched(app: Collections) -> None:
    """Checked before the command loads anything: even the customer's absence is not news."""
    batch = Batch(app.repository, TIGHTLY)
    when = {"actor": "erp", "business_date": TODAY}
    with pytest.raises(ValidationError, match="^customer number is 6 characters long"):
        receivables.post_invoice(batch, customer_number="C-1234", document_number="I-1",
                                 amount=Decimal("1.00"), currency="EUR", posting_date=TODAY,
                                 due_date=TODAY, source_id="i1", **when)
    with pytest.raises(ValidationError, match="^allocations 2: amount 0.001 has more"):
        receivables.apply_payment(batch, source_id="p1", customer_number="C-1",
                                  allocations=[("I-1", Decimal("1.00")),
                                               ("I-2", Decimal("0.001"))],
                                  unapplied=None, currency="EUR", payment_date=TODAY, **when)
    with pytest.raises(ValidationError, match="^business date 0001-01-01 is outside"):
        receivables.clear_invoice(batch, source_id="c1", invoice_number="I-1", actor="erp",
                                  business_date=date(1, 1, 1))
    assert batch.aggregates == {}


def test_instalments_are_promised_dates_and_amounts_too(app: Collections) -> None:
    batch = Batch(app.repository, TIGHTLY)
    with pytest.raises(ValidationError, match="^instalments 2: due date 2027-01-01 is more"):
        promises.record_promise(
            batch, invoice_id=uuid.uuid4(),
            amount=Decimal("20.00"), promised_date=date(2026, 12, 1),
            instalments=[(date(2026, 11, 30), Decimal("10.00")),
                         (date(2027, 1, 1), Decimal("10.00"))],
            actor="alice", business_date=TODAY)


# -- the ERP import --------------------------------------------------------------------------
def _line(**fields: Any) -> str:
    return json.dumps(fields) + "\n"


def test_feed_lines_the_rules_refuse_are_bad_lines_with_the_reason(app: Collections) -> None:
    customer = {"kind": "customer", "source_id": "CUS-1", "number": "C1", "name": "Customer 1",
                "segment": "SME", "risk_class": "B", "credit_limit": "5000.00",
                "currency": "EUR"}
    invoice = {"kind": "invoice", "source_id": "I1", "customer": "C1", "document_number": "I1",
               "amount": "100.00", "currency": "EUR", "posting_date": "2026-09-01",
               "due_date": "2026-10-01"}
    text = "".join([
        _line(**customer),                                                        # 1
        _line(**{**invoice, "amount": "100.005"}),                                # 2
        _line(**{**customer, "source_id": "CUS-2", "number": "C2",
                 "name": "Nul\x00 GmbH"}),                                        # 3
        _line(**{**customer, "source_id": "CUS-3", "number": "C3",
                 "name": "N" * 201}),                                             # 4
        _line(**{**invoice, "source_id": "I2", "document_number": "I" * 16_000}),  # 5
        _line(**{**invoice, "source_id": "I3", "document_number": "I3",
                 "posting_date": "0001-01-01"}),                                  # 6
        _line(**{**invoice, "source_id": "I4", "document_number": "I4",
                 "amount": "1000000000000.00"}),                                  # 7
        _line(**{**invoice, "source_id": "I5", "document_number": "I5",
                 "amount": "999999999999.99"}),                                   # 8
    ])
    result = Importer(app, today=TODAY).run(read_records(text, "jsonl"))
    reasons = {bad.line: bad.reason for bad in result.rejected}
    assert reasons == {
        2: "field 'amount' 100.005 has more than two decimal places",
        3: "name must not contain control characters; found U+0000 at character 4",
        4: "name is 201 characters long; at most 200 are allowed",
        5: "document number is 16,000 characters long; at most 100 are allowed",
        6: "field 'posting_date' 0001-01-01 is outside the dates accepted, 1900-01-01 to "
           "2199-12-31",
        7: "field 'amount' 1000000000000.00 is beyond the largest amount accepted, "
           "999,999,999,999.99",
    }
    assert result.applied == 2


def test_the_fast_path_for_plain_amounts_stays_within_the_largest_amount() -> None:
    record = parse_record({"kind": "payment", "source_id": "P1", "customer": "C1",
                           "amount": "999999999999.99", "currency": "EUR",
                           "date": "2026-10-10"}, 1)
    assert record.amount == Decimal("999999999999.99")  # type: ignore[union-attr]
    bad = parse_record({"kind": "payment", "source_id": "P2", "customer": "C1",
                        "amount": "9999999999999.99", "currency": "EUR",
                        "date": "2026-10-10"}, 2)
    assert "beyond the largest amount" in bad.reason  # type: ignore[union-attr]


def test_a_csv_row_with_a_nul_is_a_bad_line_and_the_next_row_goes_in(app: Collections) -> None:
    text = ("kind,source_id,number,name,segment,risk_class,credit_limit,currency\n"
            "customer,C1,C1,Nul\x00 Co,SME,B,10.00,EUR\n"
            "customer,C2,C2,Plain Co,SME,B,10.00,EUR\n")
    result = Importer(app, today=TODAY).run(read_records(text, "csv"))
    assert [(bad.line, bad.reason) for bad in result.rejected] == [
        (2, "name must not contain control characters; found U+0000 at character 4")]
    assert result.applied == 1
