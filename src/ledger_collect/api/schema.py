"""The GraphQL schema: Query and Mutation composed from one class per feature, and the limits
every operation is held to.

Exported to ``schema/ledger_collect.graphql`` (committed; a test fails when they differ):

    strawberry export-schema ledger_collect.api.schema:schema --output schema/ledger_collect.graphql
    python -m ledger_collect.api.schema > schema/ledger_collect.graphql   # the same, no extras
"""

from __future__ import annotations

import functools

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from ledger_collect.api.activities_schema import ActivityMutations
from ledger_collect.api.agency_schema import AgencyMutations
from ledger_collect.api.arguments import guard_arguments
from ledger_collect.api.audit import AuditQuery
from ledger_collect.api.contacts_schema import ContactMutations
from ledger_collect.api.customers_schema import CustomerMutations, CustomerQuery
from ledger_collect.api.disputes_schema import DisputeMutations
from ledger_collect.api.dunning_proposal_schema import DunningProposalQuery
from ledger_collect.api.dunning_schema import DunningMutations, DunningQuery
from ledger_collect.api.email_templates_schema import EmailTemplateMutations, EmailTemplateQuery
from ledger_collect.api.emails_schema import EmailMutations
from ledger_collect.api.erasure_schema import ErasureMutations, ErasureQuery
from ledger_collect.api.errors import (
    Conflict,
    MaskInternalErrors,
    NotFound,
    RuleBroken,
    code_client_errors,
)
from ledger_collect.api.jobs_schema import JobMutations, JobQuery
from ledger_collect.api.limits import fixed_rules
from ledger_collect.api.lists_schema import ListQuery
from ledger_collect.api.overview_schema import OverviewQuery
from ledger_collect.api.permissions import PERSONAL_TEXT, Personal
from ledger_collect.api.promises_schema import PromiseMutations
from ledger_collect.api.receivables_schema import ReceivableMutations
from ledger_collect.api.reports_schema import ReportQuery
from ledger_collect.api.resubmissions_schema import ResubmissionMutations
from ledger_collect.api.retention_schema import RetentionMutations, RetentionQuery
from ledger_collect.api.strategies_schema import StrategyMutations
from ledger_collect.api.teams_schema import TeamMutations, TeamQuery
from ledger_collect.api.timeline_schema import TimelineQuery
from ledger_collect.api.viewer import ViewerQuery
from ledger_collect.api.worklist_schema import WorklistQuery
from ledger_collect.speedups import DOCUMENTS, EXECUTION, Speedups, graphql_core_schema
from ledger_collect.speedups.documents import QueryDocumentCache, QueryDocuments
from ledger_collect.speedups.execution import FastExecutionContext

#: Deep enough for the customer overview (customer → open items → promise → instalments ...).
MAX_DEPTH = 10
#: Aliases let one request ask for the same expensive field many times over.
MAX_ALIASES = 15
#: Tokens of the query document (a big GraphiQL query is ~1,000).
MAX_TOKENS = 2000
EXPORT_COMMAND = ("strawberry export-schema ledger_collect.api.schema:schema "
                  "--output schema/ledger_collect.graphql   (needs strawberry-graphql[cli]; "
                  "or: python -m ledger_collect.api.schema > schema/ledger_collect.graphql)")


@strawberry.type
class Query(ViewerQuery, CustomerQuery, AuditQuery, ListQuery, TimelineQuery, OverviewQuery,
            WorklistQuery, ReportQuery, TeamQuery, EmailTemplateQuery, DunningQuery,
            DunningProposalQuery, JobQuery, ErasureQuery, RetentionQuery):
    pass


@strawberry.type
class Mutation(CustomerMutations, ContactMutations, ReceivableMutations, PromiseMutations,
               DisputeMutations, ResubmissionMutations, ActivityMutations, EmailMutations,
               StrategyMutations, TeamMutations, EmailTemplateMutations, DunningMutations,
               AgencyMutations, JobMutations, ErasureMutations, RetentionMutations):
    pass


class Schema(strawberry.Schema):
    documents: QueryDocuments  # the query texts it parsed and validated lately

    def process_errors(self, errors: list[GraphQLError],
                       execution_context: ExecutionContext | None = None) -> None:
        """Client errors (validation, denials) are the client's business, and internal ones
        are logged with their id by ``MaskInternalErrors``: nothing more to log here. Those
        graphql-core reports without a code get theirs (strawberry calls this with the errors
        of every answer that has some, before they are masked or sent)."""
        code_client_errors(errors)


def make_schema(*, max_depth: int = MAX_DEPTH, max_aliases: int = MAX_ALIASES,
                max_tokens: int = MAX_TOKENS, speedups: Speedups = Speedups()) -> Schema:
    """The schema with its limits (tests tighten them to reach them with small queries), its
    execution and its own parsed and validated documents (clients reuse queries), or
    strawberry's own where ``speedups`` turns those off."""
    limits = fixed_rules(QueryDepthLimiter(max_depth=max_depth),
                         MaxAliasesLimiter(max_alias_count=max_aliases))
    documents = QueryDocuments()
    cached = [lambda: QueryDocumentCache(documents)] if speedups.on(DOCUMENTS) else []
    made = Schema(
        query=Query,
        mutation=Mutation,
        types=[NotFound, RuleBroken, Conflict],
        config=StrawberryConfig(scalar_map={Personal: PERSONAL_TEXT}),
        execution_context_class=FastExecutionContext if speedups.on(EXECUTION) else None,
        extensions=[  # factories: extensions keep per-operation state
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: AddValidationRules(limits),
            *cached,
            MaskInternalErrors,
        ],
    )
    guard_arguments(graphql_core_schema(made))
    made.documents = documents
    return made


@functools.cache
def schema_for(speedups: Speedups) -> Schema:
    """The API's schema with these speed-ups (made once per process)."""
    return make_schema(speedups=speedups)


schema = schema_for(Speedups())


if __name__ == "__main__":  # the same text as `strawberry export-schema`, without its extras
    from strawberry.printer import print_schema

    print(print_schema(schema))
