"""The per-request GraphQL context: who is calling, the services, fresh DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.auth import ANONYMOUS, Caller
from app.http import Services
from schema.loaders import Loaders


@dataclass(kw_only=True)
class Context:
    services: Services
    broker: Any
    caller: Caller = ANONYMOUS
    loaders: Loaders = field(default_factory=Loaders)
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
