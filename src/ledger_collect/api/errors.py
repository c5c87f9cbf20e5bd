"""How failures reach a client.

Three kinds, three channels:

- expected failures of a command (a rule of the domain, an unknown id, a concurrent change) are
  data: members of the mutation's result union implementing ``Problem``, with the domain error's
  message and code, so clients handle them with the rest of the answer;
- denials are GraphQL errors with ``extensions.code`` FORBIDDEN (``Forbidden``);
- a request the API cannot work with is a GraphQL error with ``extensions.code``
  BAD_USER_INPUT, or QUERY_TOO_COMPLEX for a limit reached (``code_client_errors`` codes those
  that graphql-core reports without a code);
- the database out of reach is a GraphQL error with ``extensions.code`` DATABASE_UNAVAILABLE,
  answered within the connect timeout, for queries and mutations alike: try again later;
- anything else is a bug: its text never reaches the client, which gets an error id instead;
  the real error is logged under that id (``MaskInternalErrors``).
"""

from __future__ import annotations

import logging
import uuid

import strawberry
from graphql import GraphQLError, GraphQLSyntaxError, VariableDefinitionNode
from strawberry.extensions import MaskErrors

from ledger_collect.api.limits import BAD_USER_INPUT, coded_parse_error
from ledger_collect.domain.base import ConflictError, DomainError, NotFoundError
from ledger_collect.storage.outage import unreachable

logger = logging.getLogger("ledger_collect.api")


class Forbidden(GraphQLError):
    """The user may not do or see this. Raised from resolvers; shown to the client as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "FORBIDDEN"})


@strawberry.interface(description="An expected failure: the command was refused and nothing "
                                  "was saved. `message` is meant for the user.")
class Problem:
    message: str
    code: str = strawberry.field(description="The rule that refused the command, e.g. "
                                             "NOT_FOUND, CONFLICT, PROMISE_AMOUNT, INVALID.")


@strawberry.type(description="A record named in the input does not exist.")
class NotFound(Problem):
    pass


@strawberry.type(description="A rule of the collections domain refused the command.")
class RuleBroken(Problem):
    pass


@strawberry.type(description="Someone else changed the same record at the same moment; "
                             "reload it and try again.")
class Conflict(Problem):
    pass


def problem(error: DomainError) -> NotFound | RuleBroken | Conflict:
    """The union member for a refused command."""
    kind: type[NotFound | RuleBroken | Conflict]
    if isinstance(error, NotFoundError):
        kind = NotFound
    elif isinstance(error, ConflictError):
        kind = Conflict
    else:
        kind = RuleBroken
    return kind(message=str(error), code=error.code)


def is_internal(error: GraphQLError) -> bool:
    """Errors raised by our code that are not meant for clients. Validation and parse errors
    (no original error) and GraphQL errors raised on purpose (``Forbidden``) pass through."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskInternalErrors(MaskErrors):
    """Replace internal errors by a message with an id; log the real one under that id."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_internal)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if unreachable(error.original_error):
            logger.warning("database unavailable at %s: %s",
                           ".".join(str(p) for p in error.path or ()), error.message)
            return GraphQLError(
                message="The database is unavailable at the moment; try again shortly.",
                nodes=error.nodes, source=error.source, positions=error.positions,
                path=error.path, extensions={"code": "DATABASE_UNAVAILABLE"})
        error_id = uuid.uuid4().hex[:16]
        user = getattr(self.execution_context.context, "user", None)
        logger.error("internal error %s at %s (user %s): %s", error_id,
                     ".".join(str(p) for p in error.path or ()), getattr(user, "id", "-"),
                     error.message, exc_info=error.original_error)
        return GraphQLError(
            message=f"Internal server error (id {error_id}). It has been logged; "
                    f"quote the id when reporting it.",
            nodes=error.nodes, source=error.source, positions=error.positions, path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "errorId": error_id})



def code_client_errors(errors: list[GraphQLError]) -> None:
    """Codes the client's mistakes that graphql-core reports without a code: a document with
    too many tokens (``limits.coded_parse_error``), and a variable whose value does not coerce
    to its type (a Decimal "abc", a Date "2026-02-30"): ``BAD_USER_INPUT``, its message naming
    the variable."""
    for error in errors:
        if isinstance(error, GraphQLSyntaxError):
            coded_parse_error(error)
        elif error.path is None and error.nodes and all(
                isinstance(node, VariableDefinitionNode) for node in error.nodes):
            error.extensions = {"code": BAD_USER_INPUT, **(error.extensions or {})}
