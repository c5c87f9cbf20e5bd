"""A realistic, reproducible ERP feed for the demo, the tests and the benchmark.

Customers (some head offices with branches) in several segments, risk classes and currencies,
each with one to three collection contacts; 18 months of invoices up to the as-of date; payments
that come on time, late, in part, in weekly payment runs covering several invoices, with an
unapplied rest now and then, or on account; credit memos on invoices and on account; bounced
payments reversed and paid again; short payments whose difference the ERP clears; old unpaid
items written off. What stays open falls in every aging bucket (not due, 1-30, 31-60, 61-90,
91-120, over 120 days past due as of the as-of date): the first customer always has one open
item in each bucket.

Same seed, same customer count, same as-of date (and invoice density): same records, same
bytes. Only ``random.Random(seed)`` is used, and nothing that depends on hash order.

``invoice_density`` scales how many invoices a customer gets (about 5.9 each by default, with
the payments, credit memos and clearings that follow them): the API benchmark needs a million
invoices over 100,000 customers without a million customers' worth of master data.
"""

from __future__ import annotations

import math
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

HISTORY_DAYS = 548  # 18 months of invoices
AGING_DUE_OFFSETS = (-10, 15, 45, 75, 105, 150)  # days past due of the first customer's items

SEGMENTS = (("KEY-ACCOUNTS", 3, 8.4), ("SME-NORTH", 10, 7.0), ("SME-SOUTH", 10, 7.0),
            ("SME-EAST", 6, 7.0), ("PUBLIC-SECTOR", 3, 7.8), ("RETAIL", 8, 5.6))
CURRENCIES = (("EUR", 85), ("GBP", 6), ("USD", 5), ("CHF", 4))
RISK = (("A", 20), ("B", 35), ("C", 25), ("D", 13), ("E", 7))
#: risk class -> (mean days late, spread, share never paid)
BEHAVIOUR = {"A": (-3, 4, 0.01), "B": (4, 8, 0.03), "C": (14, 15, 0.06),
             "D": (32, 25, 0.12), "E": (60, 40, 0.25)}
TERMS = (14, 30, 30, 30, 45, 60)
_RANK = {"customer": 0, "contact": 1, "invoice": 2, "credit_memo": 3, "payment": 4,
         "payment_reversal": 5, "clearing": 6, "write_off": 7}

TRADES = ("Boulangerie", "Transports", "Atelier", "Garage", "Pharmacie", "Imprimerie",
          "Menuiserie", "Cabinet", "Laboratoires", "Distribution", "Hôtel", "Brasserie",
          "Électricité", "Plomberie", "Maison", "Agence", "Fromagerie", "Clinique")
NAMES = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
         "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David",
         "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier",
         "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Legrand", "Müller", "Schmidt")
FIRST = ("Jeanne", "Marie", "Camille", "Léa", "Chloé", "Inès", "Sophie", "Claire", "Anne",
         "Lucas", "Hugo", "Louis", "Jules", "Gabriel", "Paul", "Pierre", "Nicolas", "Julien",
         "Émile", "Thomas", "Sarah", "Laura", "Manon", "Antoine", "Hélène", "Mathieu")
CITIES = ("Lyon", "Lille", "Nantes", "Bordeaux", "Rennes", "Dijon", "Metz", "Tours", "Nice",
          "Grenoble", "Reims", "Brest", "Annecy", "Rouen", "Caen", "Nancy")
FORMS = ("SARL", "SAS", "SA", "EURL", "SCOP")
ROLES = ("accounts payable", "finance director", "owner", "bookkeeper", "purchasing")
CENT = Decimal("0.01")


@dataclass
class _Customer:
    number: str
    name: str
    segment: str
    mu: float
    currency: str
    risk: str
    since: date
    head_office: str | None = None
    pays_in_runs: bool = False
    invoices: list[_Invoice] = field(default_factory=list)


@dataclass
class _Invoice:
    number: str
    amount: Decimal
    posting: date
    due: date


class DemoFeed:
    """Generates the records; ``records()`` yields them in feed order (by date)."""

    def __init__(self, customers: int, seed: int, as_of: date, *,
                 invoice_density: float = 1.0) -> None:
        if not 0 < invoice_density < math.inf:
            raise ValueError(f"invoice density must be a number above 0, not {invoice_density!r}")
        self.count = customers
        self.density = invoice_density
        self.seed = seed
        self.as_of = as_of
        self.rng = random.Random(seed)
        self._seq = 0
        self._docs = 0
        self._out: list[tuple[date, int, int, dict[str, Any]]] = []

    # -- plumbing ----------------------------------------------------------------------------
    def _emit(self, day: date, record: dict[str, Any]) -> None:
        if day <= self.as_of:
            self._seq += 1
            self._out.append((day, _RANK[record["kind"]], self._seq, record))

    def _doc(self, prefix: str) -> str:
        self._docs += 1
        return f"{prefix}{self._docs:08d}"

    def _pick(self, weighted: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
        return self.rng.choices(weighted, weights=[w[1] for w in weighted])[0]

    def _money(self, low: float, high: float) -> Decimal:
        return Decimal(str(self.rng.uniform(low, high))).quantize(CENT)

    def records(self) -> Iterator[dict[str, Any]]:
        customers = self._customers()
        for customer in customers:
            self._register(customer)
        for index, customer in enumerate(customers):
            self._history(customer, first=index == 0)
        self._out.sort(key=lambda item: item[:3])
        for *_, record in self._out:
            yield record

    # -- customers -----------------------------------------------------------------------------
    def _customers(self) -> list[_Customer]:
        rng, start = self.rng, self.as_of - timedelta(days=HISTORY_DAYS)
        made: list[_Customer] = []
        while len(made) < self.count:
            segment, _, mu = self._pick(SEGMENTS)
            head = self._customer(len(made) + 1, segment, mu,
                                  start - timedelta(days=rng.randint(0, 400)))
            made.append(head)
            if len(made) < self.count and rng.random() < 0.08:  # a head office with branches
                for _ in range(rng.randint(1, 4)):
                    if len(made) == self.count:
                        break
                    branch = self._customer(len(made) + 1, segment, mu,
                                            head.since + timedelta(days=rng.randint(0, 200)))
                    branch.name = f"{head.name} – {rng.choice(CITIES)}"
                    branch.currency, branch.head_office = head.currency, head.number
                    made.append(branch)
        return made

    def _customer(self, index: int, segment: str, mu: float, since: date) -> _Customer:
        rng = self.rng
        name = f"{rng.choice(TRADES)} {rng.choice(NAMES)} {rng.choice(FORMS)}"
        return _Customer(number=f"C{index:06d}", name=name, segment=segment, mu=mu,
                         currency=self._pick(CURRENCIES)[0], risk=self._pick(RISK)[0],
                         since=since, pays_in_runs=rng.random() < 0.5)

    def _register(self, c: _Customer) -> None:
        rng = self.rng
        limit = Decimal(round(2.7 ** c.mu * rng.uniform(3, 12), -3)).quantize(CENT)
        self._emit(c.since, {
            "kind": "customer", "source_id": f"CUS-{c.number}-1", "date": c.since.isoformat(),
            "number": c.number, "name": c.name, "head_office": c.head_office,
            "segment": c.segment, "risk_class": c.risk, "credit_limit": str(limit),
            "currency": c.currency})
        for k in range(1, 1 + rng.choice((1, 1, 1, 2, 2, 3))):
            first, last = rng.choice(FIRST), rng.choice(NAMES)
            domain = _ascii(c.name.split()[1]) + f"-{c.number[-4:]}.example"
            self._emit(c.since, {
                "kind": "contact", "source_id": f"CON-{c.number}-{k}",
                "date": c.since.isoformat(), "customer": c.number,
                "contact_id": f"{c.number}-K{k}", "name": f"{first} {last}",
                "email": f"{_ascii(first)}.{_ascii(last)}@{domain}",
                "phone": f"+33 {rng.randint(1, 9)} {rng.randint(10, 99)} {rng.randint(10, 99)} "
                         f"{rng.randint(10, 99)} {rng.randint(10, 99)}",
                "role": rng.choice(ROLES)})

    # -- documents -----------------------------------------------------------------------------
    def _history(self, c: _Customer, *, first: bool) -> None:
        rng = self.rng
        start = max(c.since, self.as_of - timedelta(days=HISTORY_DAYS))
        span = (self.as_of - start).days
        mean = (15 if c.segment == "KEY-ACCOUNTS" else 3 if c.segment == "RETAIL" else 5
                ) * self.density
        runs: dict[date, list[tuple[str, Decimal]]] = {}
        for posting in sorted(start + timedelta(days=rng.randint(0, span))
                              for _ in range(max(1, int(rng.expovariate(1 / mean)) + 1))):
            self._invoice(c, posting, runs)
        if first:  # one open item in each aging bucket, whatever the seed
            for days_past_due in AGING_DUE_OFFSETS:
                due = self.as_of - timedelta(days=days_past_due)
                self._post(c, due - timedelta(days=30), due)
        for day in sorted(runs):
            self._pay(c, day, runs[day])
        if rng.random() < 0.08:  # money on account, not (yet) allocated
            self._pay(c, start + timedelta(days=rng.randint(0, span)), [],
                      rest=self._money(20, 900))
        if rng.random() < 0.10:  # a credit memo on account
            day = start + timedelta(days=rng.randint(0, span))
            self._emit(day, self._credit(c, None, self._money(15, 400), day))

    def _post(self, c: _Customer, posting: date, due: date) -> _Invoice:
        amount = Decimal(str(min(250_000.0, max(12.0, self.rng.lognormvariate(c.mu, 1.0)))))
        invoice = _Invoice(self._doc("INV"), amount.quantize(CENT), posting, due)
        self._emit(posting, {
            "kind": "invoice", "source_id": invoice.number, "customer": c.number,
            "document_number": invoice.number, "amount": str(invoice.amount),
            "currency": c.currency, "posting_date": posting.isoformat(),
            "due_date": due.isoformat()})
        return invoice

    def _invoice(self, c: _Customer, posting: date,
                 runs: dict[date, list[tuple[str, Decimal]]]) -> None:
        rng, as_of = self.rng, self.as_of
        invoice = self._post(c, posting, posting + timedelta(days=rng.choice(TERMS)))
        open_amount, earliest = invoice.amount, posting + timedelta(days=1)
        if rng.random() < 0.06:  # a price dispute settled by a credit memo before the due date
            credit = (open_amount * Decimal(str(rng.uniform(0.05, 0.3)))).quantize(CENT)
            day = posting + timedelta(days=rng.randint(1, max(1, (invoice.due - posting).days)))
            self._emit(day, self._credit(c, invoice.number, credit, day))
            open_amount, earliest = open_amount - credit, day + timedelta(days=1)
        late, spread, never = BEHAVIOUR[c.risk]
        if rng.random() < never:  # never paid: stays open, or written off when old enough
            write_off_day = invoice.due + timedelta(days=rng.randint(150, 300))
            if write_off_day <= as_of and rng.random() < 0.5:
                self._emit(write_off_day, {
                    "kind": "write_off", "source_id": self._doc("WOF"),
                    "invoice": invoice.number, "reason": "uncollectible",
                    "date": write_off_day.isoformat()})
            return
        paid = max(earliest, invoice.due + timedelta(days=round(rng.gauss(late, spread))))
        fate = rng.random()
        if fate < 0.12:  # part now, the rest later (maybe not yet)
            part = (open_amount * Decimal(str(rng.uniform(0.3, 0.7)))).quantize(CENT)
            self._pay(c, paid, [(invoice.number, part)])
            self._pay(c, paid + timedelta(days=rng.randint(10, 60)),
                      [(invoice.number, open_amount - part)])
        elif fate < 0.16:  # short payment; the ERP clears the difference
            short = max(CENT, (open_amount * Decimal(str(rng.uniform(0.005, 0.02)))
                               ).quantize(CENT))
            if short >= open_amount:
                short = Decimal("0.00")
            self._pay(c, paid, [(invoice.number, open_amount - short)])
            day = paid + timedelta(days=rng.randint(1, 20))
            if day <= as_of:
                self._emit(day, {"kind": "clearing", "source_id": self._doc("CLR"),
                                 "invoice": invoice.number, "date": day.isoformat()})
        elif fate < 0.18:  # the payment bounces, is reversed, and is paid again
            bounced = self._pay(c, paid, [(invoice.number, open_amount)])
            day = paid + timedelta(days=rng.randint(3, 15))
            if bounced and day <= as_of:
                self._emit(day, {"kind": "payment_reversal", "source_id": self._doc("REV"),
                                 "invoice": invoice.number, "payment": bounced,
                                 "date": day.isoformat()})
                self._pay(c, day + timedelta(days=rng.randint(5, 40)),
                          [(invoice.number, open_amount)])
        elif c.pays_in_runs:  # joins the customer's weekly payment run (a Friday)
            friday = paid + timedelta(days=(4 - paid.weekday()) % 7)
            if friday <= as_of:
                runs.setdefault(friday, []).append((invoice.number, open_amount))
        else:
            self._pay(c, paid, [(invoice.number, open_amount)])

    def _pay(self, c: _Customer, day: date, allocations: list[tuple[str, Decimal]],
             rest: Decimal | None = None) -> str | None:
        if day > self.as_of:
            return None
        if rest is None and self.rng.random() < 0.04:  # paid a little too much
            rest = self._money(5, 300)
        total = sum((amount for _, amount in allocations), rest or Decimal("0.00"))
        source_id = self._doc("PAY")
        self._emit(day, {
            "kind": "payment", "source_id": source_id, "customer": c.number,
            "amount": str(total), "currency": c.currency, "date": day.isoformat(),
            "allocations": [{"invoice": n, "amount": str(a)} for n, a in allocations]})
        return source_id

    def _credit(self, c: _Customer, invoice: str | None, amount: Decimal,
                day: date) -> dict[str, Any]:
        return {"kind": "credit_memo", "source_id": self._doc("CRM"), "customer": c.number,
                "invoice": invoice, "amount": str(amount), "currency": c.currency,
                "date": day.isoformat()}


def _ascii(text: str) -> str:
    return (unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
            .lower().replace(" ", "-"))


def demo_records(customers: int, seed: int, as_of: date, *,
                 invoice_density: float = 1.0) -> Iterator[dict[str, Any]]:
    """The demo feed's records, in feed order; ``invoice_density`` 2.0: about twice the
    invoices per customer (ValueError unless above 0)."""
    return DemoFeed(customers, seed, as_of, invoice_density=invoice_density).records()
