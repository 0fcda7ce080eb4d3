"""An OpenFeature provider for buttress's flags, so applications that use the OpenFeature SDK
read them through it (``pip install openfeature-sdk``):

    from openfeature import api
    from buttress.degradation.openfeature import ButtressProvider

    api.set_provider(ButtressProvider())
    client = api.get_client()
    client.get_boolean_value("recommendations", True)
    client.get_integer_value("orders_per_minute", 5000)

Booleans are the features (on or off at the level in force); numbers, strings and objects are
the limits. A name buttress does not know gets the caller's default with reason DEFAULT.
Evaluation is the same local read as :func:`buttress.flags.enabled`: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata

from buttress.degradation import flags

__all__ = ["ButtressProvider"]

_MISSING = object()


class ButtressProvider(AbstractProvider):
    """Features and limits of the current degradation level, for the OpenFeature SDK."""

    def __init__(self, known_features: Sequence[str] | None = None) -> None:
        super().__init__()
        # features never disabled at any level are "on" but not listed by the controller:
        # pass them to answer STATIC rather than DEFAULT for them
        self.known = frozenset(known_features or ())

    def get_metadata(self) -> Metadata:
        return Metadata(name="buttress")

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        state = flags.snapshot()
        if flag_key in state["disabled"]:
            return FlagResolutionDetails(False, reason=Reason.DISABLED, variant=state["level"])
        if flag_key in self.known:
            return FlagResolutionDetails(True, reason=Reason.STATIC, variant=state["level"])
        return FlagResolutionDetails(default_value, reason=Reason.DEFAULT)

    def _limit(self, flag_key: str, default: Any, kind: type | tuple[type, ...]) -> Any:
        value = flags.limit(flag_key, _MISSING)
        if value is _MISSING:
            return FlagResolutionDetails(default, reason=Reason.DEFAULT)
        if not isinstance(value, kind) or isinstance(value, bool):
            return FlagResolutionDetails(
                default,
                reason=Reason.ERROR,
                error_code=ErrorCode.TYPE_MISMATCH,
                error_message=f"limit {flag_key} is a {type(value).__name__}",
            )
        return FlagResolutionDetails(value, reason=Reason.STATIC, variant=flags.level())

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        result: FlagResolutionDetails[int] = self._limit(flag_key, default_value, int)
        return result

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        result: FlagResolutionDetails[float] = self._limit(flag_key, default_value, (int, float))
        return result

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        result: FlagResolutionDetails[str] = self._limit(flag_key, default_value, str)
        return result

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[Any] | Mapping[str, Any],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[Any] | Mapping[str, Any]]:
        result: FlagResolutionDetails[Sequence[Any] | Mapping[str, Any]] = self._limit(
            flag_key, default_value, (list, dict)
        )
        return result
