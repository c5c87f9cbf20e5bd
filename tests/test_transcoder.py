"""``FastJSONTranscoder`` (``speedups.transcoder``) writes and reads the library's JSON format:
the library's own transcoder cases run against it, and it writes the same bytes as the stock
transcoder for every kind of value our events hold."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from eventsourcing.tests import persistence as conformance

from ledger_collect.commands.application import DateAsISO
from ledger_collect.speedups.transcoder import FastJSONTranscoder


class TestFastTranscoderConformance(conformance.TranscoderTestCase):
    """The library's own transcoder cases. Where the library expects what its stock
    JSONTranscoder does not do either (tuples kept as tuples, unregistered subclasses kept as
    subclasses), the case asserts instead that we write and read exactly what the stock one
    does: the same bytes, the same value back."""

    def construct_transcoder(self) -> FastJSONTranscoder:
        transcoder = FastJSONTranscoder()
        self._register(transcoder)
        return transcoder

    @staticmethod
    def _register(transcoder: JSONTranscoder) -> None:
        transcoder.register(conformance.CustomType1AsDict())
        transcoder.register(conformance.CustomType2AsDict())
        transcoder.register(UUIDAsHex())

    def _as_stock_does(self, *values: Any) -> None:
        stock = JSONTranscoder()
        self._register(stock)
        for value in values:
            written = self.transcoder.encode(value)
            assert written == stock.encode(value), value
            assert self.transcoder.decode(written) == stock.decode(written), value

    def test_tuple(self) -> None:
        self._as_stock_does((), ((),), (1,), ((1,),), (1, "a", (2, "b")))
        assert self.transcoder.decode(self.transcoder.encode((1, (2,)))) == [1, [2]]

    def test_mixed(self) -> None:
        self._as_stock_does([(1, "a"), {"b": 2}], ([1, "a"], {"b": 2}), {"a": (1, 2), "b": [3, 4]})

    def test_dict_subclass(self) -> None:
        self._as_stock_does(conformance.Mydict({"a": 1}))
        assert type(self.transcoder.decode(self.transcoder.encode(conformance.Mydict()))) is dict

    def test_list_subclass(self) -> None:
        self._as_stock_does(conformance.MyList((("a", 1),)))

    def test_str_subclass(self) -> None:
        self._as_stock_does(conformance.MyStr("a"))

    def test_int_subclass(self) -> None:
        self._as_stock_does(conformance.MyInt(3))


def _transcoders() -> tuple[JSONTranscoder, FastJSONTranscoder]:
    stock, fast = JSONTranscoder(), FastJSONTranscoder()
    for transcoder in (stock, fast):
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
            transcoder.register(transcoding)
    return stock, fast


ODD_OFFSET = timezone(timedelta(hours=5, minutes=30, seconds=7))  # orjson would drop the 7 s
VALUES: list[Any] = [
    {"amount": Decimal("1234.50"), "cents": Decimal("0.01"), "negative": Decimal("-7.00")},
    {"customer_id": uuid.UUID("81d4e720-10d6-4ee4-8fe0-808c89464c1b"), "none": None},
    {"due": date(2026, 2, 28), "first": date(1, 1, 1), "last": date(9999, 12, 31)},
    {"utc": datetime(2026, 11, 2, 9, 30, 0, 123456, tzinfo=UTC),
     "whole_second": datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
     "naive": datetime(2026, 11, 2, 9, 30), "odd": datetime(2026, 11, 2, 9, 30, tzinfo=ODD_OFFSET)},
    {"changes": {"credit_limit": Decimal("5000.00"), "head_office_id": uuid.uuid4(), "name": "Ä"}},
    {"instalments": [{"due_date": date(2026, 12, 1), "amount": Decimal("50.00")}] * 2},
    {"invoice_ids": [uuid.uuid4(), uuid.uuid4()], "pairs": (("INV-1", Decimal("10.00")),)},
    {"failures": {"a@example.com": "550 no such user"}, "flag": True, "level": 3, "ratio": 0.5},
    {"emoji": "🐈 哈哈", "quote": 'a"b\\c', "control": "line\nbreak\t\x01"},
]


@pytest.mark.parametrize("value", VALUES)
def test_fast_transcoder_writes_the_stock_bytes_and_reads_them_back(value: Any) -> None:
    stock, fast = _transcoders()
    data = fast.encode(value)
    assert data == stock.encode(value)
    assert fast.decode(data) == stock.decode(data)
    decoded = fast.decode(data)
    for key, original in value.items():
        expected = [list(p) for p in original] if isinstance(original, tuple) else original
        assert decoded[key] == expected
        assert type(decoded[key]) is (list if isinstance(original, tuple) else type(original))


def test_fast_transcoder_keeps_the_seconds_of_an_odd_utc_offset() -> None:
    _, fast = _transcoders()
    value = datetime(2026, 11, 2, 9, 30, tzinfo=ODD_OFFSET)
    assert b'"2026-11-02T09:30:00+05:30:07"' in fast.encode({"t": value})
    assert fast.decode(fast.encode({"t": value}))["t"].utcoffset() == ODD_OFFSET.utcoffset(None)


def test_fast_transcoder_refuses_unregistered_types_with_the_stock_message() -> None:
    stock, fast = _transcoders()
    for transcoder in (stock, fast):
        with pytest.raises(TranscodingNotRegisteredError, match="<class 'set'> is not serial"):
            transcoder.encode({"ids": {1, 2}})
        with pytest.raises(TranscodingNotRegisteredError, match="name 'money_v2' is not deser"):
            transcoder.decode(b'{"a":{"_type_":"money_v2","_data_":"1"}}')


def test_fast_transcoder_keeps_a_transcoding_that_renders_otherwise() -> None:
    """A date transcoding that does not write ISO dates is used as is, not bypassed."""

    class DateAsOrdinal(DateAsISO):
        name = "date_ordinal"

        def encode(self, obj: date) -> str:
            return str(obj.toordinal())

        def decode(self, data: str) -> date:
            return date.fromordinal(int(data))

    fast = FastJSONTranscoder()
    fast.register(DateAsOrdinal())
    data = fast.encode({"d": date(2026, 11, 2)})
    assert data == b'{"d":{"_type_":"date_ordinal","_data_":"739922"}}'
    assert fast.decode(data) == {"d": date(2026, 11, 2)}
