"""The per-request GraphQL context: who is calling, the services, fresh DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from app.auth import ANONYMOUS, Caller
from app.pubsub import Broker
from app.services import Services
from schema.loaders import Loaders


@dataclass(kw_only=True)
class Context:
    services: Services
    broker: Broker
    caller: Caller = ANONYMOUS
    loaders: Loaders = field(default_factory=Loaders)
    request: Request | WebSocket | None = None
    response: Response | WebSocket | None = None
    connection_params: dict[str, Any] | None = None
