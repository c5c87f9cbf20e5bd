"""The stock JSON format of the eventsourcing library, written and read with orjson.

The library's JSON transcoder calls back into Python (``json``'s ``default`` hook) for every
UUID, Decimal and date of every event: most of an import's encoding time.
``FastJSONTranscoder`` is a drop-in for it: the same tagged ``{"_type_": …, "_data_": …}``
objects from the same registered transcodings, the same bytes for what our events hold, so
either transcoder reads what the other wrote. It mirrors ``JSONTranscoder``'s format, relying
on no private name of the library.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder, Transcoding, TranscodingNotRegisteredError

_PLAIN = frozenset({str, int, float, bool, type(None)})
_NATIVE_SAMPLES: dict[type, tuple[Any, ...]] = {  # types orjson renders itself, much faster
    date: (date(2026, 1, 2), date(1, 1, 1), date(9999, 12, 31)),
    datetime: (
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 6),
        datetime(1, 1, 1),
    ),
}


def _renders_like_orjson(transcoding: Transcoding) -> bool:
    """Does the transcoding encode its type exactly as orjson renders it natively? Then the
    value can go to orjson as is, inside the usual tag, and the bytes stay the same."""
    samples = _NATIVE_SAMPLES.get(transcoding.type, ())
    try:
        return bool(samples) and all(
            orjson.loads(orjson.dumps(v)) == transcoding.encode(v) for v in samples
        )
    except Exception:  # noqa: BLE001 - any failure means: use its encode()
        return False


class FastJSONTranscoder(JSONTranscoder):
    """The stock JSON format, encoded and decoded with orjson.

    Values of a registered type are tagged ``{"_type_": name, "_data_": …}`` as the stock
    transcoder tags them (exact type match, so ``date`` and ``datetime`` keep their own
    transcodings); dicts, lists and tuples are walked; anything else raises the stock
    ``TranscodingNotRegisteredError``. Where a transcoding encodes a date or a UTC/naive
    datetime exactly as orjson renders it, orjson does the rendering (in Rust). Same bytes as
    the stock encoder for what our events hold (str, int, bool, None, Decimal, UUID, date,
    datetime, dict, list, tuple). Differences, none of which our events use: integers beyond
    64 bits are refused, float NaN/Infinity written as null, floats in orjson's shortest form;
    a dict/list/str/int subclass with a transcoding of its own is tagged (the stock C encoder
    writes it as its base type).
    """

    def __init__(self) -> None:
        super().__init__()
        self._taggers: dict[type, Callable[[Any], Any]] = {
            dict: self._tagged_dict,
            list: self._tagged_list,
            tuple: self._tagged_list,
        }
        self._untaggers: dict[str, Callable[[Any], Any]] = {}

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        name, encode, decode = transcoding.name, transcoding.encode, transcoding.decode
        kind = transcoding.type
        if kind in _PLAIN or kind in (dict, list, tuple):
            self._taggers.pop(kind, None)  # handled like the stock encoder: never tagged
        elif kind is datetime and _renders_like_orjson(transcoding):
            utc = UTC

            def tag_datetime(v: datetime) -> dict[str, Any]:
                tz = v.tzinfo  # orjson drops the seconds of odd offsets: only UTC and naive
                return {"_type_": name, "_data_": v if tz is utc or tz is None else encode(v)}

            self._taggers[kind] = tag_datetime
        elif _renders_like_orjson(transcoding):
            self._taggers[kind] = lambda v: {"_type_": name, "_data_": v}
        else:
            plain, tagged = _PLAIN, self._tagged
            self._taggers[kind] = lambda v: {
                "_type_": name,
                "_data_": d if type(d := encode(v)) in plain else tagged(d),
            }
        self._untaggers[name] = decode

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(self._tagged(obj), option=orjson.OPT_NON_STR_KEYS)

    def decode(self, data: bytes) -> Any:
        return self._untagged(orjson.loads(data))

    def _tagged(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _PLAIN:
            return obj
        return self._taggers.get(kind, self._tagged_otherwise)(obj)

    def _tagged_otherwise(self, obj: Any) -> Any:
        """Unregistered subclasses of JSON types are written as their base type, as json does;
        anything else is refused."""
        if isinstance(obj, dict):
            return self._tagged_dict(obj)
        if isinstance(obj, (list, tuple)):
            return self._tagged_list(obj)
        if isinstance(obj, (str, int, float)):
            return obj
        msg = (
            f"Object of type {type(obj)} is not serializable. Please define and register "
            "a custom transcoding for this type."
        )
        raise TranscodingNotRegisteredError(msg)

    # The two walks look each value's tagger up inline: one Python call per tagged value.
    def _tagged_dict(self, obj: dict[Any, Any]) -> dict[Any, Any]:
        plain, taggers, otherwise = _PLAIN, self._taggers, self._tagged_otherwise
        return {
            k: v if (kind := type(v)) in plain else taggers.get(kind, otherwise)(v)
            for k, v in obj.items()
        }

    def _tagged_list(self, obj: list[Any] | tuple[Any, ...]) -> list[Any]:
        plain, taggers, otherwise = _PLAIN, self._taggers, self._tagged_otherwise
        return [v if (kind := type(v)) in plain else taggers.get(kind, otherwise)(v) for v in obj]

    def _untagged(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is dict:
            if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
                return self._untag(obj)
            return self._untagged_dict(obj)
        if kind is list:
            untagged = self._untagged
            return [untagged(v) if type(v) in (dict, list) else v for v in obj]
        return obj

    def _untag(self, obj: dict[str, Any]) -> Any:
        name = obj["_type_"]
        try:
            decode = self._untaggers[name]
        except (KeyError, TypeError):
            msg = (
                f"Data serialized with name '{name}' is not deserializable. "
                "Please register a custom transcoding for this type."
            )
            raise TranscodingNotRegisteredError(msg) from None
        data = obj["_data_"]
        return decode(self._untagged(data) if type(data) in (dict, list) else data)

    def _untagged_dict(self, obj: dict[Any, Any]) -> dict[Any, Any]:
        """An event's state: mostly plain values and tagged leaves (a UUID, a Decimal, a
        date), decoded here without a call of ``_untagged`` each."""
        untaggers, untagged = self._untaggers, self._untagged
        out = {}
        for k, v in obj.items():
            kind = type(v)
            if kind is dict:
                if len(v) == 2 and "_type_" in v and "_data_" in v:
                    data = v["_data_"]
                    decode = untaggers.get(v["_type_"]) if type(v["_type_"]) is str else None
                    if decode is not None and type(data) is str:
                        v = decode(data)
                    else:
                        v = self._untag(v)
                else:
                    v = self._untagged_dict(v)
            elif kind is list:
                v = untagged(v)
            out[k] = v
        return out
