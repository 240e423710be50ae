"""The GraphQL API: schema built from queries, mutations and subscriptions; the ASGI view."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET

from app.config import Settings
from app.errors import DomainError
from schema.broadcast import SharedEventExecutor, encode_next
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
    return not isinstance(original, VISIBLE_ERRORS)


class _MaskErrors(MaskErrors):
    """MaskErrors without a runtime protocol check per result (a tenth of a subscription
    event's delivery cost when a thousand subscribers receive it)."""

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


def build_schema(settings: Settings) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=SharedEventExecutor,  # type: ignore[arg-type]
        # Factories: a fresh extension per request.
        extensions=[
            lambda: QueryDepthLimiter(max_depth=settings.graphql_max_depth),
            lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
            lambda: MaxAliasesLimiter(max_alias_count=15),
            lambda: _MaskErrors(should_mask_error=_should_mask),
        ],
    )


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context and websocket authentication."""

    def __init__(self, schema: strawberry.Schema, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.environment == "development" else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            allow_queries_via_get=False,
            # Browser pages on other origins may open websockets only when listed ("*" for any).
            allowed_origins=settings.allowed_ws_origins,
        )

    def encode_json(self, data: object) -> str | bytes:
        return encode_next(data) or super().encode_json(data)

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        services = request.app.state.services
        context = Context(services=services, broker=request.app.state.broker, request=request, response=response)
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
