"""A parallel import: the feed's records split by customer group, one worker process per part.

Why processes: the library serialises writers with a table lock, but most of an import's cost
is Python deciding and encoding (one core per process); the database's part is small. Two
processes on two cores import about twice as fast as one.

Why by customer group: records that touch a common aggregate must run in one process, in the
file's order, or their outcome would depend on timing (a clearing before or after a payment of
the same invoice). The parent reads every line cheaply (its fields, no checks) and joins the
aggregates each record's command looks up — a customer with its head office, an invoice with
its customer, a payment with its payer, the invoices it pays and its credit on account, a
clearing, reversal or write-off with its invoice (``needed_ids``'s rule, on the raw fields) —
into groups (``Split``). A group goes, whole, to the part with the fewest records so far, the
first time one of its aggregates is met.

The split streams: the parent writes each line's part into an array the workers share, and
raises a watermark as it goes. The workers start at once, read the file themselves, wait for
the watermark where they are ahead of it, and parse only their own lines, keeping the file's
line numbers; each runs the ordinary ``Importer`` (a batch per transaction, its own store
connection). So the import starts as soon as the workers are up, not after a pass over the
whole file. A record that would join groups already given to different parts cannot go to
either without waiting for the other: it, and every later record of the joined group, is
deferred to a last pass that one worker runs, in the file's order, once every worker has
committed its part. One summary merges theirs.

After a crash or SIGKILL, running the import again ends as one clean run, as with one process:
each batch is a transaction and records already present change nothing. Workers whose parent
died stop after their current batch.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from ledger_collect.config import Settings
from ledger_collect.feed.files import open_feed
from ledger_collect.feed.importer import ACTOR, DEFAULT_BATCH_SIZE, Importer, ImportResult
from ledger_collect.feed.records import BadLine

#: ``--jobs auto`` uses one process below this file size (starting workers costs ~1 s).
PARALLEL_MIN_BYTES = 4_000_000
MAX_AUTO_JOBS = 4
#: The part of the lines deferred to the last pass (joining groups of different parts).
DEFERRED = 255
#: Lines split between two raises of the watermark (each raise takes a lock).
WATERMARK_STEP = 2048
_EXACT_JSON = json.JSONDecoder(parse_float=Decimal)  # as ``files`` reads what orjson refuses


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
    if type(value) is str:  # the usual case, first
        return value.strip() or None
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
    if kind in ("payment_reversal", "clearing", "write_off"):
        return [f"i:{_field(raw, 'invoice')}"]
    if kind == "customer":
        number, head_office = _field(raw, "number"), _field(raw, "head_office")
        keys = [f"c:{number}"] if number else []
        return keys + [f"c:{head_office}"] if head_office else keys
    if kind not in ("contact", "invoice", "credit_memo", "payment"):
        return []
    customer = _field(raw, "customer")
    keys = [f"c:{customer}"] if customer else []
    if kind == "invoice":
        keys.append(f"i:{_field(raw, 'document_number')}")
    elif kind == "credit_memo":
        invoice = _field(raw, "invoice")
        keys.append(f"i:{invoice}" if invoice else f"k:{_field(raw, 'source_id')}")
    elif kind == "payment":
        keys += [f"i:{number}" for number in _allocated(raw)]
        keys.append(f"k:{_field(raw, 'source_id')}")
    return keys


class Split:
    """Gives each line a part as it is read. Groups of keys (aggregates one record joins), each
    key mapped straight to its group: a record mostly names keys of one group and new ones, a
    dict lookup each; joining two groups moves the smaller's keys. A group's part is decided
    when it is first met; ``DEFERRED`` once it joined groups of two parts."""

    def __init__(self, parts: int) -> None:
        self.group_of: dict[str, int] = {}
        self.keys_of: dict[int, list[str]] = {}
        self.part_of: dict[int, int] = {}
        self.load = [0] * parts
        self.deferred = 0
        self._next = 0

    def part(self, keys: list[str]) -> int:
        """The part of a record looking up these aggregates (lines naming none: the first)."""
        group_of, group, new = self.group_of, None, []
        for key in keys:
            found = group_of.get(key)
            if found is None:
                new.append(key)
            elif group is None:
                group = found
            elif found != group:
                group = self._join(group, found)
        if group is None:
            if not new:
                self.load[0] += 1
                return 0
            group = self._next = self._next + 1
            self.keys_of[group] = []
            self.part_of[group] = min(range(len(self.load)), key=self.load.__getitem__)
        for key in new:
            group_of[key] = group
        self.keys_of[group] += new
        part = self.part_of[group]
        if part == DEFERRED:
            self.deferred += 1
        else:
            self.load[part] += 1
        return part

    def _join(self, one: int, other: int) -> int:
        if len(self.keys_of[one]) < len(self.keys_of[other]):
            one, other = other, one
        moved = self.keys_of.pop(other)
        for key in moved:
            self.group_of[key] = one
        self.keys_of[one] += moved
        if self.part_of.pop(other) != self.part_of[one]:
            self.part_of[one] = DEFERRED
        return one


def _fields(path: Path, fmt: str | None) -> Iterator[tuple[int, Mapping[str, Any] | None]]:
    """Each record's first line and its fields as read (None: it cannot be read), numbered as
    ``FeedReader`` numbers them. JSON Lines are read with orjson alone: floats matter to no key
    (a key field holding one makes a bad line), so ``FeedReader``'s search for them is spared;
    what orjson refuses is read the exact way."""
    reader, stream = open_feed(path, fmt)
    with stream:
        if reader.format != "jsonl":
            for line, raw in reader.mappings():
                yield line, None if isinstance(raw, BadLine) else raw
            return
        for line, text in enumerate(stream, start=1):
            if line == 1 and text.startswith(b"\xef\xbb\xbf"):
                text = text[3:]
            if not text.strip():
                continue
            try:
                raw = orjson.loads(text)
            except orjson.JSONDecodeError:
                try:
                    raw = _EXACT_JSON.decode(text.decode("utf-8", "surrogateescape"))
                except (ValueError, RecursionError):
                    raw = None
            yield line, raw if isinstance(raw, dict) else None


def split(path: Path, fmt: str | None, parts: int, mask: Any, watermark: Any) -> Split:
    """Write each line's part into ``mask`` (indexed by the line it starts on), raising
    ``watermark`` (the lines decided so far) as it goes."""
    groups = Split(parts)
    decided = 0
    for line, raw in _fields(path, fmt):
        mask[line] = groups.part(record_keys(raw) if raw is not None else [])
        if line - decided >= WATERMARK_STEP:
            decided = watermark.value = line
    watermark.value = len(mask)
    return groups


def line_count(path: Path) -> int:
    """The file's physical lines (a C-speed scan: ~10 ms for 50 MB)."""
    count = 1
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            count += block.count(b"\n")
    return count


def partition(path: Path, fmt: str | None, parts: int) -> tuple[bytearray, Split]:
    """The whole split at once (tests): each line's part, and the groups' loads."""

    class Mark:
        value = 0

    mask = bytearray(line_count(path) + 1)
    return mask, split(path, fmt, parts, mask, Mark())


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


def _owned(mask: Any, watermark: Any, part: int) -> Callable[[int], bool]:
    """Is the line ours? Waits for the split where it is not that far yet."""
    decided = 0

    def owned(line: int) -> bool:
        nonlocal decided
        while line > decided:
            decided = watermark.value
            if line > decided:
                time.sleep(0.002)
        return bool(mask[line] == part)

    return owned


def _work(job: _Job, mask: Any, watermark: Any, tasks: Any, messages: Any) -> None:
    """One worker: its own store connection, its part of the file (then, if asked, the
    deferred lines), the ordinary Importer."""
    try:
        from ledger_collect.application import Collections
        from ledger_collect.database import Database

        app = Collections(Database(job.settings))
        try:
            def progress(done: int) -> None:
                if os.getppid() != job.parent:  # the import was killed: stop here
                    os._exit(3)
                messages.put(("progress", job.index, done))

            def run(part: int) -> ImportResult:
                reader, stream = open_feed(job.path, job.fmt,
                                           only=_owned(mask, watermark, part))
                with stream:
                    return Importer(app, batch_size=job.batch_size, actor=job.actor,
                                    today=job.today).run(reader, progress=progress)

            messages.put(("done", job.index, run(job.index)))
            if tasks.get() == "deferred":  # every part is committed: the joined groups now
                messages.put(("deferred", job.index, run(DEFERRED)))
        finally:
            app.close()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which stops
        detail = traceback.format_exc()
        messages.put(("error", job.index, f"{type(exc).__name__}: {exc}\n{detail}"))
    # Leave without tearing down what the import kept (~1 s for a large import): the result
    # is flushed to the parent first, the store connections are closed above.
    messages.close()
    messages.join_thread()
    os._exit(0)


def run_parallel(settings: Settings, database_url: str, path: Path, jobs: int, *,
                 fmt: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 actor: str = ACTOR, today: date | None = None,
                 progress: Callable[[int], None] | None = None,
                 on_partitioned: Callable[[int], None] | None = None) -> ImportResult:
    """Import ``path`` with ``jobs`` worker processes on the store at ``database_url`` (the
    parent's, already migrated). ``on_partitioned`` gets the number of records once the file
    is split (the workers are at work by then); ``progress`` the records done, as the workers
    report batches."""
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")  # no forked pool threads or connections
    messages = context.Queue()
    tasks = [context.Queue() for _ in range(jobs)]
    mask = context.RawArray("B", line_count(path) + 1)  # indexed by line number
    watermark = context.Value("q", 0)
    worker_settings = settings.with_changes(database_url=database_url)
    processes = [
        context.Process(
            target=_work, name=f"ledger-import-{i + 1}", daemon=True,
            args=(_Job(i, worker_settings, path, fmt, batch_size, actor,
                       today or date.today(), os.getpid()), mask, watermark, tasks[i],
                  messages))
        for i in range(jobs)
    ]
    for process in processes:
        process.start()
    results: dict[int, ImportResult] = {}
    deferred: ImportResult | None = None
    pending = jobs
    try:
        groups = split(path, fmt, jobs, mask, watermark)  # the workers read behind it
        if on_partitioned:
            on_partitioned(sum(groups.load) + groups.deferred)
        pending += 1 if groups.deferred else 0
        while len(results) + (deferred is not None) < pending:
            try:
                kind, index, payload = messages.get(timeout=1.0)
            except queue.Empty:
                dead = [p for i, p in enumerate(processes) if not p.is_alive()
                        and (i not in results or (groups.deferred and i == 0))]
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
                    for i, task in enumerate(tasks):
                        task.put("deferred" if groups.deferred and i == 0 else None)
            elif kind == "deferred":
                deferred = payload
            elif kind == "error":
                raise ParallelImportError(f"import worker {index + 1} failed: {payload}")
    finally:
        finished = len(results) + (deferred is not None) >= pending
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
