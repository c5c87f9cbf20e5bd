"""loaded(): a loader's value made into an answer at once when the loader holds it (primed),
through the load otherwise, with the load's errors raised where they are awaited."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence

import pytest
from strawberry.dataloader import DataLoader

from ledger_collect.api.context import loaded


async def _doubling(keys: Sequence[int]) -> list[int | BaseException]:
    return [ValueError(f"no {key}") if key < 0 else key * 2 for key in keys]


def test_a_primed_key_is_answered_at_once_the_others_through_the_load() -> None:
    async def scenario() -> None:
        loader = DataLoader(load_fn=_doubling)
        loader.prime(1, 100)
        assert loaded(loader, 1, str) == "100"  # no awaitable: answered at once
        later = loaded(loader, 2, str)
        assert inspect.isawaitable(later)
        assert await later == "4"
        assert loaded(loader, 2, str) == "4"  # loaded once: now held
        failing = loaded(loader, -1, str)
        with pytest.raises(ValueError, match="no -1"):
            await failing
        again = loaded(loader, -1, str)  # a failed load is not an answer
        assert inspect.isawaitable(again)
        with pytest.raises(ValueError, match="no -1"):
            await again

    asyncio.run(scenario())
