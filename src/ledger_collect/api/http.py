"""The GraphQL endpoint over HTTP, as the GraphQL-over-HTTP specification has it.

Strawberry's ASGI view does most of it; this subclass adds what the specification asks and it
does not: media type negotiation (``application/graphql-response+json`` and the legacy
``application/json``; 406 for neither), request errors (parse, validation, limits) answered 400
without ``data`` under the new media type, 405 with ``Allow: POST`` for a mutation sent with GET,
authentication of every request before anything else runs (401 with ``WWW-Authenticate``),
a body beyond ``Settings.max_body_bytes`` refused 413 (``limits``), a POST body that is not JSON
refused 415 naming what is accepted, and error messages with what they quote of the request cut
short (``limits.cut_echoes``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from ledger_collect.api import graphiql
from ledger_collect.api.auth import AuthenticationError, authenticate
from ledger_collect.api.context import Context, Loaders
from ledger_collect.api.limits import (
    BodyTooLarge,
    cut,
    cut_echoes,
    header_text,
    limited_receive,
    too_long_variables,
)

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header: the client's preferred of the two we
    speak, ``application/json`` when it accepts anything (or says nothing), None for neither."""
    if not accept or not accept.strip():
        return JSON
    ranges: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept.split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranges.append((-quality, index, media.lower()))
    for _, _, media in sorted(ranges):
        if media == GRAPHQL_RESPONSE:
            return GRAPHQL_RESPONSE
        if media in (JSON, "application/*", "*/*"):
            return JSON
    return None


def error_response(status: int, message: str, media_type: str, code: str,
                   headers: dict[str, str] | None = None) -> Response:
    body = {"errors": [{"message": cut_echoes(message), "extensions": {"code": code}}]}
    return Response(json.dumps(body), status_code=status, headers=headers,
                    media_type=f"{media_type}; charset=utf-8")


class _SubResponse(Response):
    graphql_media_type: str = JSON


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's view with authentication, negotiation and the specification's statuses."""

    def __init__(self, schema: Any, *, secret: bytes, development: bool,
                 today: Callable[[], date], max_body_bytes: int,
                 max_token_lifetime: float) -> None:
        super().__init__(schema, graphql_ide="graphiql" if development else None,
                         allow_queries_via_get=True)
        self._secret = secret
        self._today = today
        self._max_body_bytes = max_body_bytes
        self._max_token_lifetime = max_token_lifetime

    @property
    def graphql_ide_html(self) -> str:
        return graphiql.page()  # strawberry's page, its files served by us (api.graphiql)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no subscriptions (yet): nothing else is served
            await send({"type": "websocket.close", "code": 1008})
            return
        # A body with a Content-Length is refused before it is read (``_respond``); this one
        # refuses a body sent in chunks once it goes beyond the limit.
        request = Request(scope, limited_receive(receive, self._max_body_bytes))
        response = await self._respond(request)
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        if self.graphql_ide and self.should_render_graphql_ide(
                self.request_adapter_class(request)):
            return await self.render_graphql_ide(request)  # a static page; queries need tokens
        media_type = negotiate(request.headers.get("accept"))
        if media_type is None:
            return Response(f"Not acceptable: this endpoint answers {GRAPHQL_RESPONSE} or "
                            f"{JSON}", status_code=406, media_type="text/plain")
        request.state.media_type = media_type
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self._max_body_bytes:
            return error_response(413, str(BodyTooLarge(self._max_body_bytes)), media_type,
                                  "PAYLOAD_TOO_LARGE")
        if len(request.scope["query_string"]) > self._max_body_bytes:
            return error_response(414, "the query string is larger than the request body may "
                                  "be (LEDGER_MAX_BODY_BYTES): send the query with POST",
                                  media_type, "URI_TOO_LONG")
        authorization = request.headers.get("authorization")
        try:
            request.state.user = authenticate(authorization, self._secret,
                                              self._max_token_lifetime)
        except AuthenticationError as error:
            challenge = 'Bearer realm="ledger-collect"'  # RFC 6750 §3: no error without a token
            if authorization:
                challenge += (f', error="invalid_token", '
                              f'error_description="{header_text(str(error))}"')
            return error_response(401, str(error), media_type, "UNAUTHENTICATED",
                                  headers={"WWW-Authenticate": challenge})
        try:
            return await self.run(request)
        except BodyTooLarge as error:
            return error_response(413, str(error), media_type, "PAYLOAD_TOO_LARGE")
        except _MethodNotAllowed as error:
            return error_response(405, error.reason, media_type, "METHOD_NOT_ALLOWED",
                                  headers={"Allow": error.allow})
        except _UnsupportedMediaType as error:
            return error_response(415, error.reason, media_type, "UNSUPPORTED_MEDIA_TYPE",
                                  headers={"Accept-Post": JSON})
        except HTTPException as error:
            status = error.status_code
            code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(status, "BAD_REQUEST")
            headers = {"Allow": "GET, POST"} if status == 405 else None
            return error_response(status, error.reason, media_type, code, headers=headers)

    async def parse_http_body(self, request: Any) -> Any:
        """Strawberry's, with a POST body that is not JSON refused 415, naming what is."""
        if request.method == "POST" and JSON not in (request.content_type or ""):
            sent = cut(request.content_type) if request.content_type else "none"
            raise _UnsupportedMediaType(
                f"Unsupported Content-Type ({sent}): send a POST body as {JSON}, an object "
                f"with query, variables and operationName (or a query with GET); answers come "
                f"as {GRAPHQL_RESPONSE} or {JSON}, as the Accept header asks")
        return await super().parse_http_body(request)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # its errors are json's (JSONDecodeError): same 400s

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)  # UTF-8, as the media type says; a third of json's time

    async def get_context(self, request: Request, response: Any) -> Context:  # type: ignore[override]
        state = request.app.state
        return Context(user=request.state.user, collections=state.collections,
                       settings=state.settings, business_date=self._today(),
                       loaders=Loaders.for_request(state.collections, state.keyed_pool),
                       pool=state.pool, request=request, response=response,
                       read_models=state.read_models)

    async def get_sub_response(self, request: Request) -> Response:  # type: ignore[override]
        sub_response = _SubResponse()
        sub_response.status_code = None  # type: ignore[assignment]
        del sub_response.headers["content-length"]
        sub_response.graphql_media_type = request.state.media_type
        return sub_response

    async def execute_single(self, request: Any, request_adapter: Any, sub_response: Any,
                             context: Context, root_value: Any,
                             request_data: Any) -> ExecutionResult:
        """Strawberry's, with a mutation over GET refused 405 (the specification) not 400,
        and variables holding too long a string refused before anything is parsed."""
        if request_data.variables and (error := too_long_variables(request_data.variables)):
            context.loaders.release(context.settings.speedups)
            return ExecutionResult(data=None, errors=[error])
        try:
            return await self.schema.execute(
                request_data.query, root_value=root_value,
                variable_values=request_data.variables, context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=OperationType.from_http(request_adapter.method),
                operation_extensions=request_data.extensions)
        except InvalidOperationTypeError as error:
            raise _MethodNotAllowed(
                f"{error.as_http_error_reason(request_adapter.method)}; send them with POST",
                allow="POST") from error
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from error
        except MissingQueryError as error:
            raise HTTPException(400, "No GraphQL query found in the request") from error
        finally:
            context.loaders.release(context.settings.speedups)

    async def process_result(self, request: Request,
                             result: ExecutionResult) -> GraphQLHTTPResponse:
        data = process_result(result)
        if result.errors:
            for error in data["errors"]:  # what they quote of the request, cut short
                error["message"] = cut_echoes(error["message"])
            if result.data is None and all(e.path is None for e in result.errors):
                data.pop("data", None)  # a request error: execution never started
        return data

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        media_type = getattr(sub_response, "graphql_media_type", JSON)
        status = sub_response.status_code or 200
        if (media_type == GRAPHQL_RESPONSE and isinstance(response_data, dict)
                and "data" not in response_data):
            status = 400
        response = Response(self.encode_json(response_data), status_code=status,
                            media_type=f"{media_type}; charset=utf-8")
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        return response


class _MethodNotAllowed(HTTPException):
    def __init__(self, reason: str, *, allow: str) -> None:
        super().__init__(405, reason)
        self.allow = allow


class _UnsupportedMediaType(HTTPException):
    def __init__(self, reason: str) -> None:
        super().__init__(415, reason)
