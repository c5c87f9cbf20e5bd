"""What a strawberry DataLoader keeps of its last batch, dropped once the request is answered.

A loader keeps its last batch (``DataLoader.batch``) after loading it, and the batch its tasks'
futures, which hold the rows they loaded. A request's loaders and their load functions refer to
each other (a reference cycle), so every row a request read would otherwise wait for the cyclic
garbage collector, whose passes over them cost a good part of an overview's CPU. ``clear_all``
drops the loader's cache; strawberry offers no way to drop its batch but the attribute.
"""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader


def forget_batch(loader: DataLoader[Any, Any]) -> None:
    """Drop the loader's last batch (a new one is made for the next load, as after a load)."""
    loader.batch = None
