"""The supervisor's reports over HTTP: the aging report (portfolio, segment, currency, own
buckets, top and oldest balances, what it costs in SQL) and the projection status."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from api.helpers import TODAY, Api
from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import (
    clear_invoice,
    post_invoice,
    register_customer,
)
from ledger_collect.projections.engine import catch_up, status

D = Decimal
WHO = {"actor": "erp", "business_date": TODAY}

REPORT = """
query ($asOf: Date, $segment: String, $currency: String, $buckets: [AgingBucketInput!],
       $top: Int! = 20) {
  agingReport(asOf: $asOf, segment: $segment, currency: $currency, buckets: $buckets,
              top: $top) {
    asOf segment currency buckets
    rows { currency total cells { bucket amount items } }
    topBalances { customer { number } currency openAmount overdueAmount items daysOverdue }
    oldestBalances { customer { number } oldestDueDate daysOverdue }
  }
}"""
STATUS = "{ projectionStatus { name position head lag state } }"


def days(n: int) -> Any:
    return TODAY + timedelta(days=n)


class Book:
    """Customers and their invoices, written through the application's own commands."""

    def __init__(self, app: Collections) -> None:
        self.app = app

    def customer(self, number: str, segment: str) -> None:
        self.app.run(register_customer, number=number, name=f"Customer {number}", segment=segment,
                     credit_limit=D("10000"), currency="EUR", risk_class="B",
                     source_id=f"reg-{number}", **WHO)

    def invoice(self, number: str, doc: str, amount: str, due: int, currency: str = "EUR") -> None:
        self.app.run(post_invoice, customer_number=number, document_number=doc, amount=D(amount),
                     currency=currency, posting_date=days(min(due, 0) - 30),
                     due_date=days(due), source_id=f"inv-{doc}", **WHO)


@pytest.fixture
def book(app: Collections) -> Book:
    """N-1 (north): 100.00 due today, 200.00 one day overdue, 300.00 30 days, 400.00 31 days;
    N-2 (north): 5,000.00 121 days overdue, 50.00 USD 120 days; S-1 (south): 700.00 61 days,
    a cleared 900.00 (not open: not counted)."""
    book = Book(app)
    for number, segment in (("N-1", "north"), ("N-2", "north"), ("S-1", "south")):
        book.customer(number, segment)
    for number, doc, amount, due in (("N-1", "A0", "100.00", 0), ("N-1", "A1", "200.00", -1),
                                     ("N-1", "A30", "300.00", -30), ("N-1", "A31", "400.00", -31),
                                     ("N-2", "B121", "5000.00", -121),
                                     ("S-1", "C61", "700.00", -61), ("S-1", "C9", "900.00", -9)):
        book.invoice(number, doc, amount, due)
    book.invoice("N-2", "B120", "50.00", -120, currency="USD")
    app.run(clear_invoice, source_id="clr-C9", invoice_number="C9", **WHO)
    catch_up(app, ["open_items", "customers"])
    return book


def cells(row: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(c["bucket"], c["amount"], c["items"]) for c in row["cells"]]


def test_the_portfolio_is_aged_per_currency_with_every_bucket_edge(api: Api, book: Book) -> None:
    report = api.data(REPORT, user="sue")["agingReport"]
    assert report["asOf"] == TODAY.isoformat() and report["segment"] is None
    assert report["buckets"] == ["not due", "1-30", "31-60", "61-90", "91-120", "over 120"]
    eur, usd = report["rows"]
    assert (eur["currency"], eur["total"], usd["currency"], usd["total"]) == (
        "EUR", "6700.00", "USD", "50.00")
    # due today: not due; 1 and 30 days: 1-30; 31: 31-60; 61: 61-90; 121: over 120
    assert cells(eur) == [("not due", "100.00", 1), ("1-30", "500.00", 2),
                          ("31-60", "400.00", 1), ("61-90", "700.00", 1),
                          ("91-120", "0.00", 0), ("over 120", "5000.00", 1)]
    assert cells(usd)[4:] == [("91-120", "50.00", 1), ("over 120", "0.00", 0)]
    # a day later, the 120-day USD item crosses into the last bucket
    later = api.data(REPORT, {"asOf": days(1).isoformat(), "currency": "USD"})["agingReport"]
    assert [r["currency"] for r in later["rows"]] == ["USD"]
    assert cells(later["rows"][0])[4:] == [("91-120", "0.00", 0), ("over 120", "50.00", 1)]


def test_a_segment_and_its_balances(api: Api, book: Book) -> None:
    south = api.data(REPORT, {"segment": "south"}, user="audrey")["agingReport"]
    assert [(r["currency"], r["total"]) for r in south["rows"]] == [("EUR", "700.00")]
    assert [b["customer"]["number"] for b in south["topBalances"]] == ["S-1"]
    north = api.data(REPORT, {"segment": "north", "currency": "EUR"})["agingReport"]
    assert [(b["customer"]["number"], b["openAmount"], b["overdueAmount"], b["items"])
            for b in north["topBalances"]] == [("N-2", "5000.00", "5000.00", 1),
                                               ("N-1", "1000.00", "900.00", 4)]
    assert [(b["customer"]["number"], b["daysOverdue"]) for b in north["oldestBalances"]] == [
        ("N-2", 121), ("N-1", 31)]
    top = api.data(REPORT, {"top": 1})["agingReport"]["topBalances"]
    assert [(b["customer"]["number"], b["currency"]) for b in top] == [("N-2", "EUR")]
    assert api.data(REPORT, {"segment": "nowhere"})["agingReport"]["rows"] == []


def test_own_buckets_and_bad_ones(api: Api, book: Book) -> None:
    buckets = [{"label": "current", "lastDay": 30}, {"label": "31-120", "firstDay": 31,
                                                     "lastDay": 120},
               {"label": "older", "firstDay": 121}]
    report = api.data(REPORT, {"buckets": buckets, "currency": "EUR"})["agingReport"]
    assert cells(report["rows"][0]) == [("current", "600.00", 3), ("31-120", "1100.00", 2),
                                        ("older", "5000.00", 1)]
    overlapping = [{"label": "a", "lastDay": 30}, {"label": "b", "firstDay": 30}]
    for variables, message in (({"buckets": overlapping}, "overlap: day 30 falls in both"),
                               ({"buckets": []}, "at least one bucket"),
                               ({"top": 0}, "top must be between 1 and 100, got 0"),
                               ({"top": 101}, "top must be between 1 and 100, got 101")):
        errors = api.errors(REPORT, variables)
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert message in errors[0]["message"]


def test_the_report_costs_four_queries_whatever_the_portfolio(
        api: Api, app: Collections, book: Book, sql_queries: list[str]) -> None:
    api.data(REPORT)
    few = len(sql_queries)
    for n in range(30):
        book.customer(f"X-{n}", "north")
        book.invoice(f"X-{n}", f"X-{n}-1", f"{n + 1}.00", -n * 5)
    catch_up(app, ["open_items", "customers"])
    sql_queries.clear()
    report = api.data(REPORT)["agingReport"]
    assert len(report["topBalances"]) == 20
    assert len(sql_queries) == few == 4, sql_queries  # grid, two lists, their customers


def test_projection_status_follows_the_store(api: Api, app: Collections, book: Book) -> None:
    def states() -> dict[str, tuple[int, int, int, str]]:
        found = api.data(STATUS, user="erp")["projectionStatus"]
        return {s["name"]: (s["position"], s["head"], s["lag"], s["state"]) for s in found}

    def cli() -> dict[str, tuple[int, int, int, str]]:
        return {s.name: (s.position, s.head, s.lag, s.state) for s in status(app)}

    before = states()
    assert before == cli()
    head = before["open_items"][1]
    assert before["open_items"] == (head, head, 0, "current")  # caught up by the fixture
    assert before["timeline"] == (0, head, head, "not built") and head > 9
    catch_up(app)
    assert {s for *_, s in states().values()} == {"current"}
    book.invoice("S-1", "C1", "10.00", -1)
    after = states()
    assert after["open_items"] == (head, head + 1, 1, "behind")
    assert after == cli()
