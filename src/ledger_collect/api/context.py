"""What every resolver can reach, made fresh for each request.

Loaders live here and nowhere else: a DataLoader caches what it loaded, so one shared between
requests would serve one user's data to another and never see new events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar
from uuid import UUID

import strawberry
from strawberry.dataloader import DataLoader

from ledger_collect.api.overview_parts import OverviewKey, read_ahead
from ledger_collect.api.permissions import User
from ledger_collect.projections import (
    casework,
    correspondence,
    customers,
    disputes,
    open_items,
    timeline,
)
from ledger_collect.speedups import LOADERS, Speedups
from ledger_collect.speedups.loaders import forget_batch

if TYPE_CHECKING:
    import asyncpg
    from starlette.requests import Request
    from starlette.responses import Response

    from ledger_collect.commands.application import Collections
    from ledger_collect.config import Settings
    from ledger_collect.projections.waiting import ReadModelWatch


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
    #: Keyed by (customer, parts, a timeline window or None): those parts of every overview
    #: asked for, and the first page of the timeline in that window, read in one statement
    #: into the loaders above, where the overview's fields find them (``overview_parts``).
    overview_parts: DataLoader[OverviewKey, None] = field(init=False)

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
        loaders.overview_parts = DataLoader(load_fn=partial(read_ahead, pool, loaders))
        return loaders


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
