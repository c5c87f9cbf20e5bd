"""What one request may bring, and how much of it an answer may echo.

The request body is limited (``Settings.max_body_bytes``: 413 beyond it) while it is read, so
a body sent in chunks without a Content-Length is refused after its first megabyte, not after
it has been held whole. Within a document, a string literal and each string of the variables
are limited too (``MAX_STRING_LENGTH``, a ``BAD_USER_INPUT``): the commands' own limits per
field are far below it, and a document-level limit keeps megabytes out of the parsed and
validated documents kept across requests. Error messages quote what the client sent (a field
name, a value): ``cut_echoes`` keeps those quotes short, so an error never sends a megabyte
back, and ``header_text`` keeps what goes into a response header to printable ASCII.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from graphql import (
    ASTValidationRule,
    GraphQLError,
    GraphQLSyntaxError,
    StringValueNode,
    ValidationContext,
    ValidationRule,
)
from starlette.types import Message, Receive
from strawberry.extensions import AddValidationRules

#: The longest string a document or its variables may hold, in characters.
MAX_STRING_LENGTH = 100_000
#: How much of a quoted input an error message keeps.
ECHO_LENGTH = 80
#: The longest error message sent, whatever it quotes.
MAX_MESSAGE_LENGTH = 1000

BAD_USER_INPUT = "BAD_USER_INPUT"
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"


class BodyTooLarge(Exception):
    """The request body goes beyond the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than {limit} bytes, the most this "
                         f"server accepts (LEDGER_MAX_BODY_BYTES)")


def limited_receive(receive: Receive, limit: int) -> Callable[[], Awaitable[Message]]:
    """``receive`` that raises ``BodyTooLarge`` as soon as the body read goes beyond
    ``limit`` bytes (for a body without Content-Length: one with it is checked up front)."""
    received = 0

    async def limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return limited


class StringLiteralLimit(ValidationRule):
    """A string literal of the document longer than ``MAX_STRING_LENGTH`` is refused."""

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if len(node.value) > MAX_STRING_LENGTH:
            self.report_error(GraphQLError(
                f"A string in the query document is {len(node.value)} characters long; at "
                f"most {MAX_STRING_LENGTH} are accepted", node,
                extensions={"code": BAD_USER_INPUT}))


def with_code(rule: type[ValidationRule], code: str) -> type[ValidationRule]:
    """``rule`` with ``code`` as the ``extensions.code`` of the errors it reports."""

    class Coded(rule):  # type: ignore[valid-type, misc]
        def __init__(self, context: ValidationContext) -> None:
            # The limiters report from their constructors, on the context they are given.
            super().__init__(_CodingContext(context, code))

    Coded.__name__ = Coded.__qualname__ = rule.__name__
    return Coded


def fixed_rules(*limiters: AddValidationRules) -> Sequence[type[ASTValidationRule]]:
    """The validation rules of limiter extensions made once (each makes its rule classes anew
    when constructed, which would defeat a cache of validated documents), their errors coded
    ``QUERY_TOO_COMPLEX``, and the limit on string literals: rules to be added to every
    operation by ``AddValidationRules``."""
    return [*(with_code(rule, QUERY_TOO_COMPLEX)
              for limiter in limiters for rule in limiter.validation_rules),
            StringLiteralLimit]


def coded_parse_error(error: GraphQLSyntaxError) -> None:
    """A document with too many tokens is a limit reached (``QUERY_TOO_COMPLEX``), like the
    depth and alias limits, not a mistake of syntax: its error gets that code."""
    if error.message.startswith("Syntax Error: Document contains more than"):
        error.extensions = {"code": QUERY_TOO_COMPLEX}


class _CodingContext:
    """A validation context whose reported errors get a code (the rest is the context's)."""

    def __init__(self, context: ValidationContext, code: str) -> None:
        self._context = context
        self._code = code

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "code": self._code}
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def too_long_variables(variables: Mapping[str, Any] | None) -> GraphQLError | None:
    """The error for the first variable holding a string longer than ``MAX_STRING_LENGTH``
    (at any depth of its objects and lists), None when none does."""
    for name, value in (variables or {}).items():
        length = _longest_string(value)
        if length > MAX_STRING_LENGTH:
            return GraphQLError(f"Variable '${cut(name)}' holds a string of {length} "
                                f"characters; at most {MAX_STRING_LENGTH} are accepted",
                                extensions={"code": BAD_USER_INPUT})
    return None


def _longest_string(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return max(map(_longest_string, value.values()), default=0)
    if isinstance(value, list):
        return max(map(_longest_string, value), default=0)
    return 0


_QUOTED = re.compile(r"""'[^']{%d,}'|"[^"]{%d,}\"""" % (ECHO_LENGTH + 1, ECHO_LENGTH + 1))


def cut(text: str, length: int = ECHO_LENGTH) -> str:
    """``text`` cut to ``length`` characters, with an ellipsis when something was left out."""
    return text if len(text) <= length else text[:length] + "…"


def cut_echoes(message: str) -> str:
    """An error message with each long quoted input cut to its first ``ECHO_LENGTH``
    characters, and the whole to ``MAX_MESSAGE_LENGTH``."""
    if len(message) <= ECHO_LENGTH:
        return message
    message = _QUOTED.sub(lambda m: m[0][0] + cut(m[0][1:-1]) + m[0][-1], message)
    return cut(message, MAX_MESSAGE_LENGTH)


def header_text(text: str) -> str:
    """``text`` as a header value may hold it: printable ASCII (anything else becomes '?'),
    no double quotes or backslashes (it goes between quotes), echoes cut."""
    printable = "".join(c if " " <= c <= "~" else "?" for c in cut_echoes(text))
    return printable.replace("\\", "").replace('"', "'")
