"""JSON as clients send it: what JSON allows, and nothing Python's ``json`` adds."""

from __future__ import annotations

import json
from typing import Any


class NotJson(json.JSONDecodeError):
    """Text that Python's ``json`` would read but JSON does not allow; ``str()`` is the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "", 0)

    def __str__(self) -> str:
        return self.msg


def _constant(name: str) -> Any:
    raise NotJson(f"{name} is not a JSON value")


def loads(data: str | bytes | bytearray) -> Any:
    """``json.loads`` whose every refusal is a :class:`json.JSONDecodeError`.

    Python reads ``NaN``, ``Infinity`` and ``-Infinity``, which no JSON holds (and
    PostgreSQL's ``jsonb`` refuses), and answers nesting deeper than its stack with a
    ``RecursionError``: both become decode errors, which the views answer with a 400.
    """
    try:
        return json.loads(data, parse_constant=_constant)
    except RecursionError:
        raise NotJson("arrays or objects are nested too deeply") from None
