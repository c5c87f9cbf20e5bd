"""A parallel import: the feed's records split by customer group, one worker process per part.

Why processes: the library serialises writers with a table lock, but most of an import's cost
is Python deciding and encoding (one core per process); the database's part is small. Two
processes on two cores import about twice as fast as one.

Why by customer group: records that touch a common aggregate must run in one process, in the
file's order (see ``split``: the groups, and how they are dealt out).

The split streams: the parent writes each line's part into an array the workers share, and
raises a watermark as it goes (in a thread of its own, kept a little ahead of them). The
workers start at once, read the file themselves, wait for the watermark where they are ahead of
it, and parse only their own lines, keeping the file's line numbers; each runs the ordinary
``Importer`` (a batch per transaction, its own store connection). So the import starts as soon
as the workers are up, not after a pass over the whole file. A record that would join groups
already given to different parts cannot go to either without waiting for the other: it, and
every later record of the joined group, is deferred to a last pass that one worker runs, in the
file's order, once every worker has committed its part. One summary merges theirs.

After a crash or SIGKILL, running the import again ends as one clean run, as with one process:
each batch is a transaction and records already present change nothing. Workers end with
their parent, wherever they are (``lifetime``): a worker waiting for the split or for
its next task would otherwise wait for ever, holding its store connections.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError

from ledger_collect.config import Settings
from ledger_collect.feed.files import open_feed
from ledger_collect.feed.importer import ACTOR, DEFAULT_BATCH_SIZE, Importer, ImportResult
from ledger_collect.feed.split import DEFERRED, Split, line_count, split
from ledger_collect.runtime.lifetime import end_with_parent
from ledger_collect.storage.outage import first_line

#: ``--jobs auto`` uses one process below this file size (starting workers costs ~1 s).
PARALLEL_MIN_BYTES = 4_000_000
MAX_AUTO_JOBS = 4
#: Lines the split may run ahead of the slowest worker (~1 s of their work), and the lines a
#: worker reads between two reports of how far it is.
AHEAD = 20_000
POSITION_STEP = 1024


class ParallelImportError(RuntimeError):
    """A worker process failed; the message carries its traceback's last line."""


def auto_jobs(path: Path) -> int:
    """The number of processes ``--jobs auto`` runs: one per core (at most four), one for a
    small file."""
    if path.stat().st_size < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_AUTO_JOBS))


# -- running -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Job:
    index: int
    settings: Settings
    path: Path
    fmt: str | None
    batch_size: int
    actor: str
    today: date
    parent: int


def _owned(mask: Any, watermark: Any, part: int,
           positions: Any = None) -> Callable[[int], bool]:
    """Is the line ours? Waits for the split where it is not that far yet, and tells it (in
    ``positions``, by part) how far this reader is."""
    decided = told = 0

    def owned(line: int) -> bool:
        nonlocal decided, told
        if positions is not None and line - told >= POSITION_STEP:
            positions[part] = told = line
        while line > decided:
            decided = watermark.value
            if line > decided:
                time.sleep(0.002)
        return bool(mask[line] == part)

    return owned


def _work(job: _Job, mask: Any, watermark: Any, positions: Any, tasks: Any,
          messages: Any) -> None:
    """One worker: its own store connection, its part of the file (then, if asked, the
    deferred lines), the ordinary Importer."""
    end_with_parent(job.parent)  # killed with it: the batch's transaction is rolled back
    try:
        from ledger_collect.app import open_collections

        with open_collections(job.settings, migrate=False) as app:  # the parent migrated it
            def progress(done: int) -> None:
                messages.put(("progress", job.index, done))

            def run(part: int) -> ImportResult:
                told = positions if part == job.index else None
                reader, stream = open_feed(job.path, job.fmt,
                                           only=_owned(mask, watermark, part, told))
                with stream:
                    return Importer(app, batch_size=job.batch_size, actor=job.actor,
                                    today=job.today).run(reader, progress=progress)

            messages.put(("done", job.index, run(job.index)))
            if tasks.get() == "deferred":  # every part is committed: the joined groups now
                messages.put(("deferred", job.index, run(DEFERRED)))
    except (PersistenceError, psycopg.Error) as exc:  # the database's reason says it all
        messages.put(("error", job.index, f"the database refused a batch: {first_line(exc)}"))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops
        detail = traceback.format_exc()
        messages.put(("error", job.index, f"{type(exc).__name__}: {exc}\n{detail}"))
    # Leave without tearing down what the import kept (~1 s for a large import): the result
    # is flushed to the parent first, the store connections are closed above.
    messages.close()
    messages.join_thread()
    os._exit(0)


class _Splitter(threading.Thread):
    """The split, in a thread of the parent, kept at most ``AHEAD`` lines before the slowest
    worker: it needs a fifth of a core to stay ahead of two workers, and would otherwise take
    a whole one from them in the first seconds, when they start."""

    def __init__(self, path: Path, fmt: str | None, parts: int, mask: Any, watermark: Any,
                 positions: Any) -> None:
        super().__init__(name="ledger-import-split", daemon=True)
        self._arguments = (path, fmt, parts, mask, watermark, self._pace)
        self._positions = positions
        self._groups: Split | None = None
        self._error: BaseException | None = None
        self.stopped = threading.Event()  # the import ended (or failed): no more waiting

    def _pace(self, decided: int) -> None:
        while decided - min(self._positions) > AHEAD and not self.stopped.wait(0.005):
            pass

    def run(self) -> None:
        try:
            self._groups = split(*self._arguments)
        except BaseException as exc:  # noqa: BLE001 - raised in the parent's loop
            self._error = exc

    def groups(self) -> Split:
        """The finished split (waits for it), or its error raised."""
        self.join()
        if self._error is not None:
            raise self._error
        assert self._groups is not None
        return self._groups


def run_parallel(settings: Settings, database_url: str, path: Path, jobs: int, *,
                 fmt: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 actor: str = ACTOR, today: date | None = None,
                 progress: Callable[[int], None] | None = None,
                 on_partitioned: Callable[[int], None] | None = None) -> ImportResult:
    """Import ``path`` with ``jobs`` worker processes on the store at ``database_url`` (the
    parent's, already migrated). ``on_partitioned`` gets the number of records: at once the
    file's lines, then the records once the file is split (the split keeps just ahead of the
    workers: it ends when they near the end); ``progress`` the records done, as the workers
    report batches."""
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")  # no forked pool threads or connections
    messages = context.Queue()
    tasks = [context.Queue() for _ in range(jobs)]
    lines = line_count(path)
    mask = context.RawArray("B", lines + 1)  # indexed by line number
    watermark = context.Value("q", 0)
    positions = context.RawArray("q", jobs)  # how far each worker reads
    worker_settings = settings.with_changes(database_url=database_url)
    processes = [
        context.Process(
            target=_work, name=f"ledger-import-{i + 1}", daemon=True,
            args=(_Job(i, worker_settings, path, fmt, batch_size, actor,
                       today or date.today(), os.getpid()), mask, watermark, positions,
                  tasks[i], messages))
        for i in range(jobs)
    ]
    for process in processes:
        process.start()
    splitter = _Splitter(path, fmt, jobs, mask, watermark, positions)  # workers read behind
    splitter.start()
    results: dict[int, ImportResult] = {}
    deferred: ImportResult | None = None
    groups: Split | None = None
    pending = jobs
    if on_partitioned:
        on_partitioned(lines - 1)  # a record a line, for now (blank lines and a header not)
    try:
        while groups is None or len(results) + (deferred is not None) < pending:
            if groups is None and not splitter.is_alive():
                groups = splitter.groups()
                pending += 1 if groups.deferred else 0
                if on_partitioned:
                    on_partitioned(sum(groups.load) + groups.deferred)
            try:
                kind, index, payload = messages.get(timeout=0.05 if groups is None else 1.0)
            except queue.Empty:
                dead = [p for i, p in enumerate(processes) if not p.is_alive()
                        and (i not in results or (groups and groups.deferred and i == 0))]
                if dead and messages.empty():
                    raise ParallelImportError(
                        f"import worker {dead[0].name} ended without a result "
                        f"(exit code {dead[0].exitcode})") from None
                continue
            if kind == "progress" and progress:
                progress(payload)
            elif kind == "done":
                results[index] = payload
                if len(results) == jobs:  # the deferred lines, by one worker; the others stop
                    known = splitter.groups()  # done: a worker ends after the whole split
                    for i, task in enumerate(tasks):
                        task.put("deferred" if known.deferred and i == 0 else None)
            elif kind == "deferred":
                deferred = payload
            elif kind == "error":
                raise ParallelImportError(f"import worker {index + 1} failed: {payload}")
    finally:
        splitter.stopped.set()
        finished = len(results) + (deferred is not None) >= pending and groups is not None
        for process in processes:
            if process.is_alive() and process.exitcode is None and not finished:
                process.terminate()
        for process in processes:
            process.join(timeout=10)
    parts = list(results.values()) + ([deferred] if deferred is not None else [])
    return merge(parts, time.perf_counter() - started)


def merge(results: list[ImportResult], seconds: float) -> ImportResult:
    """One summary of the workers' results."""
    total = ImportResult(seconds=seconds)
    for result in results:
        total.read += result.read
        total.applied += result.applied
        total.already_present += result.already_present
        total.rejected.extend(result.rejected)
        total.events += result.events
        total.single_loads += result.single_loads
        total.reruns += result.reruns
    total.rejected.sort(key=lambda bad: bad.line)
    return total
