"""Feed files: JSON Lines or CSV, one record per line or row, read lazily with line numbers.

A bad line (malformed JSON, a CSV row with the wrong number of fields, bytes that are not
UTF-8) becomes a ``BadLine`` and the reading goes on: one bad line never costs the file. Only
a file that cannot be read at all (unknown format, a CSV without its header) stops it. CSV
writes a payment's allocations as ``INV-1:40.00;INV-2:60.00``, JSON as a list of objects.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import orjson

from ledger_collect.feed.records import BadLine, Record, parse_record

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}

#: CSV header, in this order (one column per field of any kind; a row leaves the others empty).
CSV_COLUMNS = ("kind", "source_id", "date", "customer", "number", "name", "head_office",
               "segment", "risk_class", "credit_limit", "contact_id", "email", "phone", "role",
               "document_number", "invoice", "payment", "amount", "currency", "posting_date",
               "due_date", "allocations", "reason")


_JSON = json.JSONDecoder(parse_float=Decimal)  # one decoder: json.loads builds one per call


def _fast_json(line: bytes) -> Any:
    """The line's object read by orjson (~5x json's speed), or None where orjson might read it
    otherwise than ``json.loads(..., parse_float=Decimal)``: a line it refuses (malformed, bytes
    that are not UTF-8, NaN, integers beyond 64 bits: the exact reading words the error or
    keeps the bad byte for the field check), or one holding a float (orjson would round it;
    amounts are strings in our feeds, a number is read exactly as a Decimal)."""
    try:
        raw = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(raw) is dict:
        for value in raw.values():
            kind = type(value)
            if kind is float or ((kind is list or kind is dict) and _holds_float(value)):
                return None
    elif _holds_float(raw):
        return None
    return raw


def _holds_float(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return True
    if kind is list:
        return any(_holds_float(item) for item in value)
    if kind is dict:
        return any(_holds_float(item) for item in value.values())
    return False


class FeedFormatError(Exception):
    """The file as a whole cannot be read (unknown format, no CSV header...)."""


def detect_format(path: Path, given: str | None = None) -> str:
    if given:
        if given not in ("jsonl", "csv"):
            raise FeedFormatError(f"unknown format {given!r}: use jsonl or csv")
        return given
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise FeedFormatError(
            f"{path.name}: unknown format {path.suffix or '(no extension)'!r}; name the file "
            f"*.jsonl or *.csv, or pass --format") from None


class FeedReader:
    """Iterates the records of a feed file lazily; ``position`` is the bytes read so far
    (for a progress bar on a large file)."""

    def __init__(self, stream: BinaryIO, fmt: str,
                 only: Callable[[int], bool] | None = None) -> None:
        self._stream = stream
        self.format = fmt
        self.position = 0
        # Records (and bad lines) kept, by the line they start on: a parallel import's worker
        # reads only its part of the file (``parallel``); the line numbers stay the file's.
        self._only = only

    def _raw_lines(self) -> Iterator[bytes]:
        first = True
        for raw in self._stream:
            self.position += len(raw)
            if first and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            first = False
            yield raw

    def _lines(self) -> Iterator[str]:
        for raw in self._raw_lines():
            # A bad byte spoils one field, not the file: surrogates are refused per field.
            yield raw.decode("utf-8", "surrogateescape")

    def __iter__(self) -> Iterator[Record | BadLine]:
        for line, raw in self.mappings():
            yield raw if isinstance(raw, BadLine) else parse_record(raw, line)

    def mappings(self) -> Iterator[tuple[int, Mapping[str, Any] | BadLine]]:
        """Each line's fields as read, before they are checked (or why the line could not be
        read), with the line it starts on."""
        return self._jsonl() if self.format == "jsonl" else self._csv()

    def _jsonl(self) -> Iterator[tuple[int, Mapping[str, Any] | BadLine]]:
        only = self._only
        for number, line in enumerate(self._raw_lines(), start=1):
            if (only is not None and not only(number)) or not line.strip():
                continue
            raw = _fast_json(line)
            if raw is None:  # the exact reading, for lines the fast one may read otherwise
                try:
                    raw = _JSON.decode(line.decode("utf-8", "surrogateescape"))
                except (ValueError, RecursionError) as exc:
                    yield number, BadLine(number, f"malformed JSON: {exc}")
                    continue
            if not isinstance(raw, dict):
                yield number, BadLine(number, "a record must be a JSON object")
                continue
            yield number, raw

    def _csv(self) -> Iterator[tuple[int, Mapping[str, Any] | BadLine]]:
        only = self._only or (lambda _: True)
        reader = csv.reader(self._lines(), strict=True)
        header: list[str] | None = None
        start = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if only(start):
                    yield start, BadLine(start, f"bad CSV row: {exc}")
                start = reader.line_num + 1
                continue
            line, start = start, reader.line_num + 1
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if header is None:
                header = [name.strip().lower() for name in row]
                if "kind" not in header or "source_id" not in header:
                    raise FeedFormatError(
                        f"line {line}: the CSV header must name the columns (kind, source_id, "
                        f"...); got {', '.join(row[:5])}")
                continue
            if not only(line):
                continue
            if len(row) != len(header):
                yield line, BadLine(line, f"bad CSV row: {len(row)} fields, the header has "
                                          f"{len(header)}")
                continue
            yield line, dict(zip(header, row, strict=True))


def write_feed(records: Iterable[Mapping[str, Any]], out: TextIO, fmt: str) -> int:
    """Write record mappings (as the demo generator makes them) in the given format;
    deterministic bytes for the same records. Returns the number written."""
    count = 0
    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
            count += 1
        return count
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        writer.writerow([_csv_value(record.get(column)) for column in CSV_COLUMNS])
        count += 1
    return count


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):  # allocations
        return ";".join(f"{item['invoice']}:{item['amount']}" for item in value)
    return str(value)


def open_feed(path: Path, fmt: str | None = None,
              only: Callable[[int], bool] | None = None) -> tuple[FeedReader, BinaryIO]:
    """The reader and the open file (close it when done); ``only``: see ``FeedReader``."""
    fmt = detect_format(path, fmt)
    stream = path.open("rb", buffering=1 << 20)
    return FeedReader(stream, fmt, only), stream


def read_records(text: str, fmt: str) -> list[Record | BadLine]:
    """Parse a feed held in memory (tests, small inputs)."""
    return list(FeedReader(io.BytesIO(text.encode()), fmt))
