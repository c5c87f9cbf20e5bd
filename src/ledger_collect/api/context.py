"""What every resolver can reach, made fresh for each request.

Loaders live here and nowhere else: a DataLoader caches what it loaded, so one shared between
requests would serve one user's data to another and never see new events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar
from uuid import UUID

import strawberry
from strawberry.dataloader import DataLoader

from ledger_collect.api.permissions import User
from ledger_collect.projections import (
    casework,
    correspondence,
    customers,
    disputes,
    open_items,
    timeline,
)
from ledger_collect.projections.rows import Part, fetch_parts
from ledger_collect.speedups import LOADERS, Speedups
from ledger_collect.speedups.loaders import forget_batch

if TYPE_CHECKING:
    import asyncpg
    from starlette.requests import Request
    from starlette.responses import Response

    from ledger_collect.commands.application import Collections
    from ledger_collect.config import Settings
    from ledger_collect.projections.waiting import ReadModelWatch


OverviewKey: TypeAlias = tuple[UUID, frozenset[str], timeline.TimelineWindow | None]


@dataclass
class Loaders:
    """Per-request batch loaders, named ``<things>_by_<key>``: each costs one query per batch
    of keys, whatever the number of resolvers asking."""

    customers_by_id: DataLoader[UUID, customers.CustomerRecord | None]
    branches_by_customer: DataLoader[UUID, list[customers.CustomerRecord]]
    contact_persons_by_customer: DataLoader[UUID, list[customers.ContactPersonRecord]]
    notes_by_customer: DataLoader[UUID, list[customers.NoteRecord]]
    promises_by_customer: DataLoader[UUID, list[casework.PromiseRecord]]
    resubmissions_by_customer: DataLoader[UUID, list[casework.ResubmissionRecord]]
    activities_by_customer: DataLoader[UUID, list[casework.ActivityRecord]]
    disputes_by_customer: DataLoader[UUID, list[disputes.DisputeRecord]]
    dispute_notes_by_dispute: DataLoader[UUID, list[disputes.DisputeNoteRecord]]
    emails_by_customer: DataLoader[UUID, list[correspondence.EmailRecord]]
    customer_contacts_by_customer: DataLoader[
        UUID, list[correspondence.CustomerContactRecord]]
    #: Keyed by (customer, which part of the timeline): one query per distinct part asked for.
    timeline_by_customer: DataLoader[tuple[UUID, timeline.TimelineWindow], timeline.TimelinePage]
    open_items_by_customer: DataLoader[UUID, list[open_items.OpenItem]]
    credits_by_customer: DataLoader[UUID, list[open_items.Credit]]
    #: Keyed by (customer, names of ``OVERVIEW_PARTS``, a timeline window or None): those parts
    #: of every overview asked for, and the first page of the timeline in that window, read in
    #: one statement and primed into the loaders above (so the overview's fields find them).
    overview_parts: DataLoader[OverviewKey, None] = field(init=False)

    def _prime(self, found: dict[str, dict[UUID, list[Any]]]) -> None:
        for name, by_key in found.items():
            if name == "customers_by_id":
                self.customers_by_id.prime_many(customers.only(by_key))
            elif name == "head_offices":  # rows of other customers: prime those found only
                self.customers_by_id.prime_many({key: records[0] for key, records
                                                 in by_key.items() if records})
            else:
                getattr(self, name).prime_many(by_key)

    def release(self, speedups: Speedups) -> None:
        """Drop what the loaders hold once the request is answered. They and their load
        functions refer to each other (a reference cycle), so without this every row a request
        read would wait for the cyclic garbage collector."""
        forget = speedups.on(LOADERS)
        for loader in vars(self).values():
            loader.clear_all()
            if forget:
                forget_batch(loader)  # its futures hold the last batch's rows too

    @classmethod
    def for_request(cls, collections: Collections, pool: asyncpg.Pool | None) -> Loaders:
        def batched(read: Callable[[Any, Sequence[UUID]], Awaitable[dict[UUID, Any]]]) -> Any:
            async def load(keys: Sequence[UUID]) -> list[Any]:
                found = await read(pool, keys)
                return [found[key] for key in keys]
            return DataLoader(load_fn=load)

        async def timelines(keys: Sequence[tuple[UUID, timeline.TimelineWindow]]) -> list[Any]:
            return await timeline.load_timelines(pool, keys)

        async def overviews(keys: Sequence[OverviewKey]) -> list[None]:
            names = sorted(set().union(*(parts for _, parts, _ in keys)))
            parts = {name: OVERVIEW_PARTS[name] for name in names}
            windows = sorted({w for _, _, w in keys if w is not None}, key=repr)
            parts.update((f"timeline_{n}", timeline.window_part(w)) for n, w in enumerate(windows))
            customer_ids = list(dict.fromkeys(customer_id for customer_id, _, _ in keys))
            found = await fetch_parts(pool, parts, customer_ids)
            for n, window in enumerate(windows):
                rows = [row for rows in found.pop(f"timeline_{n}").values() for row in rows]
                loaders.timeline_by_customer.prime_many({
                    (c, window): page
                    for c, page in timeline.pages_of(rows, customer_ids, window).items()})
            loaders._prime(found)
            return [None] * len(keys)

        loaders = cls(timeline_by_customer=DataLoader(load_fn=timelines),
                   **{name: batched(read) for name, read in (
            ("customers_by_id", customers.customers_by_id),
            ("branches_by_customer", customers.branches_by_customer),
            ("contact_persons_by_customer", customers.contact_persons_by_customer),
            ("notes_by_customer", customers.notes_by_customer),
            ("promises_by_customer", casework.promises_by_customer),
            ("resubmissions_by_customer", casework.resubmissions_by_customer),
            ("activities_by_customer", casework.activities_by_customer),
            ("disputes_by_customer", disputes.disputes_by_customer),
            ("dispute_notes_by_dispute", disputes.dispute_notes_by_dispute),
            ("emails_by_customer", correspondence.emails_by_customer),
            ("customer_contacts_by_customer", correspondence.customer_contacts_by_customer),
            ("open_items_by_customer", open_items.open_items_by_customer),
            ("credits_by_customer", open_items.credits_by_customer))})
        loaders.overview_parts = DataLoader(load_fn=overviews)
        return loaders


#: What ``customerOverview`` may read in one statement, by the loader each part fills
#: (``head_offices``: the customers' head offices, into ``customers_by_id``, only those found,
#: so it never marks an asked-for customer as unknown, whatever the order of priming).
OVERVIEW_PARTS: dict[str, Part[Any]] = {
    "customers_by_id": customers.CUSTOMERS,
    "head_offices": customers.HEAD_OFFICES,
    "branches_by_customer": customers.BRANCHES,
    "contact_persons_by_customer": customers.CONTACT_PERSONS,
    "notes_by_customer": customers.NOTES,
    "promises_by_customer": casework.PROMISES,
    "resubmissions_by_customer": casework.RESUBMISSIONS,
    "activities_by_customer": casework.ACTIVITIES,
    "disputes_by_customer": disputes.DISPUTES,
    "emails_by_customer": correspondence.EMAILS,
    "customer_contacts_by_customer": correspondence.CONVERSATIONS,
    "open_items_by_customer": open_items.OPEN_ITEMS,
    "credits_by_customer": open_items.CREDITS,
}


@dataclass
class Context:
    user: User
    collections: Collections
    settings: Settings
    business_date: date  # today, for this request: the business date of its commands
    loaders: Loaders
    pool: asyncpg.Pool | None = None  # read models (asyncpg); None only in schema-level tests
    request: Request | None = None
    response: Response | None = None
    read_models: ReadModelWatch | None = None  # where the models stand (mutations wait on it)


Info: TypeAlias = strawberry.Info[Context, None]

K = TypeVar("K")
T = TypeVar("T")
R = TypeVar("R")


def loaded(loader: DataLoader[K, T], key: K, make: Callable[[T], R]) -> R | Awaitable[R]:
    """``make`` of what the loader has for ``key``: at once when the loader holds it already
    (``customerOverview`` primes its lists), else once loaded. A resolver answering at once
    spares graphql-core a task and the event loop its rounds."""
    future = loader.cache_map.get(key)
    if future is not None and future.done() and not future.cancelled() \
            and future.exception() is None:
        return make(future.result())

    async def later() -> R:
        return make(await loader.load(key))

    return later()
