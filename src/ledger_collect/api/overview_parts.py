"""What ``customerOverview`` reads in its one statement, declared on the fields that need it.

The overview reads the parts a query asks for, for every overview of the request, in one
statement (``read_ahead``) and puts them in the request's loaders, from which its fields then
answer at once. Which parts those are follows from the fields selected: every field below the
overview whose resolver can reach the request's loaders (it takes ``info``) says what it reads
with a ``Reads`` extension, next to its description: the parts it answers from, or the queries
of its own it costs. ``ReadsBelow`` refuses a field that says nothing when its module is
imported, so that no field costs a query unseen.

The parts are read for the overview's own customer: a field reached through another customer
(the notes of a branch) reads its loader on its own, one query for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeAlias
from uuid import UUID

from graphql import NamedTypeNode, NonNullTypeNode, OperationDefinitionNode
from strawberry.extensions import FieldExtension
from strawberry.schema.name_converter import NameConverter
from strawberry.types.base import StrawberryContainer, get_object_definition
from strawberry.types.field import UNRESOLVED
from strawberry.types.nodes import SelectedField, Selection
from strawberry.types.union import StrawberryUnion

from ledger_collect.api.memos import HELD, ByIdentity
from ledger_collect.projections import casework, correspondence, customers, disputes, open_items
from ledger_collect.projections import timeline as timelines
from ledger_collect.projections.rows import DEFAULT_PAGE, Part, fetch_parts

if TYPE_CHECKING:
    from strawberry.dataloader import DataLoader
    from strawberry.types.base import StrawberryObjectDefinition
    from strawberry.types.field import StrawberryField

    from ledger_collect.api.context import Info, Loaders


@dataclass(frozen=True, eq=False)
class OverviewPart:
    """A list of each customer that the overview's statement can read, and the loader that
    serves it to the fields."""

    name: str  # its column in the statement
    part: Part[Any]
    loader: Callable[[Loaders], DataLoader[Any, Any]]
    #: The loader's values by key, from the lists read by key.
    values: Callable[[dict[Any, list[Any]]], dict[Any, Any]] = lambda found: found


def _found_only(found: dict[UUID, list[Any]]) -> dict[UUID, Any]:
    return {key: records[0] for key, records in found.items() if records}


CUSTOMER = OverviewPart("customer", customers.CUSTOMERS, lambda loaders: loaders.customers_by_id,
                        customers.only)
#: Head offices are keyed by their own ids and fill the customers' loader with those found
#: only: it never marks a customer asked for as unknown, whatever the order of filling.
HEAD_OFFICE = OverviewPart("head_office", customers.HEAD_OFFICES,
                           lambda loaders: loaders.customers_by_id, _found_only)
BRANCHES = OverviewPart("branches", customers.BRANCHES,
                        lambda loaders: loaders.branches_by_customer)
CONTACT_PERSONS = OverviewPart("contact_persons", customers.CONTACT_PERSONS,
                               lambda loaders: loaders.contact_persons_by_customer)
NOTES = OverviewPart("notes", customers.NOTES, lambda loaders: loaders.notes_by_customer)
OPEN_ITEMS = OverviewPart("open_items", open_items.OPEN_ITEMS,
                          lambda loaders: loaders.open_items_by_customer)
CREDITS = OverviewPart("credits", open_items.CREDITS, lambda loaders: loaders.credits_by_customer)
PROMISES = OverviewPart("promises", casework.PROMISES,
                        lambda loaders: loaders.promises_by_customer)
RESUBMISSIONS = OverviewPart("resubmissions", casework.RESUBMISSIONS,
                             lambda loaders: loaders.resubmissions_by_customer)
ACTIVITIES = OverviewPart("activities", casework.ACTIVITIES,
                          lambda loaders: loaders.activities_by_customer)
DISPUTES = OverviewPart("disputes", disputes.DISPUTES, lambda loaders: loaders.disputes_by_customer)
EMAILS = OverviewPart("emails", correspondence.EMAILS, lambda loaders: loaders.emails_by_customer)
CONVERSATIONS = OverviewPart("conversations", correspondence.CONVERSATIONS,
                             lambda loaders: loaders.customer_contacts_by_customer)

#: A customer, the parts read for it, and the timeline window whose first page comes with them.
OverviewKey: TypeAlias = tuple[UUID, frozenset[OverviewPart], timelines.TimelineWindow | None]


async def read_ahead(pool: Any, loaders: Loaders, keys: Sequence[OverviewKey]) -> list[None]:
    """For ``Loaders.overview_parts``: the parts of every overview asked for, and their first
    timeline pages, read in one statement into the loaders their fields read."""
    parts = sorted(set().union(*(asked for _, asked, _ in keys)), key=attrgetter("name"))
    windows = sorted({window for _, _, window in keys if window is not None}, key=repr)
    statement = {part.name: part.part for part in parts}
    statement.update((f"timeline_{n}", timelines.window_part(w)) for n, w in enumerate(windows))
    customer_ids = list(dict.fromkeys(customer_id for customer_id, _, _ in keys))
    found = await fetch_parts(pool, statement, customer_ids)
    for n, window in enumerate(windows):
        rows = [row for rows in found[f"timeline_{n}"].values() for row in rows]
        loaders.timeline_by_customer.prime_many({
            (customer_id, window): page for customer_id, page
            in timelines.pages_of(rows, customer_ids, window).items()})
    for part in parts:
        part.loader(loaders).prime_many(part.values(found[part.name]))
    return [None] * len(keys)


class Reads(FieldExtension):
    """What a field below ``customerOverview`` reads: the overview's parts it answers from
    (none: it answers from what its parent holds) and the ``queries`` it costs on its own, for
    the whole request (its loader batches them). A ``timeline`` serves a page of the timeline:
    the first one asked for with no argument but ``first`` comes in the overview's statement.
    It takes no part in resolving: only the overview reads it."""

    def __init__(self, *parts: OverviewPart, queries: int = 0, timeline: bool = False) -> None:
        self.parts = frozenset(parts)
        self.queries = queries
        self.timeline = timeline


@dataclass(frozen=True)
class _Field:
    reads: Reads | None  # None: it cannot reach the loaders
    below: str | None  # the object type (or union) it leads to, by its GraphQL name


#: Field and type names as the schema has them (strawberry's defaults).
_NAMES = NameConverter()


class ReadsBelow:
    """The ``Reads`` of every field reachable from an object type, by GraphQL type and field
    name, from which a selection's parts follow. A field whose resolver takes ``info`` but
    declares nothing is refused (``TypeError``)."""

    def __init__(self, root: type, *always: OverviewPart) -> None:
        self._types: dict[str, dict[str, _Field]] = {}
        self._root = self._add(get_object_definition(root, strict=True))
        self._always = frozenset(always)
        self._asked = HELD.add(ByIdentity(1024))

    @property
    def parts(self) -> frozenset[OverviewPart]:
        """Every part a selection below the root may read."""
        return self._always.union(*(field.reads.parts for fields in self._types.values()
                                    for field in fields.values() if field.reads is not None))

    def asked(self, info: Info) -> tuple[frozenset[OverviewPart], int | None]:
        """The parts the field of ``info`` reads for its selection, and the length of the
        timeline page read with them (None: none is). Kept per query document and field:
        strawberry's ``selected_fields`` converts the whole selection on each call. Only an
        ``Int`` variable can give the page's length: a document declaring one is worked out
        on each call."""
        operation = info.operation
        if _declares_an_int(operation) or not HELD.admit(operation):
            return self._worked_out(info.selected_fields)
        return self._asked.get(  # type: ignore[no-any-return]
            (operation, info.path.key), lambda: self._worked_out(info.selected_fields))

    def _worked_out(self, selected: list[Selection]) -> tuple[frozenset[OverviewPart], int | None]:
        parts, timelines_asked = set(self._always), []
        for field in selected:  # the field itself, once per node of its response key
            self._collect(field.selections, self._root, parts, timelines_asked)
        first = next((n for n in map(_first_page, timelines_asked) if n is not None), None)
        return frozenset(parts), first

    def _collect(self, selections: list[Selection], on: str, parts: set[OverviewPart],
                 timelines_asked: list[dict[str, Any]]) -> None:
        fields = self._types[on]
        for selection in selections:
            if not isinstance(selection, SelectedField):  # a fragment, maybe on a union member
                condition = selection.type_condition
                self._collect(selection.selections, condition if condition in self._types else on,
                              parts, timelines_asked)
                continue
            if selection.name == "__typename":
                continue
            field = fields[selection.name]
            if field.reads is not None:
                parts.update(field.reads.parts)
                if field.reads.timeline:
                    timelines_asked.append(selection.arguments)
            if field.below is not None:
                self._collect(selection.selections, field.below, parts, timelines_asked)

    def _add(self, definition: StrawberryObjectDefinition) -> str:
        name = _NAMES.from_object(definition)
        if name not in self._types:
            fields = self._types[name] = {}  # before its fields: types refer to themselves
            for field in definition.fields:
                if field.type is UNRESOLVED:
                    raise TypeError(f"{name}.{field.python_name}: its type is not known yet")
                fields[_NAMES.get_graphql_name(field)] = _Field(_declared(name, field),
                                                               self._below(field.type))
        return name

    def _below(self, type_: Any) -> str | None:
        while isinstance(type_, StrawberryContainer):  # lists, optionals
            type_ = type_.of_type
        if isinstance(type_, StrawberryUnion):
            name = _NAMES.from_union(type_)
            self._types.setdefault(name, {})  # only __typename and fragments on its members
            for member in type_.types:
                self._below(member)
            return name
        definition = get_object_definition(type_)
        return None if definition is None else self._add(definition)


def _declared(type_name: str, field: StrawberryField) -> Reads | None:
    declared = next((e for e in field.extensions if isinstance(e, Reads)), None)
    resolver = field.base_resolver
    if declared is None and resolver is not None and resolver.info_parameter is not None:
        raise TypeError(f"{type_name}.{field.python_name} can reach the request's loaders below "
                        f"customerOverview but does not say what it reads: give it a Reads "
                        f"extension (api/overview_parts.py)")
    return declared


def _first_page(arguments: dict[str, Any]) -> int | None:
    """The length of a timeline page of every type from its start (no argument but
    ``first``), or None."""
    if set(arguments) - {"first"}:
        return None
    first = arguments.get("first", DEFAULT_PAGE)
    length = int(first) if first is not None else 0  # a literal comes as its text
    return length if length >= 1 else None


def _declares_an_int(operation: OperationDefinitionNode) -> bool:
    for definition in operation.variable_definitions or ():
        type_ = definition.type
        if isinstance(type_, NonNullTypeNode):
            type_ = type_.type
        if isinstance(type_, NamedTypeNode) and type_.name.value == "Int":
            return True
    return False
