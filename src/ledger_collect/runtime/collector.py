"""Python's cyclic garbage collector, set for servers and batch work.

CPython's collector passes over its youngest objects every 700 allocations (net of those freed)
and, now and then, over every object alive. Our processes hold many objects for as long as they
run (modules, the GraphQL schema, pools: ~100,000) and allocate thousands of short-lived ones
per request or page of events, most of them alive when a pass comes (the rows of the requests
in flight, the page being applied): with the defaults, the collector's passes took a large
share of an overview's and a rebuild's CPU (docs/performance.md).

Inside ``tuned_collector()``, what is alive at entry is frozen (``gc.freeze``: never scanned
again), and the youngest generation is collected every ``YOUNGEST`` allocations. Reference
cycles are still collected; objects freed by reference counting (most) never needed it. The
settings are restored when the outermost user leaves (tests run many servers and rebuilds in
one process; the all-in-one ``serve`` runs the API and projections in threads of one).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Allocations between two passes over the youngest objects (Python's default: 700): large
#: enough that a request's or a page's short-lived objects are mostly freed before a pass.
YOUNGEST = 10_000

_lock = threading.Lock()
_users = 0
_found: tuple[int, ...] = ()


@contextmanager
def tuned_collector() -> Iterator[None]:
    """Run the block with the collector set for long work (see the module); re-entrant."""
    global _users, _found
    with _lock:
        _users += 1
        if _users == 1:
            _found = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(YOUNGEST, *_found[1:])
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                gc.set_threshold(*_found)
                gc.unfreeze()
