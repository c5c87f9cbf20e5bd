"""Memos kept across requests, keyed by the syntax tree nodes of a query document.

Parsed documents are cached (``speedups.documents``), so a client's query brings the same nodes request
after request, and what execution works out from them (subfields, plans, the parts an overview
reads) is kept with them. An entry holds its nodes, so it holds their whole document too: what
the memos hold is bounded by the size of those documents (``HeldDocuments``), and a document too
long to be cached is never memoised at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger_collect.speedups.documents import CACHED_DOCUMENT_LENGTH, PARSED_BYTES_PER_CHARACTER

#: The estimated memory of the documents the memos may hold.
HELD_BYTES = 64 * 1024 * 1024


class ByIdentity:
    """A bounded memo keyed by objects' identities (and hashable values: types), holding
    the objects themselves so that their ids cannot be reused while their entry lives."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._found: dict[tuple[int, ...], tuple[tuple[Any, ...], Any]] = {}

    def get(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        ids = tuple(map(id, key))
        found = self._found.get(ids)
        if found is None or any(a is not b for a, b in zip(found[0], key, strict=True)):
            if len(self._found) >= self._size:
                self._found.clear()  # a client sending ever new documents: start over
            found = self._found[ids] = (key, make())
        return found[1]

    def clear(self) -> None:
        self._found.clear()


class HeldDocuments:
    """The documents whose nodes the memos hold, by their source, with their estimated size:
    beyond ``max_bytes`` every memo starts over."""

    def __init__(self, max_bytes: int, *memos: ByIdentity) -> None:
        self.max_bytes = max_bytes
        self.total_bytes = 0
        self._memos = list(memos)
        self._sources: dict[int, Any] = {}

    def add(self, memo: ByIdentity) -> ByIdentity:
        self._memos.append(memo)
        return memo

    def admit(self, node: Any) -> bool:
        """Whether memos may hold ``node`` (its document is short enough to be cached); its
        document is counted from now on."""
        source = node.loc.source if node.loc is not None else None
        if source is None or len(source.body) > CACHED_DOCUMENT_LENGTH:
            return False
        if self._sources.get(id(source)) is not source:
            size = len(source.body) * PARSED_BYTES_PER_CHARACTER
            if self.total_bytes + size > self.max_bytes:
                for memo in self._memos:
                    memo.clear()
                self._sources.clear()
                self.total_bytes = 0
            self._sources[id(source)] = source
            self.total_bytes += size
        return True


#: The documents held by the memos of execution and of the overview.
HELD = HeldDocuments(HELD_BYTES)
