"""The speed-ups (``ledger_collect.speedups``): every library internal they touch is pinned to the
library version in use, none is used outside the package, and ``LEDGER_SPEEDUPS`` switches each
of them to the library's own part.

A pin is the sha256 (first 16 digits) of library source: of a function or class a speed-up
mirrors, overrides or relies on, or, for a name it reads or sets, of every line of the library
module that mentions that name. When a pin fails, the library changed what a speed-up relies on:
read the new source, bring the speed-up in line (or drop it), then update the digest.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import importlib
import importlib.metadata
import inspect
import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.domain import BoundCommandMethodDecorator
from eventsourcing.persistence import EventStore, JSONTranscoder
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresProcessRecorder
from strawberry.dataloader import DataLoader
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from ledger_collect.api.context import Loaders
from ledger_collect.api.schema import schema_for
from ledger_collect.commands.application import Collections
from ledger_collect.commands.receivable_commands import add_contact, register_customer
from ledger_collect.config import Settings
from ledger_collect.speedups import (
    SPEEDUPS,
    Speedups,
    SpeedupsSettingError,
    events,
    saving,
)
from ledger_collect.speedups.documents import QueryDocumentCache
from ledger_collect.speedups.execution import FastExecutionContext
from ledger_collect.speedups.mapper import FastSealingMapper
from ledger_collect.speedups.recorder import _RETRIED, FastApplicationRecorder
from ledger_collect.speedups.saving import FastEventStore
from ledger_collect.speedups.transcoder import FastJSONTranscoder
from ledger_collect.storage.database import Database
from ledger_collect.storage.personal_data import SealingMapper

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "ledger_collect"
SPEEDUPS_PACKAGE = PACKAGE / "speedups"
TODAY = date(2026, 11, 23)


# -- the pins -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pin:
    """A library internal a speed-up relies on: ``name`` in ``module`` (a dotted path below
    it), its source's digest, and, for a name private to the library, how a use of it looks in
    our code (a regex) so that no module outside the speed-ups may use it."""

    module: str
    name: str
    digest: str
    used_as: str | None = None

    def __str__(self) -> str:
        return f"{self.module}:{self.name}"

    def source(self) -> str:
        """The source of what ``name`` names, or every line of the module naming it."""
        module = importlib.import_module(self.module)
        found: Any = module
        try:
            for part in self.name.split("."):
                found = getattr(found, part)
            return inspect.getsource(found)
        except (AttributeError, TypeError, OSError):
            word = re.compile(rf"(?<![\w-]){re.escape(self.name.rpartition('.')[2])}(?![\w-])")
            return "\n".join(line.strip() for line in inspect.getsource(module).splitlines()
                             if word.search(line))

    def actual(self) -> str:
        return hashlib.sha256(self.source().encode()).hexdigest()[:16]


#: The library versions the pins were taken on (for the failure message).
PINNED_ON = {"eventsourcing": "9.5.6", "graphql-core": "3.3.2",
             "strawberry-graphql": "0.341.3", "uvicorn": "0.55.0"}

_D = "eventsourcing.domain"
_A = "eventsourcing.application"
_P = "eventsourcing.persistence"
_PG = "eventsourcing.postgres"
_X = "graphql.execution.executor"
_S = "strawberry.schema.schema"
PINS = [
    # events: the steps of @event methods and of creation, and the tables the library keeps
    Pin(_D, "BoundCommandMethodDecorator.trigger", "8cbb657be747b70e", r"\bBoundCommandMethodDecorator\b"),
    Pin(_D, "BaseAggregate.trigger_event", "4724a6ca76a5c9ff", r"\bBaseAggregate\b"),
    Pin(_D, "BaseAggregate._create", "18222c00033ba1d2", r"\._create\b"),
    Pin(_D, "BaseAggregate.__base_init__", "167fcfa2866b8065", r"\b__base_init__\b"),
    Pin(_D, "CanMutateAggregate.mutate", "08f5d7f1430f7f21", r"\bCanMutateAggregate\b"),
    Pin(_D, "CanMutateAggregate.apply", "d0e99cd200963de2"),
    Pin(_D, "CanInitAggregate.mutate", "e700ce4c152450bf", r"\bCanInitAggregate\b"),
    Pin(_D, "DecoratedFuncCaller.apply", "668acbdcebd0579f", r"\bDecoratedFuncCaller\b"),
    Pin(_D, "MetaAggregate.__call__", "36c60934ffb553c1", r"\bMetaAggregate\b"),
    Pin(_D, "CommandMethodDecorator.__init__", "911fef0a81dca7ed", r"\bCommandMethodDecorator\b"),
    Pin(_D, "DomainEvent.create_timestamp", "bf993f324d55b05f"),
    Pin(_D, "decorated_func_callers", "1019af91f16c4a85", r"\bdecorated_func_callers\b"),
    Pin(_D, "decorated_funcs", "59a6c4d1a77cca4b", r"\bdecorated_funcs\b"),
    Pin(_D, "_check_explicit_topic_is_registered", "265f5925677db238",
        r"\b_check_explicit_topic_is_registered\b"),
    Pin(_D, "_created_event_classes", "3c15bafc5a888fd3", r"\b_created_event_classes\b"),
    Pin(_D, "_init_mentions_id", "5fcc57ae1208dd01", r"\b_init_mentions_id\b"),
    Pin(_D, "_annotations_mention_id", "63182242dcafb2cd", r"\b_annotations_mention_id\b"),
    Pin(_D, "_create_id_param_names", "85ccad2be5035b9d", r"\b_create_id_param_names\b"),
    # save: Application.save's steps, and the frozen records the event store makes
    Pin(_A, "Application.save", "4e9747d14b8fd046"),
    Pin(_A, "Application._record", "104c6186b29d5059", r"\._record\b"),
    Pin(_A, "Application._take_snapshots", "ae98c5b97ed9a8e3", r"\b_take_snapshots\b"),
    Pin(_A, "Application._notify", "6b32f9fc4b4cf455", r"\._notify\b"),
    Pin(_A, "Application.notify", "d541f3a8a3b0b6f8"),
    Pin(_A, "ProcessingEvent", "3c5de0db156d7e34", r"\bProcessingEvent\b"),
    Pin(_P, "EventStore.put", "7cbbe45730a0d3b9"),
    Pin(_P, "Recording", "ec0cc274251f5795"),
    Pin(_P, "Notification", "8ad5a2aa4bb7ed7d"),
    # mapper and transcoder: the steps and the format they mirror
    Pin(_P, "Mapper.to_stored_event", "ff9e72e538d73a3a"),
    Pin(_P, "Mapper.to_domain_event", "6ec02f2a3b6e233a"),
    Pin(_P, "StoredEvent", "d9d011caf268395d"),
    Pin(_P, "find_id_convertor", "1da51c84cba70b8e", r"\bfind_id_convertor\b"),
    Pin(_P, "JSONTranscoder", "124acc715d00816a"),
    # recorder: the insert's private steps, and the retry it replaces
    Pin(_PG, "PostgresApplicationRecorder.insert_events", "f1a98da0239e3ea7"),
    Pin(_PG, "PostgresApplicationRecorder._insert_events", "319d1ce6f3f9c865", r"\b_insert_events\b"),
    Pin(_PG, "PostgresProcessRecorder._insert_events", "0c105d6d23c12d5e"),
    Pin(_PG, "PostgresApplicationRecorder._insert_stored_events", "139580714a659085",
        r"\b_insert_stored_events\b"),
    Pin(_PG, "PostgresApplicationRecorder._fetch_ids_after_insert_events", "9c8efbc1baf72b52",
        r"\b_fetch_ids_after_insert_events\b"),
    Pin(_PG, "PostgresApplicationRecorder._lock_table", "42bc9c135b4a93c1", r"\b_lock_table\b"),
    Pin(_PG, "PostgresApplicationRecorder._notify_channel", "9e5bab72ecfbcf2e", r"\b_notify_channel\b"),
    Pin(_PG, "lock_table_statements", "ab7329612bddc863", r"\block_table_statements\b"),
    Pin(_PG, "channel_name", "93296e6cd638fab3", r"\bchannel_name\b"),
    Pin("eventsourcing.utils", "retry", "bd2bcbd7bb27acd4", r"__wrapped__"),
    # execution: graphql-core's executor and the fields strawberry defines
    Pin(_X, "Executor.__init__", "9b630bd4461cc4ea"),
    Pin(_X, "Executor.execute_fields", "797f54fbd779b4e3"),
    Pin(_X, "Executor.complete_iterable_value", "bdb49d2d91f1e312"),
    Pin(_X, "Executor.collect_subfields", "53924d281ad7f699"),
    Pin(_X, "Executor.get_stream_usage", "4db3c68d5a439b81"),
    Pin("graphql.execution.incremental.incremental_executor", "IncrementalExecutor.build_response",
        "2ee96405a3a0dce0"),
    Pin(_X, "_relevant_sub_fields", "86436db7fc47bcf9", r"\b_relevant_sub_fields\b"),
    Pin("graphql.execution.collect_fields", "FieldDetails", "60025c4a9a7fc5e3"),
    Pin("graphql.execution.collect_fields", "FragmentDetails", "d7d5a4b0c7de4c65"),
    Pin(_S, "StrawberryGraphQLCoreExecutionContext", "61e417afeaa66527",
        r"\bStrawberryGraphQLCoreExecutionContext\b"),
    Pin("strawberry.resolvers", "is_default_resolver", "369f83ee6eeec7a3", r"\bis_default_resolver\b"),
    Pin("strawberry.schema.schema_converter", "_is_default", "e1008d77dfd2720f", r"\b_is_default\b"),
    Pin("strawberry.schema.schema_converter", "strawberry-definition", "effb12825d71a6c4",
        r"strawberry-definition"),
    Pin("strawberry.types.field", "default_resolver", "09a33f408d3b6ed5"),
    # documents: strawberry's parsing and validation steps, and its graphql-core schema
    Pin(_S, "_parse_operation_document", "6816c6ff52b3cca8", r"\b_parse_operation_document\b"),
    Pin(_S, "_run_validation", "8f2b2eef9b75c8ef", r"\b_run_validation\b"),
    Pin(_S, "validate_document", "c02c861b06ae126f", r"\bvalidate_document\b"),
    Pin(_S, "_schema", "f73bdb9ae7ada3ff", r"(?<!self)\._schema\b"),
    # loaders: the batch a DataLoader keeps
    Pin("strawberry.dataloader", "batch", "4558a0e81041fd21", r"\.batch\b(?!\s*\()"),
    # sockets: uvicorn hands its sockets to each worker it (re)starts by pickling them
    Pin("uvicorn._subprocess", "get_subprocess", "247e5f2553cc9d30", r"\b_subprocess\b"),
    Pin("uvicorn._subprocess", "subprocess_started", "97b401e8e1eee89c"),
    Pin("uvicorn.supervisors.multiprocess", "Process.__init__", "a8c85f799aae5b2c"),
    Pin("uvicorn.supervisors.multiprocess", "Multiprocess.init_processes", "6c69f2a36bf55750"),
    Pin("uvicorn.supervisors.multiprocess", "Multiprocess.restart_all", "438dec6d95be9fcd"),
    Pin("uvicorn.supervisors.multiprocess", "Multiprocess.keep_subprocess_alive", "3ba4980aa33bcecd"),
]


@pytest.mark.parametrize("pin", PINS, ids=str)
def test_the_library_internals_the_speedups_rely_on_are_as_pinned(pin: Pin) -> None:
    versions = {name: importlib.metadata.version(name) for name in PINNED_ON}
    assert pin.actual() == pin.digest, (
        f"{pin} changed (pinned on {PINNED_ON}, installed {versions}): review the speed-up "
        f"that relies on it against the new source, then update its digest")


def _code(text: str) -> list[str]:
    """The lines of a module's source with its comments and docstrings (triple-quoted strings)
    blanked: what it says about a name is no use of it."""
    lines = text.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT or (
                token.type == tokenize.STRING and token.string.lstrip("rRbBuUfF")[:3] in
                ('"""', "'''")):
            (first, start), (last, end) = token.start, token.end
            for row in range(first, last + 1):
                line = lines[row - 1]
                left = start if row == first else 0
                right = end if row == last else len(line)
                lines[row - 1] = line[:left] + " " * (right - left) + line[right:]
    return lines


def _our_sources() -> Iterator[tuple[Path, list[str]]]:
    """Our modules outside the speed-ups package, and the benchmarks: their code lines."""
    for path in sorted([*PACKAGE.rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]):
        if SPEEDUPS_PACKAGE not in path.parents:
            yield path, _code(path.read_text())


def test_no_pinned_library_internal_is_used_outside_the_speedups_package() -> None:
    used = [f"{path.relative_to(ROOT)}:{number}: {pin} ({line.strip()})"
            for path, lines in _our_sources()
            for number, line in enumerate(lines, start=1)
            for pin in PINS if pin.used_as and re.search(pin.used_as, line)]
    assert used == []


#: The standard library's names with a leading underscore that are documented as public.
DOCUMENTED = {"_exit"}  # os._exit: how a forked child ends without the parent's cleanup


def _our_private_names() -> set[str]:
    """Names with a leading underscore that our own code defines (functions, classes,
    attributes, module names, constants)."""
    patterns = (r"\bdef (_\w+)", r"\bclass (_\w+)", r"\.(_\w+)\s*(?::[^=\n]*)?=(?!=)",
                r"^\s*(_\w+)\s*(?::[^=\n]*)?=(?!=)", r"^\s+(_\w+)\s*:")
    return {name for path in PACKAGE.rglob("*.py") for pattern in patterns
            for name in re.findall(pattern, path.read_text(), re.MULTILINE)}


def test_no_private_name_of_a_library_is_reached_outside_the_speedups_package() -> None:
    """An attribute with a leading underscore read on anything but ``self`` or ``cls``, or
    imported, that our code does not define, belongs to a library: only the speed-ups may."""
    ours = _our_private_names()
    reached: dict[str, list[str]] = {}
    for path, lines in _our_sources():
        for number, code in enumerate(lines, start=1):
            names = [name for receiver, name in re.findall(r"(\w+|\))\.(_[A-Za-z]\w*)", code)
                     if receiver not in ("self", "cls") and not name.startswith("__")]
            imported = re.match(r"\s*(?:from\s+(\S+)\s+import\s+(.*)|import\s+(\S+))", code)
            if imported:
                module = imported[1] or imported[3]
                names += re.findall(r"(?:^|\.)(_[A-Za-z]\w*)", module)
                names += re.findall(r"\b(_[A-Za-z]\w*)", imported[2] or "")
            for name in names:
                if name not in ours and name not in DOCUMENTED:
                    reached.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{number}")
    assert reached == {}


def test_the_retried_methods_of_the_library_recorders_are_those_the_fast_one_retries() -> None:
    """``recorder.fail_fast`` re-wraps the methods the library retries (``__wrapped__``)."""
    for recorder_class in (PostgresApplicationRecorder, PostgresProcessRecorder):
        retried = {name for name in dir(recorder_class)
                   if hasattr(getattr(recorder_class, name), "__wrapped__")}
        assert retried <= {*_RETRIED, "insert_events"}, recorder_class
    assert set(_RETRIED) <= {name for name in dir(PostgresProcessRecorder)
                             if hasattr(getattr(PostgresProcessRecorder, name), "__wrapped__")}


# -- the switch ---------------------------------------------------------------------------------
def test_the_setting_names_the_speedups_to_turn_off() -> None:
    everything, nothing = Speedups(), Speedups(frozenset(SPEEDUPS))
    for text in (None, "", "on", " ON "):
        assert Speedups.parse(text) == everything
    assert Speedups.parse("off") == nothing
    some = Speedups.parse("-execution, -documents")
    assert some.off == {"execution", "documents"}
    assert not some.on("execution") and some.on("events")
    for speedups in (everything, nothing, some):
        assert Speedups.parse(str(speedups)) == speedups
    assert str(some) == "-execution,-documents"
    assert Settings.from_env({"LEDGER_SPEEDUPS": "-sockets"}).speedups.off == {"sockets"}
    assert Settings.from_env({}).speedups == everything
    with pytest.raises(SpeedupsSettingError, match="no speed-up is named executions"):
        Speedups.parse("-executions")
    with pytest.raises(SpeedupsSettingError, match="leading '-'"):
        Speedups.parse("execution")
    with pytest.raises(KeyError):
        everything.on("executions")


@pytest.fixture
def fast_events_restored() -> Iterator[None]:
    """The events' fast path is switched for the whole process: on again afterwards."""
    yield
    events.switch(True)


def _collections(database: Database, speedups: Speedups) -> Collections:
    return Collections(database, database.settings.with_changes(speedups=speedups))


@pytest.mark.usefixtures("fast_events_restored")
@pytest.mark.parametrize("speedups", [Speedups(), Speedups.parse("off")], ids=["on", "off"])
def test_the_write_side_runs_the_parts_the_setting_names(
        database: Database, speedups: Speedups, monkeypatch: pytest.MonkeyPatch) -> None:
    on = speedups == Speedups()
    library_triggers: list[Any] = []  # events made by the library's path
    library_trigger = BoundCommandMethodDecorator.trigger

    def trigger(self: Any, *args: Any, **kwargs: Any) -> Any:
        library_triggers.append(self)
        return library_trigger(self, *args, **kwargs)

    fast_saves: list[Any] = []
    fast_save = saving.save

    def save(*args: Any, **kwargs: Any) -> Any:
        fast_saves.append(args)
        return fast_save(*args, **kwargs)

    monkeypatch.setattr(BoundCommandMethodDecorator, "trigger", trigger)
    monkeypatch.setattr(saving, "save", save)
    app = _collections(database, speedups)
    try:
        assert type(app.recorder) is (FastApplicationRecorder if on
                                      else PostgresApplicationRecorder)
        assert type(app.mapper.transcoder) is (FastJSONTranscoder if on else JSONTranscoder)
        assert type(app.mapper) is (FastSealingMapper if on else SealingMapper)
        assert type(app.events) is (FastEventStore if on else EventStore)
        customer_id = app.run(
            register_customer, number="S1", name="Acme", segment="S1",
            credit_limit=Decimal(5000), currency="EUR", risk_class="B", source_id="s1",
            actor="erp", business_date=TODAY).result
        app.run(add_contact, customer_id, "k1", name="Jeanne Martin", email="jm@acme.example",
                actor="alice", business_date=TODAY)
        assert (library_triggers == []) is on
        assert (fast_saves != []) is on
        assert app.repository.get(customer_id).contacts["k1"]["name"] == "Jeanne Martin"
    finally:
        app.close()


def _extension_types(schema: Any) -> set[type]:
    return {made if isinstance(made, type) else type(made()) for made in schema.extensions}


def test_the_api_schema_runs_strawberrys_own_parts_with_the_speedups_off() -> None:
    fast, plain = schema_for(Speedups()), schema_for(Speedups.parse("off"))
    assert fast.execution_context_class is FastExecutionContext
    assert plain.execution_context_class is StrawberryGraphQLCoreExecutionContext
    assert QueryDocumentCache in _extension_types(fast)
    assert QueryDocumentCache not in _extension_types(plain)
    assert schema_for(Speedups()) is fast  # made once a process


@pytest.mark.parametrize("speedups", [Speedups(), Speedups.parse("-loaders")],
                         ids=["on", "off"])
def test_loaders_drop_their_last_batch_only_with_the_speedup_on(speedups: Speedups) -> None:
    async def released() -> Any:
        async def echo(keys: list[Any]) -> list[Any]:
            return list(keys)

        loaders = Loaders(**{field.name: DataLoader(load_fn=echo)
                             for field in dataclasses.fields(Loaders) if field.init})
        loaders.overview_parts = DataLoader(load_fn=echo)
        assert await loaders.customers_by_id.load(7) == 7
        assert loaders.customers_by_id.batch is not None  # kept once loaded
        loaders.release(speedups)
        assert loaders.customers_by_id.cache_map.get(7) is None  # cleared either way
        return loaders.customers_by_id.batch

    assert (asyncio.run(released()) is None) is speedups.on("loaders")
