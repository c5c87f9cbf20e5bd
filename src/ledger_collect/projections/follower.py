"""Following the log live: the projector's loop.

``follow`` first catches every model up with SQL pages (fast, filtered on the models' topics),
then takes what the store's LISTEN/NOTIFY subscription delivers and applies it in pages too:
whatever has arrived when a page starts (up to ``page_size`` notifications) goes in one
transaction per model, together with the model's new position. The subscription is unfiltered
on purpose: every notification moves the positions, so ``waiting`` can wait for any
command's last notification id, whichever events it wrote.

Models' upkeep (``Projection.upkeep``) runs every ``UPKEEP_SECONDS``, and at once when a
notification on one of their ``upkeep_channels`` names this schema: the connection listens on
them, and receives them with the result of any statement (it runs one at least every
``QUIET_SECONDS``).

Nothing stops it but ``stop``. A model that fails stops alone (``failures``): the others go on,
and it is caught up again from the log after a growing pause, until it gets past the event. A
lost database stops every model: the follower waits (the same pauses) and starts again, from
the positions the database kept.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing import persistence
from psycopg import sql

from ledger_collect.projections import Projection, failures, forgetting, purged, select
from ledger_collect.projections.engine import (
    PAGE_SIZE,
    EventLog,
    StaleProjectionError,
    advance,
    rebuild,
)
from ledger_collect.projections.failures import Backoff, ModelFailedError, connection_lost
from ledger_collect.runtime.collector import tuned_collector

log = logging.getLogger(__name__)

#: What the store's subscription raises when the database goes away.
_UNREACHABLE = (psycopg.OperationalError, persistence.OperationalError,
                persistence.InterfaceError, persistence.ConnectionUnavailableError)

_END = object()
#: How often the follower runs the models' upkeep (``Projection.upkeep``), e.g. the worklist's
#: ranking of a new business day: readers answer meanwhile, only slower.
UPKEEP_SECONDS = 5.0
#: How long the subscription may stay quiet before the follower looks at the log's head
#: itself: an event committed while the subscription was being set up is announced before it
#: listens, and would otherwise wait for the next event to be noticed.
QUIET_SECONDS = 1.0


@tuned_collector()
def follow(app: Any, stop: threading.Event, names: Sequence[str] | str | None = None, *,
           page_size: int = PAGE_SIZE, rebuild_stale: bool = True,
           on_page: Callable[[dict[str, int]], None] | None = None,
           backoff: Callable[[], Backoff] = Backoff) -> None:
    """Keep the named models (all by default) in step with the log until ``stop`` is set.

    A model whose SQL definition changed since it was built is rebuilt first
    (``rebuild_stale``; otherwise ``StaleProjectionError`` is raised); a model never built is
    created and caught up. ``on_page`` receives the positions after each live page and each
    retry (for logs and tests); ``backoff`` makes the pauses between attempts.
    """
    models = [_Model(cls, cls(), backoff()) for cls in select(names)]
    outage = backoff()
    while True:  # models are caught up once even when ``stop`` is already set
        follower = _Follower(app, models, page_size, rebuild_stale, on_page)
        try:
            follower.run(stop, outage)
            return
        except StaleProjectionError:
            raise
        except Exception as error:  # noqa: BLE001 - the projector never exits on its own
            pause = outage.failed()
            if follower.lost(error) or isinstance(error, _UNREACHABLE):
                log.warning("the database is unreachable (%s); following again in %g s",
                            failures.describe_error(error), pause)
            else:
                log.exception("the projector stopped on an error; starting again in %g s",
                              pause)
            if stop.wait(pause):
                return


@dataclass
class _Model:
    cls: type[Projection]
    projection: Projection
    retry: Backoff
    position: int = 0
    failing: bool = False


class _Follower:
    """One run of the loop, on one connection and one subscription."""

    def __init__(self, app: Any, models: list[_Model], page_size: int, rebuild_stale: bool,
                 on_page: Callable[[dict[str, int]], None] | None) -> None:
        self.app, self.models, self.page_size = app, models, page_size
        self.rebuild_stale, self.on_page = rebuild_stale, on_page
        self.events = EventLog(app)
        self.conn: Any = None
        self.handled = {topic for m in models for topic in m.cls.topics()}
        self.channels = sorted({channel for m in models for channel in m.cls.upkeep_channels})
        self.upkeep_asked = False

    def lost(self, error: BaseException) -> bool:
        return connection_lost(self.conn, error)

    def run(self, stop: threading.Event, outage: Backoff) -> None:
        with self.events.connect() as conn:
            self.conn = conn
            self._listen()
            for model in self.models:
                self._catch_up(model)
            outage.reset()
            healthy = [m.position for m in self.models if not m.failing]
            start = min(healthy) if healthy else self.events.head(conn)
            inbox: queue.Queue[Any] = queue.Queue(maxsize=4 * self.page_size)
            with self.app.recorder.subscribe(gt=start) as sub:
                pump = threading.Thread(target=_pump, args=(sub, inbox, stop), daemon=True,
                                        name="projection-subscription")
                pump.start()
                upkeep_due = 0.0
                quiet_since = time.monotonic()
                try:
                    while not stop.is_set():
                        if self.upkeep_asked or time.monotonic() >= upkeep_due:
                            self.upkeep_asked = False
                            self._upkeep()
                            upkeep_due = time.monotonic() + UPKEEP_SECONDS
                        page = _next_page(inbox, stop, self.page_size)
                        if page:
                            self._apply(page)
                            quiet_since = time.monotonic()
                        elif time.monotonic() - quiet_since >= QUIET_SECONDS:
                            self._catch_up_missed()
                            quiet_since = time.monotonic()
                        self._retry_due()
                finally:
                    sub.stop()
                    pump.join(timeout=5)

    # -- one model ------------------------------------------------------------------------
    def _catch_up(self, model: _Model) -> None:
        """Bring the model to the head from the log; a failure is recorded, not raised."""
        try:
            try:
                model.position = advance(self.events, self.conn, model.cls, self.page_size)
            except StaleProjectionError:
                if not self.rebuild_stale:
                    raise
                log.warning("read model %s changed definition: rebuilding it", model.cls.name)
                try:
                    model.position = rebuild(self.app, model.cls.name)[model.cls.name]
                except Exception as error:
                    if self.lost(error):
                        raise
                    raise ModelFailedError(model.cls.name, None, error) from error
        except ModelFailedError as failure:
            failures.record(self.conn, self.events.schema, failure)
            model.failing = True
            pause = model.retry.failed()
            log.info("read model %s: next attempt in %g s", model.cls.name, pause)
            return
        if model.failing:
            log.warning("read model %s is going again, at notification %d", model.cls.name,
                        model.position)
        model.failing = False
        model.projection = model.cls()
        model.retry.reset()

    def _catch_up_missed(self) -> None:
        """Catch up, from the log, the healthy models behind its head while nothing arrives."""
        head = self.events.head(self.conn)
        behind = [m for m in self.models if not m.failing and m.position < head]
        for model in behind:
            self._catch_up(model)
        if behind and self.on_page is not None:
            self.on_page(self._positions())

    def _retry_due(self) -> None:
        retried = False
        for model in self.models:
            if model.failing and model.retry.due <= time.monotonic():
                self._catch_up(model)
                retried = True
        if retried and self.on_page is not None:
            self.on_page(self._positions())

    def _listen(self) -> None:
        for channel in self.channels:
            self.conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        if self.channels:
            self.conn.add_notify_handler(self._notified)

    def _notified(self, notify: psycopg.Notify) -> None:
        if notify.payload == self.events.schema:
            self.upkeep_asked = True

    def _upkeep(self) -> None:
        """Each healthy model's upkeep, in a transaction of its own under the model's lock. A
        failure is logged, not raised: upkeep only spares readers work, and the next round
        tries again (a lost connection fails the next page, which the loop handles)."""
        for model in self.models:
            if model.failing or type(model.projection).upkeep is Projection.upkeep:
                continue
            try:
                with self.conn.transaction():
                    self.events.lock(self.conn, model.cls)
                    model.projection.upkeep(self.conn)
            except Exception as error:
                if self.lost(error):
                    raise
                log.exception("upkeep of read model %s failed", model.cls.name)

    # -- a live page ------------------------------------------------------------------------
    def _apply(self, page: list[Any]) -> None:
        wanted = [n for n in page if n.topic in self.handled]
        try:
            decoded = dict(zip((n.id for n in wanted), self.events.decode(wanted), strict=True))
        except Exception as error:
            if self.lost(error):
                raise
            decoded = None  # an event that cannot be read: each model meets it in the log
        for model in self.models:
            if model.failing:
                continue
            if decoded is None:
                self._catch_up(model)
                continue
            try:
                reached = _apply_live(self.conn, self.events, model, page, decoded)
            except Exception as error:
                if self.lost(error):
                    raise
                reached = None  # applied again from the log, where the event is found
            if reached is None:  # or the model moved back underneath us (reset)
                self._catch_up(model)
            else:
                model.position = reached
        if self.on_page is not None:
            self.on_page(self._positions())

    def _positions(self) -> dict[str, int]:
        return {m.cls.name: m.position for m in self.models}


def _apply_live(conn: Any, events: EventLog, model: _Model, page: list[Any],
                decoded: dict[int, Any]) -> int | None:
    """Apply the page's notifications after the model's stored position, in one transaction
    with the new position. None when the stored position went back (the model was reset):
    the subscription cannot fill that gap, the log must. No savepoint on this path, which
    runs for every few events: a page that fails (a string text cannot hold, too) is applied
    again from the log, by ``advance``, which cleans what needs cleaning."""
    topics = set(model.cls.topics())
    with conn.transaction():
        position = events.lock(conn, model.cls)
        if position < model.position:
            return None
        fresh = [n for n in page if n.id > position]
        if not fresh:
            return position
        batch = [decoded[n.id] for n in fresh if n.topic in topics]
        if batch:
            batch, erased = forgetting.split(batch)
            purged.apply_page(conn, model.projection, batch)
            forgetting.forget(conn, model.projection, erased)
        events.save_position(conn, model.cls, fresh[-1].id)
        return int(fresh[-1].id)


def _pump(subscription: Any, inbox: queue.Queue[Any], stop: threading.Event) -> None:
    """Move notifications from the subscription's iterator to a queue the follower can
    drain without blocking (one page = what has arrived)."""
    last: Any = _END
    try:
        for item in subscription:
            _hand_over(item, inbox, stop)
    except BaseException as exc:  # noqa: BLE001 - handed to the follower, which raises it
        last = exc
    _hand_over(last, inbox, stop)


def _hand_over(item: Any, inbox: queue.Queue[Any], stop: threading.Event) -> None:
    """Put ``item`` in the inbox as soon as there is room, unless the follower stops first."""
    while not stop.is_set():
        try:
            inbox.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


def _next_page(inbox: queue.Queue[Any], stop: threading.Event, page_size: int) -> list[Any]:
    try:
        first = inbox.get(timeout=0.2)
    except queue.Empty:
        return []
    page = [first]
    while len(page) < page_size:
        try:
            page.append(inbox.get_nowait())
        except queue.Empty:
            break
    for item in page:
        if item is _END:
            if stop.is_set():
                return []
            raise RuntimeError("the store's notification subscription ended unexpectedly")
        if isinstance(item, BaseException):
            raise item
    return page
