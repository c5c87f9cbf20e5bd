"""The erasure verifier: is any of a customer's former personal data still stored anywhere?

Erasure deletes a data key and blanks the read models; this is the independent check that no
other plain copy survived. It reads what someone holding a backup would read: a ``pg_dump`` of
the whole database (every schema and table, the events included) and every archive segment,
decompressed. It looks for each value the operator gives (names, addresses, phone numbers,
notes) in every form the value takes there: as written, JSON-escaped (with and without
``\\uXXXX`` for non-ASCII), escaped as a COPY line escapes text, and inside bytea columns, which
a dump writes as hex (decoded before the search). Case is ignored for ASCII letters. A value
shorter than ``MIN_LENGTH`` is refused: it would be found by chance.

The dump is searched in blocks of whole lines with ``bytes.find``, one pass per form of each
value, which keeps a dump of gigabytes within minutes; the hits are then placed: table, column
and line of the dump, or segment and byte offset.
"""

from __future__ import annotations

import binascii
import bisect
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ledger_collect.compliance.archive.archive import SEGMENTS
from ledger_collect.compliance.archive.segment import SegmentError, decompress
from ledger_collect.compliance.archive.segment_storage import open_storage
from ledger_collect.compliance.database_dump import dump_stream

MIN_LENGTH = 3
BLOCK_BYTES = 8 << 20
#: A COPY block's first line.
_COPY = re.compile(rb"COPY (\S+) \((.*)\) FROM stdin;")
_COPY_ESCAPES = {"\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                 "\v": "\\v"}
_PHONE = re.compile(r"^[\d\s()+./-]+$")
_NEWLINE = re.compile(rb"\n")
#: Where COPY blocks start (their table and columns) and end (None), by position in a block.
_Marks = tuple[list[int], list[tuple[str, list[str]] | None]]


class ValuesError(ValueError):
    """The values file cannot be used as given."""


@dataclass(frozen=True)
class Needle:
    value: int  # the value's line in the values file
    form: str  # plain, json, json-ascii, digits
    pattern: bytes  # lower-case (ASCII)


@dataclass(frozen=True)
class Hit:
    value: int
    masked: str
    form: str
    place: str  # "table <schema.table>", "dump" (outside the data), "archive <segment name>"
    column: str | None = None
    line: int | None = None  # of the dump
    offset: int | None = None  # in the decompressed segment

    def describe(self) -> str:
        where = self.place + (f" column {self.column}" if self.column else "")
        at = (f"dump line {self.line}" if self.line is not None
              else f"offset {self.offset}" if self.offset is not None else "")
        return f"value #{self.value} {self.masked!r} ({self.form}) in {where}" + \
            (f", {at}" if at else "")


@dataclass
class Report:
    hits: list[Hit] = field(default_factory=list)
    hit_count: int = 0  # all hits; ``hits`` keeps the first ``max_hits``
    dump_bytes: int = 0
    dump_lines: int = 0
    tables: int = 0
    segments: int = 0
    segment_bytes: int = 0
    archive: str = ""  # where the archive's segments were looked for
    problems: list[str] = field(default_factory=list)  # what could not be read as it should
    max_hits: int = 10_000

    def add(self, hit: Hit) -> None:
        self.hit_count += 1
        if len(self.hits) < self.max_hits:
            self.hits.append(hit)


# -- the values and their forms -----------------------------------------------------------------
def read_values(path: Path) -> list[tuple[int, str]]:
    """(line number, value) of each non-blank line; a value shorter than ``MIN_LENGTH`` is
    refused, naming its line."""
    values = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        value = line.strip()
        if not value:
            continue
        if len(value) < MIN_LENGTH:
            raise ValuesError(f"{path}, line {number}: a value needs {MIN_LENGTH} characters "
                              f"or more (a shorter one is found by chance)")
        values.append((number, value))
    if not values:
        raise ValuesError(f"{path} holds no value to look for (one a line)")
    return values


def mask(value: str) -> str:
    """Enough of a value to tell which one was found, not enough to read it in a report."""
    if len(value) <= 4:
        return value[0] + "*" * (len(value) - 1)
    return value[0] + "*" * (len(value) - 2) + value[-1]


def _json(value: str, ascii_only: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)[1:-1]


def _copy_escaped(text: str) -> str:
    return "".join(_COPY_ESCAPES.get(char, char) for char in text)


def _forms(value: str) -> list[tuple[str, str]]:
    forms = [("plain", value), ("json", _json(value, False)), ("json-ascii", _json(value, True))]
    digits = re.sub(r"\D", "", value)
    if _PHONE.match(value) and len(digits) >= 7 and digits != value:
        forms.append(("digits", digits))
    return forms


def needles(values: Iterable[tuple[int, str]], *, copy_text: bool) -> list[Needle]:
    """Each value's distinct forms, lower-cased; ``copy_text``: also as a COPY line escapes
    them (for the dump's text; the bytes of a bytea or a segment are not escaped)."""
    found: dict[bytes, Needle] = {}
    for number, value in values:
        for form, text in _forms(value):
            variants = [text, _copy_escaped(text)] if copy_text else [text]
            for variant in variants:
                pattern = variant.encode().lower()
                found.setdefault(pattern, Needle(number, form, pattern))
    return list(found.values())


def _finds(haystack: bytes, pattern: bytes) -> Iterator[int]:
    start = haystack.find(pattern)
    while start >= 0:
        yield start
        start = haystack.find(pattern, start + 1)


# -- the dump ------------------------------------------------------------------------------------
class _DumpScanner:
    """Scans a plain dump block by block, knowing which table's COPY data each line belongs to."""

    def __init__(self, values: Sequence[tuple[int, str]], report: Report) -> None:
        self.report = report
        self.masked = {number: mask(value) for number, value in values}
        self.text = needles(values, copy_text=True)
        self.binary = needles(values, copy_text=False)
        self.table: tuple[str, list[str]] | None = None  # the COPY block a block starts in
        self.line = 0  # lines before the current block
        self._newlines: list[int] | None = None  # where the block's lines end

    def block(self, data: bytes) -> None:
        marks = self._marks(data)
        self._newlines = None
        text, text_at, decoded, decoded_at = _split(data)
        low = text.lower()
        for needle in self.text:
            for at in _finds(low, needle.pattern):
                piece = bisect.bisect_right(text_at, (at, len(data))) - 1
                self._hit(needle, data, marks, text_at[piece][1] + at - text_at[piece][0], None)
        low = decoded.lower()
        for needle in self.binary:
            for at in _finds(low, needle.pattern):
                piece = bisect.bisect_right(decoded_at, (at, len(data))) - 1
                self._hit(needle, data, marks, decoded_at[piece][1], "bytea")
        self.line += data.count(b"\n")
        if marks[0]:
            self.table = marks[1][-1]

    def _marks(self, data: bytes) -> _Marks:
        """Where in the block a COPY block starts (its table and columns) or ends (None)."""
        found: list[tuple[int, tuple[str, list[str]] | None]] = []
        for at in _line_starts(data, b"COPY "):
            end = data.find(b"\n", at)
            match = _COPY.fullmatch(data, at, end if end >= 0 else len(data))
            if match:
                columns = [c.strip().strip('"') for c in match.group(2).decode().split(",")]
                found.append((at, (match.group(1).decode(), columns)))
                self.report.tables += 1
        found.extend((at, None) for at in _line_starts(data, b"\\.\n"))
        found.sort(key=lambda mark: mark[0])
        return [at for at, _ in found], [table for _, table in found]

    def _hit(self, needle: Needle, data: bytes, marks: _Marks, at: int,
             kind: str | None) -> None:
        if self._newlines is None:  # once per block with hits, not once per hit
            self._newlines = [match.start() for match in _NEWLINE.finditer(data)]
        line = bisect.bisect_left(self._newlines, at)
        line_start = self._newlines[line - 1] + 1 if line else 0
        index = bisect.bisect_right(marks[0], at) - 1
        table = marks[1][index] if index >= 0 else self.table
        column = None
        if table is not None:
            field_index = data.count(b"\t", line_start, at)
            if field_index < len(table[1]):
                column = table[1][field_index]
        self.report.add(Hit(
            needle.value, self.masked[needle.value],
            needle.form if kind is None else f"{needle.form}, {kind}",
            f"table {table[0]}" if table is not None else "dump", column,
            line=self.line + line + 1))


def _line_starts(data: bytes, prefix: bytes) -> Iterator[int]:
    """Where the lines starting with ``prefix`` start."""
    if data.startswith(prefix):
        yield 0
    for at in _finds(data, b"\n" + prefix):
        yield at + 1


def _split(data: bytes) -> tuple[bytes, list[tuple[int, int]], bytes, list[tuple[int, int]]]:
    """The block's text without its bytea values, and those values decoded, each with where
    its pieces start: (offset in it, offset in the block). Pieces are joined by a NUL, which
    no value holds: a match never spans two."""
    texts, text_at, values, value_at = [], [], [], []
    done = text_size = value_size = 0
    for at in _finds(data, b"\\\\x"):
        if at < done:
            continue
        end = len(data)
        for stop in (b"\t", b"\n"):
            found = data.find(stop, at, end)
            end = found if found >= 0 else end
        try:
            value = binascii.unhexlify(data[at + 3:end])
        except binascii.Error:  # not a bytea after all: text
            continue
        texts.append(data[done:at])
        text_at.append((text_size, done))
        text_size += at - done + 1
        values.append(value)
        value_at.append((value_size, at))
        value_size += len(value) + 1
        done = end
    texts.append(data[done:])
    text_at.append((text_size, done))
    return b"\0".join(texts), text_at, b"\0".join(values), value_at


def scan_dump(stream: IO[bytes], values: Sequence[tuple[int, str]], report: Report,
              progress: Callable[[int, str], None] | None = None) -> None:
    """Search the dump read from ``stream``; ``progress(bytes read, table)`` now and then."""
    scanner = _DumpScanner(values, report)
    rest = b""
    told = time.monotonic()
    while True:
        chunk = stream.read(BLOCK_BYTES)
        data = rest + chunk
        if not chunk:
            if data:
                scanner.block(data)
            break
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # one line longer than a block: read on
            rest = data
            continue
        scanner.block(data[:cut])
        rest = data[cut:]
        report.dump_bytes += cut
        if progress is not None and time.monotonic() - told >= 1.0:
            told = time.monotonic()
            progress(report.dump_bytes, scanner.table[0] if scanner.table else "")
    report.dump_bytes += len(rest)
    report.dump_lines = scanner.line


# -- the archive ---------------------------------------------------------------------------------
def scan_segment(name: str, data: bytes, values: Sequence[tuple[int, str]],
                 report: Report) -> None:
    """Search one decompressed segment (its events' states as stored: plain bytes)."""
    low = data.lower()
    masked = {n: mask(value) for n, value in values}
    for needle in needles(values, copy_text=False):
        for at in _finds(low, needle.pattern):
            report.add(Hit(needle.value, masked[needle.value], needle.form,
                           f"archive {name}", offset=at))
    report.segments += 1
    report.segment_bytes += len(data)


def archive_segments(settings: Any, report: Report) -> Iterator[tuple[str, bytes]]:
    """Each segment object in the archive's storage, decompressed: those the manifest lists and
    any it does not (an interrupted append's orphan holds events too). Needs no archive key: a
    tampered manifest does not hide a segment. One that does not decompress is searched as
    stored, and named among the problems."""
    storage = open_storage(settings)
    report.archive = storage.location
    for name in storage.names(SEGMENTS):
        stored = storage.get(name)
        if stored is None:  # gone since it was listed
            continue
        try:
            yield name, decompress(stored)
        except SegmentError as exc:
            report.problems.append(f"{name} {exc}: searched as stored")
            yield name, stored


# -- the whole check -----------------------------------------------------------------------------
def verify_erasure(settings: Any, database: Any, values: Sequence[tuple[int, str]], *,
                   progress: Callable[[str], None] | None = None,
                   max_hits: int = 10_000) -> Report:
    """Every hit of ``values`` in a dump of the whole database and in every archive segment.
    ``progress`` gets a line now and then while a long dump is read."""
    report = Report(max_hits=max_hits)

    def dumped(done: int, table: str) -> None:
        if progress is not None:
            progress(f"scanned {done / 1e6:,.0f} MB of the dump" + (f" ({table})" if table
                                                                     else ""))

    with dump_stream(database.url, connect_timeout=settings.connect_timeout) as stream:
        scan_dump(stream, values, report, dumped)
    for name, data in archive_segments(settings, report):
        scan_segment(name, data, values, report)
        if progress is not None:
            progress(f"scanned archive {name}")
    return report
