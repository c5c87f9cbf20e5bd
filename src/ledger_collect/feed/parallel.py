"""A parallel import: the feed's records split by customer group, one worker process per part.

Why processes: the library serialises writers with a table lock, but most of an import's cost
is Python deciding and encoding (one core per process); the database's part is small. Two
processes on two cores import about twice as fast as one.

Why by customer group: records that touch a common aggregate must run in one process, in the
file's order, or their outcome would depend on timing (a clearing before or after a payment of
the same invoice). ``partition`` first reads every line cheaply (its fields, no checks) and
joins the aggregates each record's command looks up — a customer with its head office, an
invoice with its customer, a payment with its payer, the invoices it pays and its credit on
account, a clearing, reversal or write-off with its invoice (``needed_ids``'s rule, on the raw
fields) — into groups. Each group goes, whole, to the part with the fewest records so far.
Each worker then reads the file itself and parses only its own lines, keeping the file's line
numbers, and runs the ordinary ``Importer`` on them (a batch per transaction, its own store
connection). One summary merges theirs.

After a crash or SIGKILL, running the import again ends as one clean run, as with one process:
each batch is a transaction and records already present change nothing. Workers whose parent
died stop after their current batch.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ledger_collect.config import Settings
from ledger_collect.feed.files import open_feed
from ledger_collect.feed.importer import ACTOR, DEFAULT_BATCH_SIZE, Importer, ImportResult
from ledger_collect.feed.records import BadLine

#: ``--jobs auto`` uses one process below this file size (starting workers costs ~1 s).
PARALLEL_MIN_BYTES = 4_000_000
MAX_AUTO_JOBS = 4


class ParallelImportError(RuntimeError):
    """A worker process failed; the message carries its traceback's last line."""


def auto_jobs(path: Path) -> int:
    """The number of processes ``--jobs auto`` runs: one per core (at most four), one for a
    small file."""
    if path.stat().st_size < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_AUTO_JOBS))


# -- splitting ------------------------------------------------------------------------------------
def _field(raw: Mapping[str, Any], name: str) -> str | None:
    """A field as ``records._text`` will read it (stripped text), enough to tell keys apart."""
    value = raw.get(name)
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value).strip() or None


def _allocated(raw: Mapping[str, Any]) -> list[str]:
    value = raw.get("allocations")
    if isinstance(value, list):
        return [str(item.get("invoice")).strip() for item in value if isinstance(item, dict)]
    if isinstance(value, str):
        return [part.rpartition(":")[0].strip() for part in value.split(";") if part.strip()]
    return []


def record_keys(raw: Mapping[str, Any]) -> list[str]:
    """The aggregates a record's command will look up, as keys of its raw fields: customer
    ``c:``, invoice ``i:``, credit on account ``k:`` (see ``importer.needed_ids``)."""
    kind = _field(raw, "kind")
    keys: list[str | None] = []
    if kind == "customer":
        keys = [_field(raw, "number"), _field(raw, "head_office")]
        keys = [f"c:{k}" if k else None for k in keys]
    elif kind in ("contact", "invoice", "credit_memo", "payment"):
        customer = _field(raw, "customer")
        keys.append(f"c:{customer}" if customer else None)
        if kind == "invoice":
            keys.append(f"i:{_field(raw, 'document_number')}")
        elif kind == "credit_memo":
            invoice = _field(raw, "invoice")
            keys.append(f"i:{invoice}" if invoice else f"k:{_field(raw, 'source_id')}")
        elif kind == "payment":
            keys += [f"i:{number}" for number in _allocated(raw)]
            keys.append(f"k:{_field(raw, 'source_id')}")
    elif kind in ("payment_reversal", "clearing", "write_off"):
        keys.append(f"i:{_field(raw, 'invoice')}")
    return [k for k in keys if k]


class _Groups:
    """Union-find over keys."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def root(self, key: str) -> str:
        parent = self.parent
        top = parent.setdefault(key, key)
        while top != parent[top]:
            top = parent[top]
        while key != top:  # path compression
            parent[key], key = top, parent[key]
        return top

    def join(self, keys: list[str]) -> str:
        first = self.root(keys[0])
        for key in keys[1:]:
            other = self.root(key)
            if other != first:
                self.parent[other] = first
        return first


def partition(path: Path, fmt: str | None, parts: int) -> tuple[bytearray, list[int]]:
    """Which part each line's record goes to (indexed by the line it starts on) and the number
    of records of each part. Lines that name no aggregate (bad ones) go to the first part."""
    groups = _Groups()
    lines: list[tuple[int, str | None]] = []
    reader, stream = open_feed(path, fmt)
    with stream:
        for line, raw in reader.mappings():
            keys = [] if isinstance(raw, BadLine) else record_keys(raw)
            lines.append((line, groups.join(keys) if keys else None))
    sizes: dict[str | None, int] = {}
    for _, key in lines:
        root = groups.root(key) if key is not None else None
        sizes[root] = sizes.get(root, 0) + 1
    load = [0] * parts
    part_of: dict[str | None, int] = {None: 0}
    load[0] = sizes.pop(None, 0)
    for root, size in sizes.items():  # first appearance order: deterministic
        part = min(range(parts), key=load.__getitem__)
        part_of[root] = part
        load[part] += size
    last = lines[-1][0] if lines else 0
    mask = bytearray(b"\xff" * (last + 1))
    for line, key in lines:
        mask[line] = part_of[groups.root(key) if key is not None else None]
    return mask, load


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


def _work(job: _Job, tasks: Any, messages: Any) -> None:
    """One worker: its own store connection, its part of the file, the ordinary Importer."""
    try:
        from ledger_collect.application import Collections
        from ledger_collect.database import Database

        database = Database(job.settings)
        app = Collections(database)
        try:
            messages.put(("ready", job.index, None))
            mask = tasks.get()
            if mask is None:
                return
            index = job.index

            def progress(done: int) -> None:
                if os.getppid() != job.parent:  # the import was killed: stop here
                    os._exit(3)
                messages.put(("progress", index, done))

            reader, stream = open_feed(job.path, job.fmt,
                                       only=lambda line: line < len(mask) and mask[line] == index)
            with stream:
                result = Importer(app, batch_size=job.batch_size, actor=job.actor,
                                  today=job.today).run(reader, progress=progress)
            messages.put(("done", job.index, result))
        finally:
            app.close()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops
        detail = traceback.format_exc()
        messages.put(("error", job.index, f"{type(exc).__name__}: {exc}\n{detail}"))


def run_parallel(settings: Settings, database_url: str, path: Path, jobs: int, *,
                 fmt: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 actor: str = ACTOR, today: date | None = None,
                 progress: Callable[[int], None] | None = None,
                 on_partitioned: Callable[[int], None] | None = None) -> ImportResult:
    """Import ``path`` with ``jobs`` worker processes on the store at ``database_url`` (the
    parent's, already migrated). ``on_partitioned`` gets the number of records once the file
    is split; ``progress`` the records done, as the workers report batches."""
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")  # no forked pool threads or connections
    messages = context.Queue()
    tasks = [context.Queue() for _ in range(jobs)]
    worker_settings = settings.with_changes(database_url=database_url)
    processes = [
        context.Process(
            target=_work, name=f"ledger-import-{i + 1}", daemon=True,
            args=(_Job(i, worker_settings, path, fmt, batch_size, actor,
                       today or date.today(), os.getpid()), tasks[i], messages))
        for i in range(jobs)
    ]
    for process in processes:
        process.start()
    results: dict[int, ImportResult] = {}
    try:
        mask, load = partition(path, fmt, jobs)  # while the workers start
        if on_partitioned:
            on_partitioned(sum(load))
        for task in tasks:
            task.put(mask)
        while len(results) < jobs:
            try:
                kind, index, payload = messages.get(timeout=1.0)
            except queue.Empty:
                dead = [p for i, p in enumerate(processes)
                        if i not in results and not p.is_alive()]
                if dead:
                    raise ParallelImportError(
                        f"import worker {dead[0].name} ended without a result "
                        f"(exit code {dead[0].exitcode})") from None
                continue
            if kind == "progress" and progress:
                progress(payload)
            elif kind == "done":
                results[index] = payload
            elif kind == "error":
                raise ParallelImportError(f"import worker {index + 1} failed: {payload}")
    finally:
        for process in processes:
            if process.is_alive() and process.exitcode is None and len(results) < jobs:
                process.terminate()
        for process in processes:
            process.join(timeout=10)
    return merge(list(results.values()), time.perf_counter() - started)


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
