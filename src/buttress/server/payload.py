"""What the request gate refuses in a request's target and JSON body (pure: no I/O).

A NUL character in the path, a query value or any string or key of a JSON body, a JSON integer
that does not fit in 64 bits (the catalog's columns) and NaN/Infinity are refused with the
field named, before any route or database sees them.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["INT64", "json_problem", "target_problem"]

INT64 = (-(2**63), 2**63 - 1)
"""The range every integer of an API request must fit (the catalog's columns are 64-bit)."""

_NUL = "must not contain a NUL character"


def target_problem(path: str, query: bytes) -> str | None:
    """The problem with a request's path or query string, as ``field: message``, or None."""
    if "\x00" in path:
        return f"path: {_NUL}"
    if b"%00" not in query and b"\x00" not in query:
        return None
    for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            return f"query.{key.replace(chr(0), '')}: {_NUL}"
    return None


def json_problem(body: bytes) -> tuple[str, str] | None:
    """The first problem in a JSON body as ``(field, message)``, or None (also when the body
    is not JSON at all: FastAPI answers that with its own 422)."""
    try:
        document = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    return _first_problem(document, "body")


def _no_constant(name: str) -> float:
    # NaN and Infinity are not JSON; json.loads accepts them, the API does not
    return math.nan


def _first_problem(value: Any, where: str) -> tuple[str, str] | None:
    if isinstance(value, str):
        return (where, _NUL) if "\x00" in value else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            return where, "integer out of range: it must fit in 64 bits"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (where, "must be a finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return f"{where}.{key.replace(chr(0), '')}", _NUL
            found = _first_problem(item, f"{where}.{key}")
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _first_problem(item, f"{where}[{i}]")
            if found is not None:
                return found
    return None
