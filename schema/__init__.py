"""The GraphQL API: schema built from queries, mutations and subscriptions; the ASGI view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET

from app import jsontext
from app.config import Settings
from app.dependencies import RETRY_AFTER_SECONDS, outages, unavailable
from app.errors import DomainError, PayloadTooLarge
from app.services import Services
from schema.broadcast import SharedEventExecutor, TransportWSHandler, encode_next
from schema.context import Context
from schema.mutations import Mutation
from schema.queries import Query
from schema.subscriptions import Subscription

# Errors whose message is meant for the client; everything else is masked.
VISIBLE_ERRORS = (DomainError, PermissionError)


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:
        return False  # validation and syntax errors are about the query itself
    if isinstance(original, GraphQLError) and error.path is None:
        # Before execution: graphql-core's own word on a variable a scalar refuses ("Int
        # cannot represent non 32-bit signed integer value: ..."). During execution the same
        # class can carry an internal fault (a resolver's wrong return type): masked.
        return False
    return not isinstance(original, VISIBLE_ERRORS)


UNAVAILABLE_EXTENSIONS = {
    "code": "UNAVAILABLE",
    "retryable": True,
    "retryAfterSeconds": RETRY_AFTER_SECONDS,
}


def _is_outage(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError) and unavailable(original)


def _masked(error: GraphQLError) -> GraphQLError:
    if _is_outage(error):
        # A dependency is down: say so, in a form a client can act on (retry after a while).
        return GraphQLError(
            message="a backing service is unavailable; retry shortly",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions=UNAVAILABLE_EXTENSIONS,
        )
    if not _should_mask(error):
        return error
    return GraphQLError(
        message="Unexpected error.",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
    )


class _Schema(strawberry.Schema):
    """Masks unexpected errors in every result it hands to a transport.

    Every result — a query's, a mutation's, each subscription event's, an error before
    execution — leaves through ``_handle_execution_result`` (strawberry-graphql is pinned; the
    tests in tests/analysis/test_graphql_errors.py cover each path). Strawberry's MaskErrors
    extension does the same from its hooks, but its per-result hook set up context managers for
    every extension for every subscription event: a quarter of the server's CPU when a thousand
    subscribers receive one event (bench/subscriptions.py). The errors are logged, unmasked,
    before this.
    """

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # An outage is logged once while it lasts, not with a traceback per request; a client's
        # own mistake or an expected refusal is an answer, not an error of the service.
        for error in errors:
            if _is_outage(error):
                assert error.original_error is not None
                outages.failed(error.original_error, transport="graphql")
            elif _should_mask(error):
                super().process_errors([error], execution_context)

    async def _handle_execution_result(self, *args: Any, **kwargs: Any) -> Any:
        result = await super()._handle_execution_result(*args, **kwargs)
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [_masked(e) for e in errors]
        return result


MAX_ALIASES = 15


def _limits(settings: Settings) -> type[SchemaExtension]:
    """Depth, size and alias limits as one extension.

    Strawberry's QueryDepthLimiter, MaxTokensLimiter and MaxAliasesLimiter each act once per
    operation, but every extension is visited again for every subscription event; one
    extension instead of three is a tenth less CPU per delivery (bench/subscriptions.py).
    Their validation rules are built once here and applied the same way.
    """
    rules = (
        *QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    )

    class Limits(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            context = self.execution_context
            context.validation_rules = context.validation_rules + rules
            context.parse_options["max_tokens"] = settings.graphql_max_tokens
            yield

    return Limits


def build_schema(settings: Settings) -> strawberry.Schema:
    return _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=SharedEventExecutor,
        extensions=[_limits(settings)],  # a class: a fresh instance per operation
    )


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context and websocket authentication."""

    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(self, schema: strawberry.Schema, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.environment == "development" else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            allow_queries_via_get=False,
            # Browser pages on other origins may open websockets only when listed ("*" for any).
            allowed_origins=settings.websocket_origins,
        )
        self._max_body = settings.graphql_max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)
        # Strawberry reads and decodes the whole body on the event loop: bound it (recorders
        # that send large captures use REST, whose create reads them elsewhere).
        limit = self._max_body
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"the request is larger than {limit} bytes", field="body")
        received = 0

        async def bounded_receive() -> Any:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise PayloadTooLarge(f"the request is larger than {limit} bytes", field="body")
            return message

        return await super().__call__(scope, bounded_receive, send)

    def encode_json(self, data: object) -> str | bytes:
        return encode_next(data) or super().encode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        # Requests and websocket messages alike: NaN or nesting too deep is a 400 (or a
        # rejected message), as malformed JSON is.
        return jsontext.loads(data)

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        services: Services = request.app.state.services
        assert services.broker is not None  # an API process always has its fan-out
        context = Context(
            services=services, broker=services.broker, request=request, response=response
        )
        if isinstance(request, WebSocket):
            return context  # credentials arrive with connection_init
        context.caller = await services.auth.caller_from_headers(
            request.headers.get("authorization"), request.headers.get("x-upload-token")
        )
        return context

    async def on_ws_connect(self, context: Context) -> Any:
        params = context.connection_params or {}
        authorization = params.get("Authorization") or params.get("authorization")
        if authorization is None and isinstance(params.get("token"), str):
            authorization = f"Bearer {params['token']}"
        upload_token = params.get("X-Upload-Token") or params.get("uploadToken")
        try:
            context.caller = await context.services.auth.caller_from_headers(
                authorization if isinstance(authorization, str) else None,
                upload_token if isinstance(upload_token, str) else None,
            )
        except DomainError as exc:
            raise ConnectionRejectionError({"message": exc.message}) from None
        return UNSET
