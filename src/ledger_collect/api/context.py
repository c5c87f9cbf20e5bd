"""What every resolver can reach, made fresh for each request.

Loaders live here and nowhere else: a DataLoader caches what it loaded, so one shared between
requests would serve one user's data to another and never see new events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, TypeAlias
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader

from ledger_collect.api.permissions import User
from ledger_collect.domain.customer import Customer

if TYPE_CHECKING:
    import asyncpg
    from starlette.requests import Request
    from starlette.responses import Response

    from ledger_collect.application import Collections
    from ledger_collect.config import Settings


@dataclass
class Loaders:
    """Per-request batch loaders, named ``<things>_by_<key>``."""

    customers_by_id: DataLoader[UUID, Customer | None]

    @classmethod
    def for_request(cls, collections: Collections, pool: asyncpg.Pool | None) -> Loaders:
        async def customers(ids: Sequence[UUID]) -> list[Customer | None]:
            # The customer's own stream, until the customer overview read model serves it.
            return await run_in_threadpool(_aggregates, collections, Customer, ids)

        return cls(customers_by_id=DataLoader(load_fn=customers))


def _aggregates(collections: Collections, kind: type[Any], ids: Sequence[UUID]) -> list[Any]:
    batch = collections.batch()
    return [batch.find(kind, aggregate_id) for aggregate_id in ids]


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


Info: TypeAlias = strawberry.Info[Context, None]
