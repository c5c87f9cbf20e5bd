"""Every reach into a library's internals: the speed-ups, each of which can be switched off.

The libraries' plain paths are correct, and slow where this project is hot: an ERP import saves
hundreds of thousands of events, an overview completes hundreds of GraphQL fields. Each module
here replaces one part of a library by a faster one that keeps that part's contract, and relies
on internals the library does not promise to keep. ``tests/test_speedups.py`` pins the source of
every internal name they touch, for the library versions in use, so that an upgrade that changes
one fails a test instead of drifting; it also fails when a pinned name is used outside this
package.

``Settings.speedups`` (``LEDGER_SPEEDUPS``) says which run: ``on`` (the default), ``off``, or
the names of those to turn off, each with a leading ``-`` (``-execution,-documents``). A speed-up
that is off leaves the library's own part in its place, so the plain path stays runnable: to
tell a library's behaviour from ours, and to measure what each one brings
(``docs/performance.md``).

One reach is no speed-up: ``graphql_core_schema``, for want of a public accessor.
This module imports no library: ``config`` reads the setting through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The speed-ups by name, with the library part each replaces.
SPEEDUPS: dict[str, str] = {
    "events": "eventsourcing: an aggregate's @event methods and its creation",
    "save": "eventsourcing: Application.save and EventStore.put",
    "mapper": "eventsourcing: Mapper.to_stored_event and Mapper.to_domain_event",
    "transcoder": "eventsourcing: JSONTranscoder (the same format, written with orjson)",
    "recorder": "eventsourcing: the PostgreSQL recorder's insert and its retries",
    "execution": "graphql-core: the execution of fields without a resolver",
    "documents": "strawberry: parsing and validating every request's document",
    "loaders": "strawberry: what a DataLoader keeps of its last batch",
    "sockets": "uvicorn: the one socket its workers share",
}
EVENTS, SAVE, MAPPER, TRANSCODER, RECORDER, EXECUTION, DOCUMENTS, LOADERS, SOCKETS = SPEEDUPS


class SpeedupsSettingError(ValueError):
    pass


@dataclass(frozen=True)
class Speedups:
    """Which speed-ups are off (none by default)."""

    off: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = sorted(self.off - SPEEDUPS.keys())
        if unknown:
            raise SpeedupsSettingError(
                f"LEDGER_SPEEDUPS: no speed-up is named {', '.join(unknown)}; the names are "
                f"{', '.join(SPEEDUPS)}")

    def on(self, name: str) -> bool:
        if name not in SPEEDUPS:
            raise KeyError(name)
        return name not in self.off

    @classmethod
    def parse(cls, text: str | None) -> Speedups:
        """``on`` (or nothing), ``off``, or ``-name,-name``: those off, the others on."""
        value = (text or "").strip().lower()
        if value in ("", "on"):
            return cls()
        if value == "off":
            return cls(frozenset(SPEEDUPS))
        names = [part.strip() for part in value.split(",") if part.strip()]
        if not all(name.startswith("-") for name in names):
            raise SpeedupsSettingError(
                f"LEDGER_SPEEDUPS={text!r}: give on, off, or the speed-ups to turn off, each "
                f"with a leading '-' (for example -execution,-documents)")
        return cls(frozenset(name[1:].strip() for name in names))

    def __str__(self) -> str:
        """The setting's text (``parse`` reads it back)."""
        if not self.off:
            return "on"
        if self.off == SPEEDUPS.keys():
            return "off"
        return ",".join(f"-{name}" for name in SPEEDUPS if name in self.off)


def graphql_core_schema(schema: Any) -> Any:
    """The graphql-core schema a strawberry schema built, which strawberry offers under a
    private name only. No speed-up: ``api.arguments`` wraps its fields' resolvers."""
    return schema._schema
