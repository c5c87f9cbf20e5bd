"""The worklist's writer: per customer, the facts a collection strategy scores, kept from the
events (the readers are ``ranked_pages`` and ``amounts_to_collect``).

The model keeps its own rows per customer, open invoice, dispute case and follow-up (it never
reads another model's tables: each model is rebuilt on its own). A page of events is folded in
memory (``event_fold``) over the rows it touches (one load per table), written back with one
upsert per table, and then the per-customer figures the ranking reads are recomputed in one
statement for the customers the page touched (``customer_figures``; while the model is built
from zero, once for every customer after the last page).

Casework recorded on a customer on a business day — a contact, a promise made or withdrawn, a
dispute opened or annotated, a follow-up set, moved or completed, a note, an email — marks the
customer "processed" on that day, with who did it.

The day's rankings are kept in step here too (``day_rankings.rescore``, in the page's
transaction), and built by the follower's upkeep when the day turns or the active strategies
change (``day_rankings.keep_rankings_current``): readers never write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any
from uuid import UUID

import psycopg

from ledger_collect.domain.contact import CustomerContact
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.promise import PromiseToPay
from ledger_collect.domain.resubmission import Resubmission
from ledger_collect.projections import Projection, in_order, load, upsert
from ledger_collect.projections.rows import names
from ledger_collect.projections.worklist import event_fold
from ledger_collect.projections.worklist.customer_figures import recompute
from ledger_collect.projections.worklist.day_rankings import keep_rankings_current, rescore
from ledger_collect.projections.worklist.strategy_rules import Strategy, UnknownStrategyError
from ledger_collect.projections.worklist.strategy_versions import STRATEGIES_CHANGED

CUSTOMER_COLUMNS = (
    ("id", "uuid"), ("number", "key"), ("name", "text"), ("segment", "key"),
    ("currency", "text"), ("risk_class", "text"), ("specialist", "key"),
    ("broken_promises", "date[]"))
ITEM_COLUMNS = (
    ("id", "uuid"), ("customer_id", "uuid"), ("document_number", "text"), ("currency", "text"),
    ("due_date", "date"), ("open_amount", "numeric"), ("dunning_level", "int"),
    ("last_dunned_on", "date"), ("promise_id", "uuid"), ("promised", "numeric"))
DISPUTE_COLUMNS = (
    ("id", "uuid"), ("customer_id", "uuid"), ("invoice_ids", "uuid[]"), ("currency", "text"),
    ("amount", "numeric"), ("active", "bool"))
FOLLOW_UP_COLUMNS = (
    ("id", "uuid"), ("customer_id", "uuid"), ("invoice_ids", "uuid[]"),
    ("follow_up_date", "date"), ("open", "bool"))
#: The tables a page writes back with one upsert each, by the name ``PageRows`` files them by.
_COLUMNS = {"customers": CUSTOMER_COLUMNS, "items": ITEM_COLUMNS,
            "disputes": DISPUTE_COLUMNS, "follow_ups": FOLLOW_UP_COLUMNS}


class Worklist(Projection):
    name = "worklist"
    tables = ("worklist_customers", "worklist_items", "worklist_disputes",
              "worklist_follow_ups", "worklist_processed", "worklist_snapshots",
              "worklist_scores")
    #: The day's rankings: a cache, not part of what a rebuild must equal.
    caches = ("worklist_snapshots", "worklist_scores")
    handles = (
        Customer.Registered, Customer.MasterDataChanged, Customer.Assigned,
        Customer.Unassigned, Customer.NoteAdded,
        Invoice.Posted, Invoice.PaymentApplied, Invoice.CreditMemoApplied,
        Invoice.PaymentReversed, Invoice.Cleared, Invoice.WrittenOff,
        Invoice.DunningLevelRaised,
        PromiseToPay.Issued, PromiseToPay.PaymentCounted, PromiseToPay.PaymentUncounted,
        PromiseToPay.Withdrawn, PromiseToPay.Closed, PromiseToPay.Valued,
        DisputeCase.Opened, DisputeCase.ProgressRecorded, DisputeCase.SettledOnInvoice,
        DisputeCase.Resolved, DisputeCase.Closed, DisputeCase.NoteAdded,
        Resubmission.Created, Resubmission.Moved, Resubmission.Completed,
        CustomerContact.Recorded, CollectionEmail.Created)
    #: A collection strategy published or activated: the day is ranked again at once.
    upkeep_channels = (STRATEGIES_CHANGED,)

    def __init__(self, today: Callable[[], date] = date.today) -> None:
        self.strategies: dict[tuple[str, int], Strategy] = {}  # versions never change
        self.today = today  # the business date, as the API's (the server's local date)

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        page = PageRows(conn, events)
        for event in events:
            fold = event_fold.FOLD.get(type(event))
            if fold is not None:
                fold(page, event)
            if type(event) in event_fold.PROCESSING:
                page.processed_by(event_fold.customer_of(event), event)
        page.write(figures=not self.building)
        rescore(conn, in_order(page.affected | page.changed["customers"]
                               | {customer for customer, _ in page.processed}),
                self.strategies)

    def upkeep(self, conn: psycopg.Connection[Any]) -> None:
        """Rank the business date with the active strategies if that is not done yet (the day
        turned, a strategy was published), and drop the rankings nobody reads any more."""
        try:
            keep_rankings_current(conn, self.today(), known=self.strategies)
        except UnknownStrategyError:
            pass  # nothing to rank with: readers are told to publish a default strategy

    def built(self, conn: psycopg.Connection[Any]) -> None:
        """Every customer's figures, once, instead of after each page of a build (a customer's
        invoices, payments and casework are spread over the whole log)."""
        ids = [row[0] for row in conn.execute("SELECT id FROM worklist_customers ORDER BY id")]
        for start in range(0, len(ids), 5000):
            recompute(conn, ids[start:start + 5000])


class PageRows:
    """The rows one page of events touches, loaded in bulk and written back in bulk."""

    def __init__(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        self.conn = conn
        self.customers = load(conn, "worklist_customers", names(CUSTOMER_COLUMNS), {
            event_fold.customer_of(e) for e in events if type(e) in _CUSTOMER_EVENTS
            and type(e) is not Customer.Registered})
        self.items = load(conn, "worklist_items", names(ITEM_COLUMNS), {
            e.originator_id if type(e) in _INVOICE_EVENTS else e.invoice_id
            for e in events if type(e) in _INVOICE_EVENTS or type(e) in _PROMISE_EVENTS
            if type(e) is not Invoice.Posted})
        self.disputes = load(conn, "worklist_disputes", names(DISPUTE_COLUMNS), {
            e.originator_id for e in events
            if type(e) in _DISPUTE_EVENTS and type(e) is not DisputeCase.Opened})
        self.follow_ups = load(conn, "worklist_follow_ups", names(FOLLOW_UP_COLUMNS), {
            e.originator_id for e in events
            if type(e) in _FOLLOW_UP_EVENTS and type(e) is not Resubmission.Created})
        #: Each table's rows by id, under the name ``changed`` files them by.
        self.rows = {"customers": self.customers, "items": self.items,
                     "disputes": self.disputes, "follow_ups": self.follow_ups}
        self.changed: dict[str, set[UUID]] = {table: set() for table in self.rows}
        self.closed_items: set[UUID] = set()
        self.affected: set[UUID] = set()  # customers whose figures must be recomputed
        self.processed: dict[tuple[UUID, Any], tuple[set[str], int]] = {}

    def created(self, table: str, row: dict[str, Any]) -> None:
        """A new row of ``table``; an invoice's, a dispute's or a follow-up's changes its
        customer's figures."""
        self.rows[table][row["id"]] = row
        self.changed[table].add(row["id"])
        if "customer_id" in row:
            self.affected.add(row["customer_id"])

    def customer(self, customer_id: UUID) -> dict[str, Any] | None:
        row = self.customers.get(customer_id)
        if row is not None:
            self.changed["customers"].add(customer_id)
        return row

    def item(self, invoice_id: UUID) -> dict[str, Any] | None:
        return self._customers_row("items", invoice_id)

    def dispute(self, dispute_id: UUID) -> dict[str, Any] | None:
        return self._customers_row("disputes", dispute_id)

    def follow_up(self, follow_up_id: UUID) -> dict[str, Any] | None:
        return self._customers_row("follow_ups", follow_up_id)

    def _customers_row(self, table: str, row_id: UUID) -> dict[str, Any] | None:
        """A row about to change, if the model has it; its customer's figures change too."""
        row = self.rows[table].get(row_id)
        if row is not None:
            self.changed[table].add(row_id)
            self.affected.add(row["customer_id"])
        return row

    def processed_by(self, customer_id: UUID, event: Any) -> None:
        actors, count = self.processed.get((customer_id, event.business_date), (set(), 0))
        actors.add(event.actor)
        self.processed[(customer_id, event.business_date)] = (actors, count + 1)

    def write(self, *, figures: bool = True) -> None:
        for table, columns in _COLUMNS.items():
            written = self.changed[table] - self.closed_items if table == "items" else (
                self.changed[table])
            rows = self.rows[table]
            upsert(self.conn, f"worklist_{table}", columns,
                   [_values(rows[i], columns) for i in in_order(written)])
        if self.closed_items:
            self.conn.execute("DELETE FROM worklist_items WHERE id = ANY(%s)",
                              (in_order(self.closed_items),))
        if self.processed:
            keys = sorted(self.processed)
            self.conn.execute(_MARK_PROCESSED, (
                [k[0] for k in keys], [k[1] for k in keys],
                ["{" + ",".join(_quoted(a) for a in sorted(self.processed[k][0])) + "}"
                 for k in keys],
                [self.processed[k][1] for k in keys]))
        if self.affected and figures:
            recompute(self.conn, in_order(self.affected))


def _values(row: dict[str, Any], columns: Sequence[tuple[str, str]]) -> tuple[Any, ...]:
    return tuple(row[name] for name, _ in columns)


def _quoted(text: str) -> str:
    """An element of a text array literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_MARK_PROCESSED = """
INSERT INTO worklist_processed AS p (customer_id, day, actors, events)
SELECT u.customer_id, u.day, u.actors::text[], u.events
FROM unnest(%s::uuid[], %s::date[], %s::text[], %s::int[]) AS u(customer_id, day, actors, events)
ON CONFLICT (customer_id, day) DO UPDATE SET
    actors = ARRAY(SELECT DISTINCT a FROM unnest(p.actors || EXCLUDED.actors) AS a ORDER BY a),
    events = p.events + EXCLUDED.events
"""


assert set(event_fold.FOLD) | event_fold.PROCESSING == set(Worklist.handles)
#: Which rows of each table a page's events touch (created rows are not loaded).
_CUSTOMER_EVENTS = frozenset(
    {Customer.Registered, Customer.MasterDataChanged, Customer.Assigned, Customer.Unassigned,
     PromiseToPay.Valued})
_INVOICE_EVENTS = event_fold.of_aggregate(Invoice)
_PROMISE_EVENTS = event_fold.of_aggregate(PromiseToPay)
_DISPUTE_EVENTS = event_fold.of_aggregate(DisputeCase)
_FOLLOW_UP_EVENTS = event_fold.of_aggregate(Resubmission)
