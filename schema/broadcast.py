"""One execution and one JSON encoding per event, however many subscribers receive it.

An analysis's progress event is delivered to every subscriber watching that recording. Executing
the subscription's selection set and encoding the result once per subscriber cost ~150 µs each,
so a thousand subscribers on one recording took ~200 ms per event. Subscribers that sent the same
document with the same variables get the same result for the same event — as long as the event's
fields do not depend on who asks — so it is computed once and shared:

- event types whose fields are plain data mark themselves with ``__shared_event__ = True``, and
  the resolver yields *the same instance* to every subscriber (see ``schema.subscriptions``);
- :class:`SharedEventExecutor` keeps the result of executing such an event, keyed by the event,
  the document and the variables, and hands it to the next subscriber that asks;
- :func:`encode_next` keeps the JSON of a shared result so that only the operation id is
  spliced in per subscriber;
- :func:`deliver` sends such a result straight to the subscriber's websocket operation, past
  the layers of async generators a yielded event climbs (graphql-core's response stream,
  Strawberry's result stream and extension hooks, the transport's result loop): a third of the
  remaining cost per delivery. It falls back to yielding whenever it cannot (no websocket
  operation, a result with errors), so behaviour never depends on it.

Both caches are small and bounded; an entry holds its event so an id is never reused while cached.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from contextvars import ContextVar
from typing import Any

from graphql import ExecutionResult
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)

CACHE_SIZE = 256


def is_shared(value: object) -> bool:
    return getattr(type(value), "__shared_event__", False) is True


# (event id, document, operation, variables) -> (event, result); data id -> [data, its JSON or None]
_results: OrderedDict[tuple[Any, ...], tuple[object, ExecutionResult]] = OrderedDict()
_encoded: OrderedDict[int, list[Any]] = OrderedDict()


class _Replay:
    """Stands in for a per-event executor whose result is already known."""

    __slots__ = ("result",)

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:
        return self.result


# Set in the task running one websocket operation: the operation, and the executor of its document.
_operation: ContextVar[Operation[Any, Any] | None] = ContextVar(
    "graphql_ws_operation", default=None
)
_executor: ContextVar[SharedEventExecutor | None] = ContextVar("graphql_executor", default=None)


class TransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws, each operation's task knowing its operation (for :func:`deliver`)."""

    async def run_operation(self, operation: Operation[Any, Any]) -> None:
        _operation.set(operation)  # the task's own context: seen by this operation's resolvers only
        await super().run_operation(operation)


class SharedEventExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's graphql-core executor, running a shared subscription event once per document."""

    _document_key: tuple[Any, ...] | None = None

    def build_resolve_info(self, *args: Any, **kwargs: Any) -> Any:
        _executor.set(self)  # the subscription's resolver runs in this task next: see deliver()
        return super().build_resolve_info(*args, **kwargs)

    def _key(self, event: object) -> tuple[Any, ...] | None:
        if self._document_key is None:
            if self.operation.loc is None:
                return None
            self._document_key = (
                self.operation.loc.source.body,
                self.operation.name.value if self.operation.name else None,
                repr(sorted(self.variable_values.coerced.items())),
            )
        return (id(event), *self._document_key)

    def build_per_event_executor(self, payload: Any) -> Any:
        if is_shared(payload) and (key := self._key(payload)) is not None:
            cached = _results.get(key)
            if cached is not None and cached[0] is payload:
                return _Replay(cached[1])  # no copy of the executor, no execution
        return super().build_per_event_executor(payload)

    def execute_operation(self, serially: bool | None = None) -> Any:
        root = self.root_value
        if not is_shared(root) or (key := self._key(root)) is None:
            return super().execute_operation(serially)
        result = super().execute_operation(serially)
        if (
            isinstance(result, ExecutionResult)
            and not result.errors
            and isinstance(result.data, dict)
        ):
            _results[key] = (root, result)
            _encoded[id(result.data)] = [result.data, None]
            if len(_results) > CACHE_SIZE:
                _, (_, dropped) = _results.popitem(last=False)
                _encoded.pop(id(dropped.data), None)
        return result


async def deliver(event: object) -> bool:
    """Send a shared event to the current websocket operation as its next result.

    Returns False, having sent nothing, when the caller must yield the event instead: outside a
    websocket operation, for an event that is not shared, or when its result has errors (those
    take the usual way, through error masking).
    """
    operation, executor = _operation.get(), _executor.get()
    if operation is None or executor is None or not is_shared(event):
        return False
    result = executor.build_per_event_executor(event).execute_operation(False)
    if (
        not isinstance(result, ExecutionResult)
        or result.errors
        or not isinstance(result.data, dict)
    ):
        return False
    await operation.send_operation_message(
        {"id": operation.id, "type": "next", "payload": {"data": result.data}}
    )
    return True


def encode_next(message: Any) -> str | None:
    """The JSON of a plain ``next`` message carrying a shared result (the operation id spliced
    into the result's JSON, encoded once), or None for any other message."""
    if not isinstance(message, dict) or message.get("type") != "next" or len(message) != 3:
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict) or len(payload) != 1:
        return None
    data = payload.get("data")
    entry = _encoded.get(id(data))
    if entry is None or entry[0] is not data:
        return None
    if entry[1] is None:
        entry[1] = json.dumps(data, separators=(",", ":"))
    return f'{{"id":{json.dumps(message["id"])},"type":"next","payload":{{"data":{entry[1]}}}}}'
