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
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from ledger_collect.feed.records import BadLine, Record, parse_record

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}

#: CSV header, in this order (one column per field of any kind; a row leaves the others empty).
CSV_COLUMNS = ("kind", "source_id", "date", "customer", "number", "name", "head_office",
               "segment", "risk_class", "credit_limit", "contact_id", "email", "phone", "role",
               "document_number", "invoice", "payment", "amount", "currency", "posting_date",
               "due_date", "allocations", "reason")


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

    def __init__(self, stream: BinaryIO, fmt: str) -> None:
        self._stream = stream
        self.format = fmt
        self.position = 0

    def _lines(self) -> Iterator[str]:
        first = True
        for raw in self._stream:
            self.position += len(raw)
            if first and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            first = False
            # A bad byte spoils one field, not the file: surrogates are refused per field.
            yield raw.decode("utf-8", "surrogateescape")

    def __iter__(self) -> Iterator[Record | BadLine]:
        return self._jsonl() if self.format == "jsonl" else self._csv()

    def _jsonl(self) -> Iterator[Record | BadLine]:
        for number, text in enumerate(self._lines(), start=1):
            if not text.strip():
                continue
            try:
                raw = json.loads(text, parse_float=Decimal)
            except (ValueError, RecursionError) as exc:
                yield BadLine(number, f"malformed JSON: {exc}")
                continue
            if not isinstance(raw, dict):
                yield BadLine(number, "a record must be a JSON object")
                continue
            yield parse_record(raw, number)

    def _csv(self) -> Iterator[Record | BadLine]:
        reader = csv.reader(self._lines(), strict=True)
        header: list[str] | None = None
        start = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield BadLine(start, f"bad CSV row: {exc}")
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
            if len(row) != len(header):
                yield BadLine(line, f"bad CSV row: {len(row)} fields, the header has "
                                    f"{len(header)}")
                continue
            yield parse_record(dict(zip(header, row, strict=True)), line)


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


def open_feed(path: Path, fmt: str | None = None) -> tuple[FeedReader, BinaryIO]:
    """The reader and the open file (close it when done)."""
    fmt = detect_format(path, fmt)
    stream = path.open("rb")
    return FeedReader(stream, fmt), stream


def read_records(text: str, fmt: str) -> list[Record | BadLine]:
    """Parse a feed held in memory (tests, small inputs)."""
    return list(FeedReader(io.BytesIO(text.encode()), fmt))
