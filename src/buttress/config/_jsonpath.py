"""The JSONPath subset a check's ``jsonpath`` tolerance uses (Chaos Toolkit's common forms):
``$``, ``.key``, ``['key']``, ``[index]`` (negative from the end), ``[*]`` and ``.*``.
Filters and recursive descent are refused when the file is loaded."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["find", "parse"]

Part = str | int | None  # a key, an index, or None for every child
_TOKEN = re.compile(
    r"""\.(?P<key>[A-Za-z_][A-Za-z0-9_-]*)|\.(?P<star>\*)|\[(?P<index>-?\d+)\]"""
    r"""|\[\*\]|\[(?P<quote>['"])(?P<qkey>(?:(?!(?P=quote)).)*)(?P=quote)\]"""
)


def parse(path: str) -> list[Part]:
    """The parts of ``path``.

    Raises:
        ValueError: not of the supported subset (the message says where).
    """
    text = path.strip()
    if not text.startswith("$"):
        raise ValueError("a JSON path starts with `$`")
    parts: list[Part] = []
    pos = 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"cannot read {text[pos:]!r} (supported: .key, ['key'], [0], [*], .*)")
        if match["key"] is not None:
            parts.append(match["key"])
        elif match["qkey"] is not None:
            parts.append(match["qkey"])
        elif match["index"] is not None:
            parts.append(int(match["index"]))
        else:
            parts.append(None)
        pos = match.end()
    return parts


def find(path: str, document: Any) -> list[Any]:
    """Every value of ``document`` that ``path`` selects (``[]`` when none)."""
    current = [document]
    for part in parse(path):
        found: list[Any] = []
        for value in current:
            if part is None:
                if isinstance(value, dict):
                    found.extend(value.values())
                elif isinstance(value, list):
                    found.extend(value)
            elif isinstance(part, int):
                if isinstance(value, list) and -len(value) <= part < len(value):
                    found.append(value[part])
            elif isinstance(value, dict) and part in value:
                found.append(value[part])
        current = found
    return current
