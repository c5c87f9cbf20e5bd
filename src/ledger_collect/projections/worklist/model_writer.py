"""The worklist's writer: per customer, the facts a collection strategy scores, kept from the
events (the readers are ``ranked_pages`` and ``amounts_to_collect``).

The model keeps its own rows per customer, open invoice, dispute case and follow-up (it never
reads another model's tables: each model is rebuilt on its own; ``model_tables`` declares them).
A page of events is folded in memory (``event_fold``) over the rows it touches, through the
page writer every model uses (``rows.PageRows``: one load and one upsert per table, one delete
for the invoices cleared or written off), and then the per-customer figures the ranking reads
are recomputed in one statement for the customers the page touched (``customer_figures``; while
the model is built from zero, once for every customer after the last page).

The day's generated lists (``DailyWorklist`` events) are written by ``generated_lists``: the
lists read them on a day that has them.

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

from ledger_collect.domain.activity import Activity
from ledger_collect.domain.contact import CustomerContact
from ledger_collect.domain.customer import Customer
from ledger_collect.domain.dispute import DisputeCase
from ledger_collect.domain.email import CollectionEmail
from ledger_collect.domain.invoice import Invoice
from ledger_collect.domain.promise import PromiseToPay
from ledger_collect.domain.resubmission import Resubmission
from ledger_collect.projections import Projection, in_order
from ledger_collect.projections.purged import customers_of
from ledger_collect.projections.worklist import event_fold, marks
from ledger_collect.projections.worklist.customer_figures import recompute
from ledger_collect.projections.worklist.day_rankings import keep_rankings_current, rescore
from ledger_collect.projections.worklist.generated_lists import (
    ENTRY_TABLE,
    LIST_EVENTS,
    LIST_TABLE,
    write_lists,
)
from ledger_collect.projections.worklist.model_tables import (
    ACTIVITY_TABLE,
    CUSTOMER_TABLE,
    DISPUTE_TABLE,
    FOLLOW_UP_TABLE,
    ITEM_TABLE,
    MARK_TABLE,
    PROCESSED_TABLE,
)
from ledger_collect.projections.worklist.strategy_rules import Strategy, UnknownStrategyError
from ledger_collect.projections.worklist.strategy_versions import STRATEGIES_CHANGED


class Worklist(Projection):
    name = "worklist"
    declared = (CUSTOMER_TABLE, ITEM_TABLE, DISPUTE_TABLE, FOLLOW_UP_TABLE, ACTIVITY_TABLE,
                PROCESSED_TABLE, MARK_TABLE, LIST_TABLE, ENTRY_TABLE)
    #: The day's rankings: a cache, not part of what a rebuild must equal.
    caches = ("worklist_snapshots", "worklist_scores")
    stream_rows = (("worklist_items", "id"), ("worklist_disputes", "id"),
                   ("worklist_follow_ups", "id"), ("worklist_activities", "id"),
                   ("worklist_stream_marks", "stream_id"))
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
        Activity.Created, Activity.Rescheduled, Activity.Closed,
        CustomerContact.Recorded, CollectionEmail.Created, *LIST_EVENTS)
    #: A collection strategy published or activated: the day is ranked again at once.
    upkeep_channels = (STRATEGIES_CHANGED,)

    def __init__(self, today: Callable[[], date] = date.today) -> None:
        self.strategies: dict[tuple[str, int], Strategy] = {}  # versions never change
        self.today = today  # the business date, as the API's (the server's local date)

    def apply(self, conn: psycopg.Connection[Any], events: Sequence[Any]) -> None:
        lists = [e for e in events if type(e) in _LISTED]
        if lists:
            write_lists(conn, lists)
            events = [e for e in events if type(e) not in _LISTED]
        page = event_fold.WorklistPage(conn, events)
        for event in events:
            fold = event_fold.FOLD.get(type(event))
            if fold is not None:
                fold(page, event)
            if type(event) in event_fold.PROCESSING:
                page.processed_by(event_fold.customer_of(event), event)
        page.write()
        _mark_processed(conn, page.processed)
        marks.add(conn, page.marks)
        affected = page.affected()
        if affected and not self.building:
            recompute(conn, in_order(affected))
        rescore(conn, in_order(affected | page.customers.changed
                               | {customer for customer, _ in page.processed}),
                self.strategies)

    def upkeep(self, conn: psycopg.Connection[Any]) -> None:
        """Rank the business date with the active strategies if that is not done yet (the day
        turned, a strategy was published), and drop the rankings nobody reads any more."""
        try:
            keep_rankings_current(conn, self.today(), known=self.strategies)
        except UnknownStrategyError:
            pass  # nothing to rank with: readers are told to publish a default strategy

    def purge(self, conn: psycopg.Connection[Any], event: Any) -> None:
        """The figures count what is in the store: computed again for the customers whose
        rows were purged, the processed marks and broken promises summed again from the
        streams left (``marks``)."""
        customers = customers_of(conn, _CUSTOMER_ROWS, event.stream_ids)
        marked = marks.marked(conn, event.stream_ids)
        super().purge(conn, event)
        marks.recount(conn, marked)
        customers = in_order({*customers, *(customer for customer, _ in marked)})
        if customers and not self.building:
            recompute(conn, customers)
            rescore(conn, customers, self.strategies)

    def built(self, conn: psycopg.Connection[Any]) -> None:
        """Every customer's figures, once, instead of after each page of a build (a customer's
        invoices, payments and casework are spread over the whole log)."""
        ids = [row[0] for row in conn.execute("SELECT id FROM worklist_customers ORDER BY id")]
        for start in range(0, len(ids), 5000):
            recompute(conn, ids[start:start + 5000])


def _mark_processed(conn: psycopg.Connection[Any],
                    processed: dict[tuple[UUID, date], tuple[set[str], int]]) -> None:
    """Add a page's casework to the customers' processed marks: the actors of a day are
    merged with those already marked, its events counted on (one statement)."""
    if not processed:
        return
    keys = sorted(processed)
    conn.execute(_MARK_PROCESSED, (
        [k[0] for k in keys], [k[1] for k in keys],
        ["{" + ",".join(marks.quoted(a) for a in sorted(processed[k][0])) + "}" for k in keys],
        [processed[k][1] for k in keys]))


_MARK_PROCESSED = """
INSERT INTO worklist_processed AS p (customer_id, day, actors, events)
SELECT u.customer_id, u.day, u.actors::text[], u.events
FROM unnest(%s::uuid[], %s::date[], %s::text[], %s::int[]) AS u(customer_id, day, actors, events)
ON CONFLICT (customer_id, day) DO UPDATE SET
    actors = ARRAY(SELECT DISTINCT a FROM unnest(p.actors || EXCLUDED.actors) AS a ORDER BY a),
    events = p.events + EXCLUDED.events
"""


_LISTED = frozenset(LIST_EVENTS)
_CUSTOMER_ROWS = ("worklist_items", "worklist_disputes", "worklist_follow_ups",
                  "worklist_activities")
assert set(event_fold.FOLD) | event_fold.PROCESSING | _LISTED == set(Worklist.handles)
