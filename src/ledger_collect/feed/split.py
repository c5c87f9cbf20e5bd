"""Splitting a feed by customer group for a parallel import (``parallel``), as it is read.

Records that touch a common aggregate must run in one process, in the file's order, or their
outcome would depend on timing (a clearing before or after a payment of the same invoice). Each
line's fields are read cheaply (no checks) and the aggregates its command looks up — a customer
with its head office, an invoice with its customer, a payment with its payer, the invoices it
pays and its credit on account, a clearing, reversal or write-off with its invoice
(``importer.needed_ids``'s rule, on the raw fields) — are joined into groups (``Split``). A group
goes, whole, to the part with the fewest groups so far, the first time one of its aggregates is
met (groups keep growing after that, so dealing groups out evenly keeps the parts closer in
size than dealing by the records seen so far, which gives more to a part whose groups are young
and will grow). A record that joins groups already given to different
parts gets ``DEFERRED``, and so does every later record of the joined group.

``split`` writes each line's part into an array indexed by line number and raises a watermark
as it goes, so that the workers can read behind it while it runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from ledger_collect.feed.files import open_feed
from ledger_collect.feed.records import BadLine

#: The part of the lines deferred to the last pass (joining groups of different parts).
DEFERRED = 255
#: Lines split between two raises of the watermark (each raise takes a lock).
WATERMARK_STEP = 2048
_EXACT_JSON = json.JSONDecoder(parse_float=Decimal)  # as ``files`` reads what orjson refuses


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
        self.load = [0] * parts  # records per part
        self.groups = [0] * parts  # groups given to each part
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
            part = min(range(len(self.groups)), key=self.groups.__getitem__)
            self.part_of[group] = part
            self.groups[part] += 1
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


def split(path: Path, fmt: str | None, parts: int, mask: Any, watermark: Any,
          pace: Callable[[int], None] | None = None) -> Split:
    """Write each line's part into ``mask`` (indexed by the line it starts on), raising
    ``watermark`` (the lines decided so far) as it goes; ``pace`` is called with the watermark
    after each raise (and may wait for the readers)."""
    groups = Split(parts)
    decided = 0
    for line, raw in _fields(path, fmt):
        mask[line] = groups.part(record_keys(raw) if raw is not None else [])
        if line - decided >= WATERMARK_STEP:
            decided = watermark.value = line
            if pace:
                pace(decided)
    watermark.value = len(mask)
    return groups


def line_count(path: Path) -> int:
    """The file's physical lines (counted in C, a block at a time)."""
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
