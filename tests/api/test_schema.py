"""The schema as clients see it: the committed SDL, the naming rules, the personal-data guard."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLNonNull, GraphQLObjectType, GraphQLUnionType
from strawberry.printer import print_schema

from ledger_collect.api.casework_schema import record_fields
from ledger_collect.api.permissions import RevealPersonalData
from ledger_collect.api.schema import EXPORT_COMMAND, schema
from ledger_collect.projections.casework import ActivityRecord
from ledger_collect.speedups import graphql_core_schema

SDL = Path(__file__).resolve().parents[2] / "schema" / "ledger_collect.graphql"


def test_the_committed_sdl_is_the_schema() -> None:
    exported = print_schema(schema) + "\n"  # what `strawberry export-schema --output` writes
    committed = SDL.read_text() if SDL.exists() else ""
    assert committed == exported, (
        f"schema/ledger_collect.graphql differs from the code; regenerate it with\n"
        f"    {EXPORT_COMMAND}\nand commit it")


def test_every_mutation_has_its_input_and_a_result_union_with_the_expected_failures() -> None:
    mutation = graphql_core_schema(schema).mutation_type
    assert mutation is not None
    assert len(mutation.fields) >= 37
    for name, field in mutation.fields.items():
        capital = name[0].upper() + name[1:]
        assert list(field.args) == ["input"], name
        input_type = field.args["input"].type
        assert isinstance(input_type, GraphQLNonNull), name
        assert input_type.of_type.name == f"{capital}Input", name
        result = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        assert isinstance(result, GraphQLUnionType), name
        assert result.name == f"{capital}Result", name
        members = {member.name for member in result.types}
        assert {"NotFound", "RuleBroken", "Conflict"} < members, name
        assert len(members) == 4, name


def test_every_personal_text_field_goes_through_the_guard() -> None:
    guarded = []
    for type_ in graphql_core_schema(schema).type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        definition = schema.get_type_by_name(type_.name)
        for field in getattr(definition, "fields", []):
            graphql_type = type_.fields[schema.config.name_converter.get_graphql_name(field)].type
            while hasattr(graphql_type, "of_type"):
                graphql_type = graphql_type.of_type
            if graphql_type.name == "PersonalText":
                assert any(isinstance(e, RevealPersonalData) for e in field.extensions), (
                    f"{type_.name}.{field.python_name} holds personal data: declare it with "
                    f"personal_field()")
                guarded.append(f"{type_.name}.{field.python_name}")
    assert sorted(guarded) == [
        "Activity.closing_note", "Activity.description", "CollectionEmail.attachments",
        "CollectionEmail.bcc", "CollectionEmail.cc", "CollectionEmail.last_error",
        "CollectionEmail.template", "CollectionEmail.to", "ContactPerson.contact_id",
        "ContactPerson.email", "ContactPerson.name", "ContactPerson.phone",
        "CustomerContact.contact_person_id", "CustomerContact.notes", "CustomerContact.summary",
        "CustomerNote.text",
        "DisputeNote.text", "EmailFailure.address", "EmailFailure.error",
        "EmailPreview.body", "EmailPreview.subject", "PersonalTrailField.value", "Promise.withdrawal_reason", "Resubmission.move_reason",
        "Resubmission.reason", "TimelineEntry.details", "TrailNote.text"]


def test_a_type_taken_from_a_record_describes_only_fields_it_shows() -> None:
    with pytest.raises(TypeError, match="ActivityRecord shows no field statuss"):
        record_fields(ActivityRecord, statuss="a typo")
    with pytest.raises(TypeError, match="shows no field description"):
        record_fields(ActivityRecord, leave_out=("description",), description="left out")
