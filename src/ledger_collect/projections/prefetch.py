"""Reading the event log a page ahead while a read model is built (``runner._build``)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from ledger_collect.projections.eventlog import EventLog


@dataclass(frozen=True)
class Page:
    """Events read from the log, decoded, and the position a model reaches with them."""

    events: list[Any]
    position: int
    full: bool  # as many events as asked for: there may be more


class Prefetch:
    """The pages of a build, read and decoded a page ahead, in a thread with a connection of
    its own, while the caller applies the one before: decoding is about half of a build's
    Python work and applying waits on PostgreSQL about a third of the time, time the next
    page's decoding now uses. Iterating yields the pages in order, up to the first that is
    not full; an error in the thread is raised there."""

    AHEAD = 2

    def __init__(self, log: EventLog, topics: Sequence[str], page_size: int) -> None:
        self._log, self._topics, self._page_size = log, list(topics), page_size
        self._pages: queue.Queue[Page | BaseException] = queue.Queue(self.AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="projection-prefetch",
                                        daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a put on a full queue
            try:
                self._pages.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()

    def __iter__(self) -> Iterator[Page]:
        while True:
            page = self._pages.get()
            if isinstance(page, BaseException):
                raise page
            yield page
            if not page.full:
                return

    def _read(self) -> None:
        try:
            with self._log.connect() as conn:
                position = 0
                while not self._stop.is_set():
                    page = self._log.read_page(conn, self._topics, position, self._page_size)
                    self._put(page)
                    if not page.full:
                        return
                    position = page.position
        except BaseException as exc:  # noqa: BLE001 - raised in the applying thread
            self._put(exc)

    def _put(self, item: Page | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._pages.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
