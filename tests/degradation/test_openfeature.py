"""The OpenFeature SDK reads buttress's features and limits through ButtressProvider, and
follows the level as it changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openfeature import api
from openfeature.flag_evaluation import Reason

from buttress import flags
from buttress.degradation.openfeature import ButtressProvider


@pytest.fixture
def client() -> Iterator[object]:
    api.set_provider(ButtressProvider(known_features=["checkout", "recommendations"]))
    yield api.get_client()
    api.clear_providers()
    flags.publish(None, frozenset(), {})


def test_features_and_limits_through_openfeature(client: object) -> None:
    c = api.get_client()
    flags.publish("GREEN", frozenset(), {"orders_per_minute": 5000, "search": "full"})
    details = c.get_boolean_details("recommendations", False)
    assert (details.value, details.reason) == (True, Reason.STATIC)
    assert c.get_integer_value("orders_per_minute", 1) == 5000
    assert c.get_string_value("search", "none") == "full"
    unknown = c.get_boolean_details("beta-ui", True)
    assert (unknown.value, unknown.reason) == (True, Reason.DEFAULT)
    flags.publish("ORANGE", frozenset({"recommendations"}), {"orders_per_minute": 500,
                  "payment_methods": ["card_only"]})  # fmt: skip
    off = c.get_boolean_details("recommendations", True)
    assert (off.value, off.reason, off.variant) == (False, Reason.DISABLED, "ORANGE")
    assert c.get_integer_value("orders_per_minute", 1) == 500
    assert c.get_object_value("payment_methods", []) == ["card_only"]
    mismatch = c.get_string_details("orders_per_minute", "x")
    assert mismatch.value == "x"
    assert mismatch.error_code is not None
