"""The demo feed's invoice density: how many invoices a customer gets follows it (the API
benchmark relies on ~10 per customer), the default stays the feed it always was, and a
density that cannot scale anything is refused before a record is made."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date

import pytest

from ledger_collect.feed.demo import demo_records

AS_OF = date(2026, 11, 23)
CUSTOMERS = 1000


def kinds(**options: float) -> Counter[str]:
    return Counter(r["kind"] for r in demo_records(CUSTOMERS, 9, AS_OF, **options))


def test_the_default_density_is_the_feed_as_it_was():
    default = list(demo_records(60, 4, AS_OF))
    assert list(demo_records(60, 4, AS_OF, invoice_density=1.0)) == default
    counts = kinds()
    assert 5.3 <= counts["invoice"] / CUSTOMERS <= 6.5  # about 5.9 invoices per customer
    assert 13 <= sum(counts.values()) / CUSTOMERS <= 17  # about 15 records per customer


#: Invoices a customer gets on average at density 1, less the one every customer gets anyway:
#: the segments' means (15 key accounts, 3 retail, 5 the others) weighted by their shares.
SCALED_MEAN = 5.35


@pytest.mark.parametrize("density", [0.5, 1.9, 3.0])
def test_invoices_per_customer_follow_the_density(density):
    base, scaled = kinds(), kinds(invoice_density=density)
    assert scaled["customer"] == base["customer"] == CUSTOMERS
    assert scaled["contact"] == pytest.approx(base["contact"], rel=0.08)  # master data as is
    per_customer = scaled["invoice"] / CUSTOMERS
    assert per_customer == pytest.approx(0.5 + SCALED_MEAN * density, rel=0.08)
    # the documents that follow invoices scale with them
    assert scaled["payment"] / base["payment"] == pytest.approx(
        scaled["invoice"] / base["invoice"], rel=0.1)


def test_the_benchmark_density_gives_ten_invoices_per_customer():
    assert kinds(invoice_density=1.9)["invoice"] >= 10 * CUSTOMERS


@pytest.mark.parametrize("density", [0, -1.0, math.nan, math.inf])
def test_a_density_that_scales_nothing_is_refused(density):
    with pytest.raises(ValueError, match="invoice density must be a number above 0"):
        demo_records(10, 1, AS_OF, invoice_density=density)
