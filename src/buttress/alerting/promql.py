"""Rendering values into PromQL and Prometheus rule files: durations, exact decimals, string
literals, label matchers, a histogram bucket's ``le``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

__all__ = ["decimal", "duration", "le_matcher", "merge_selector", "quote", "selector"]

_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration(seconds: float) -> str:
    """A Prometheus duration in its largest whole unit, never weeks: 300 -> ``5m``, 2592000 ->
    ``30d``, 5400 -> ``90m`` (what the window-named rules are called after)."""
    if seconds <= 0 or seconds != int(seconds):
        raise ValueError(f"a window is a positive whole number of seconds, got {seconds!r}")
    whole = int(seconds)
    for unit, size in _UNITS:
        if whole % size == 0:
            return f"{whole // size}{unit}"
    raise AssertionError("unreachable: every integer is whole seconds")


def decimal(value: Decimal) -> str:
    """``value`` in plain notation, without trailing zeros or an exponent: 0.0144, 14.4, 100."""
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def quote(value: str) -> str:
    """A PromQL string literal (double-quoted; Go escapes, which JSON's are a subset of)."""
    return json.dumps(value, ensure_ascii=False)


def selector(labels: Mapping[str, str]) -> str:
    """``{a="1",b="2"}`` (in the given order)."""
    return "{" + ",".join(f"{key}={quote(value)}" for key, value in labels.items()) + "}"


def merge_selector(user: str, *extra: str) -> str:
    """The matchers of ``user`` (``{job="x"}`` or empty) followed by ``extra`` matchers."""
    inner = user.strip()
    if inner:
        inner = inner[1:-1].strip().rstrip(",")
    parts = [p for p in (inner, *extra) if p]
    return "{" + ",".join(parts) + "}"


def le_matcher(threshold: float) -> str:
    """The ``le`` matcher of the bucket at ``threshold``, as client libraries write it: the
    shortest round-trip form (0.3 -> ``le="0.3"``, 2.5 -> ``le="2.5"``). A whole number is
    written ``1`` by the Go client and ``1.0`` by the Python one, so both are matched."""
    if threshold == int(threshold) and abs(threshold) < 1e16:
        whole = int(threshold)
        return f'le=~"{whole}|{whole}\\\\.0"'
    return f"le={quote(repr(float(threshold)))}"
