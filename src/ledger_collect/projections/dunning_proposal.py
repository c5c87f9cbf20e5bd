"""The dunning proposal for a business date: which customer gets which letter, at which level,
for which items, with what fee and interest. Read from the read models, decided by
``domain.dunning_rules``; nothing is recorded (``jobs`` issue the letters).

What never gets a letter (kept out in SQL): items not open or with nothing open; items under
an unconfirmed promise (open, in process) or of an open dispute (open, in process); items or
customers under a dunning block holding on the date; items already in a letter awaiting
delivery; items with a collection agency; items due later than the longest reminder window;
customers without a procedure. Then, per customer (``letters_for``): items not yet due past
their level's days overdue and grace, letters under the minimum amount, and customers
contacted or written to within the quiet days.

The candidate items are read a chunk of customers at a time, ordered by customer; the last
contact and the dunning address are read for the customers that get a letter, in chunks too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain.base import DomainError, email_address
from ledger_collect.domain.dunning_block import DUNNING_ROLE
from ledger_collect.domain.dunning_procedure import DunningProcedure
from ledger_collect.domain.dunning_rules import Candidate, Letter, is_quiet, letters_for
from ledger_collect.projections.dunning import DEFAULT
from ledger_collect.projections.forgetting import not_erased

#: Customers whose candidate items, or contacts, are read per query.
CHUNK = 5000

_CANDIDATES = """
SELECT oi.customer_id, c.number, c.segment, cp.code, oi.id, oi.document_number, oi.currency,
       oi.open_amount, oi.due_date,
       greatest(oi.dunning_level, coalesce(di.letter_level, 0)),
       greatest(oi.last_dunned_on, di.letter_on),
       di.reminded_on IS NOT NULL
FROM open_items oi
JOIN customers c ON c.id = oi.customer_id
LEFT JOIN dunning_items di ON di.invoice_id = oi.id
LEFT JOIN dunning_customer_procedures cp ON cp.customer_id = oi.customer_id
WHERE oi.customer_id = ANY(%(customers)s)
  AND oi.status = 'open' AND oi.open_amount > 0 AND oi.due_date <= %(horizon)s
  AND oi.open_disputes = 0
  AND coalesce(oi.promise_status, '') NOT IN ('open', 'in_process')
  AND di.pending_letter_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM dunning_blocks b WHERE b.id IN (oi.id, oi.customer_id)
                  AND coalesce(b.blocked_until, %(on)s) >= %(on)s)
  AND NOT EXISTS (SELECT 1 FROM agency_items ai WHERE ai.invoice_id = oi.id
                  AND ai.status = 'submitted')
ORDER BY oi.customer_id, oi.due_date, oi.document_number
"""

#: The customers to read, in chunks of ``CHUNK``: their candidates are read a chunk at a time.
_CUSTOMERS = "SELECT id FROM customers {segment} ORDER BY id"

_CONTACTS = f"""
SELECT c.id,
       greatest((SELECT max(k.contact_date) FROM customer_contacts k WHERE k.customer_id = c.id),
                (SELECT max(e.status_on) FROM collection_emails e WHERE e.customer_id = c.id
                 AND e.status IN ('sent', 'partly_sent'))),
       (SELECT p.email FROM contact_persons p WHERE p.customer_id = c.id
        AND p.removed_on IS NULL
        ORDER BY lower(coalesce(p.role, '')) = '{DUNNING_ROLE}' DESC,
                 p.contact_id = c.default_contact_id DESC NULLS LAST, p.ordinal LIMIT 1)
FROM customers c WHERE c.id = ANY(%s)
"""


@dataclass(frozen=True)
class ProposedLetter:
    letter: Letter
    customer_number: str
    has_address: bool


@dataclass
class Proposal:
    business_date: date
    segment: str | None
    letters: list[ProposedLetter] = field(default_factory=list)
    customers: int = 0  # customers with at least one candidate item
    quiet: int = 0  # customers held back by their quiet days
    no_procedure: int = 0  # customers with candidate items but no procedure

    @property
    def no_address(self) -> int:
        return sum(1 for proposed in self.letters if not proposed.has_address)


@dataclass(frozen=True)
class Setup:
    procedures: dict[str, DunningProcedure]
    assigned: dict[str, str]  # segment ('' the default) -> code

    def applying(self, own: str | None, segment: str) -> DunningProcedure | None:
        for code in (own, self.assigned.get(segment), self.assigned.get(DEFAULT)):
            if code is not None and code in self.procedures:
                return self.procedures[code]
        return None

    @property
    def reminder_horizon(self) -> int:
        return max((p.reminder_days or 0 for p in self.procedures.values()), default=0)


def read_setup(conn: psycopg.Connection[Any]) -> Setup:
    procedures = {code: DunningProcedure.of_data(_json(definition)) for code, definition in
                  conn.execute("SELECT code, definition FROM dunning_procedures")}
    assigned = dict(conn.execute("SELECT segment, code FROM dunning_assignments").fetchall())
    return Setup(procedures, assigned)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def propose(conn: psycopg.Connection[Any], business_date: date,
            segment: str | None = None) -> Proposal:
    """The letters of ``business_date`` (for one segment's customers, or all), read in one
    transaction (the candidates' cursor lives in it)."""
    with conn.transaction():
        return _propose(conn, business_date, segment)


def _propose(conn: psycopg.Connection[Any], business_date: date,
             segment: str | None) -> Proposal:
    setup = read_setup(conn)
    proposal = Proposal(business_date, segment)
    if not setup.procedures:
        return proposal
    drafted: list[tuple[Letter, str]] = []
    for (customer_id, number, own_segment, own), items in _customers(conn, setup, business_date,
                                                                      segment):
        proposal.customers += 1
        procedure = setup.applying(own, own_segment)
        if procedure is None:
            proposal.no_procedure += 1
            continue
        drafted.extend((letter, number) for letter in
                       letters_for(customer_id, procedure, items, business_date))
    contacts = _contacts(conn, sorted({letter.customer_id for letter, _ in drafted},
                                      key=lambda i: i.int))
    held: set[UUID] = set()
    for letter, number in drafted:
        last_contact, address = contacts.get(letter.customer_id, (None, None))
        if is_quiet(setup.procedures[letter.procedure], last_contact, business_date):
            held.add(letter.customer_id)
            continue
        proposal.letters.append(ProposedLetter(letter, number, _usable(address)))
    proposal.quiet = len(held)
    proposal.letters.sort(key=lambda p: (p.customer_number, p.letter.key))
    return proposal


def _customers(conn: psycopg.Connection[Any], setup: Setup, on: date, segment: str | None,
               ) -> Iterator[tuple[tuple[UUID, str, str, str | None], list[Candidate]]]:
    """The candidate items of each customer, one customer at a time, read for ``CHUNK``
    customers per query (bounded memory, and a plan by the customers' index)."""
    query = _CANDIDATES
    where = f"WHERE {not_erased('id')}" + (" AND segment = %s" if segment is not None else "")
    customers = [row[0] for row in conn.execute(_CUSTOMERS.format(segment=where),
                                                (segment,) if segment is not None else ())]
    params: dict[str, Any] = {"on": on, "horizon": on + timedelta(days=setup.reminder_horizon)}
    with conn.cursor(binary=True) as cursor:
        for start in range(0, len(customers), CHUNK):
            params["customers"] = customers[start:start + CHUNK]
            rows = cursor.execute(query, params).fetchall()
            for key, group in groupby(rows, key=itemgetter(0, 1, 2, 3)):
                yield key, [Candidate(*row[4:]) for row in group]


def _contacts(conn: psycopg.Connection[Any], customer_ids: list[UUID],
              ) -> dict[UUID, tuple[date | None, str | None]]:
    found: dict[UUID, tuple[date | None, str | None]] = {}
    for start in range(0, len(customer_ids), CHUNK):
        for customer_id, last, address in conn.execute(
                _CONTACTS, (customer_ids[start:start + CHUNK],)):
            found[customer_id] = (last, address)
    return found


def _usable(address: str | None) -> bool:
    if not address:
        return False
    try:
        email_address(address)
    except DomainError:  # erased personal data reads "[erased]"
        return False
    return True
