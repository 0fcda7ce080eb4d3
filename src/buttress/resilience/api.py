"""``/api/v1/resilience``: the policies of buttress.yaml's ``resilience:`` section with their
effective settings and live state (viewer); force or reset a circuit breaker (operator; the
server audits it).

The state shown is the state of the control plane's own registry: with ``state.backend:
redis`` a breaker's state, a bulkhead's occupancy and a limiter's counts are the ones every
process sharing the store sees, and forcing a breaker here forces it in all of them; with
in-process state they are this server process's (the same objects as
``buttress.resilience.policy(name)`` when the app runs in the process that uses them).
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, TypeAdapter

from buttress.config import ButtressConfig
from buttress.errors import NotFoundError
from buttress.platform.auth import Operator, Viewer
from buttress.resilience._policy import Policy
from buttress.resilience.bulkhead import Bulkhead
from buttress.resilience.circuit_breaker import CircuitBreaker
from buttress.resilience.rate_limit import RateLimiter
from buttress.resilience.registry import PolicyRegistry, UnknownPolicyError, current, for_config
from buttress.resilience.schemas import (
    BreakerSettings,
    BulkheadSettings,
    LimiterSettings,
    RetrySettings,
    TimeoutSettings,
)

__all__ = ["router"]


@asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    """At shutdown, close the store of a registry built for this app (not the process's)."""
    yield
    own = getattr(app.state, "resilience", None)
    store = own.store if isinstance(own, PolicyRegistry) else None
    if store is not None and getattr(app.state, "resilience_own", False):
        store.close()


router = APIRouter(prefix="/api/v1/resilience", tags=["resilience"], lifespan=_lifespan)
_KEYS_SHOWN = 50
_lock = threading.Lock()


class BreakerRead(BaseModel):
    """A circuit breaker's state and its window's counts."""

    state: Literal["closed", "open", "half_open", "forced_open", "forced_closed", "disabled"]
    forced: bool = Field(description="An operator forced it (it stays so until reset).")
    calls: int
    failures: int
    slow_calls: int
    failure_rate: float = Field(description="Percent of the window's calls that failed.")
    slow_call_rate: float


class LimiterKey(BaseModel):
    key: str = Field(
        description="The key when it is an IP address, else `sha256:` and the first 12 hex "
        "digits of its SHA-256 (a key may be an API key)."
    )
    remaining: float = Field(description="Permits it has left now.")


class LimiterRead(BaseModel):
    """The keys a rate limiter tracks, fewest permits left first."""

    shared: bool = Field(description="Counts live in the shared store (keys: the local ones).")
    tracked_keys: int
    keys: list[LimiterKey] = Field(description=f"At most {_KEYS_SHOWN}.")


class BulkheadRead(BaseModel):
    max_concurrent: int
    active: int = Field(description="Calls running now in this process.")
    queued: int = Field(description="Calls waiting for a slot in this process.")
    max_queue: int
    shared_active: int = Field(description="Calls running now in every process sharing it.")


class _Part(BaseModel):
    """One policy of a pipeline, outermost first, as ``Pipeline.describe()`` gives it; a
    kind's model declares its ``kind`` and ``settings`` (their places stay these)."""

    kind: str
    name: str
    settings: BaseModel = Field(
        description="Effective settings, defaults filled in: the options of its kind "
        "(docs/resilience.md), as `Pipeline.describe()` gives them."
    )
    store_mode: str | None = Field(
        default=None, description="memory, shared, or the on_store_failure mode in force."
    )
    breaker: BreakerRead | None = None
    limiter: LimiterRead | None = None
    bulkhead: BulkheadRead | None = None


class RetryPart(_Part):
    kind: Literal["Retry"]
    settings: RetrySettings


class BreakerPart(_Part):
    kind: Literal["CircuitBreaker"]
    settings: BreakerSettings


class TimeoutPart(_Part):
    kind: Literal["Timeout"]
    settings: TimeoutSettings


class BulkheadPart(_Part):
    kind: Literal["Bulkhead"]
    settings: BulkheadSettings


class LimiterPart(_Part):
    kind: Literal["RateLimiter"]
    settings: LimiterSettings


PartRead = Annotated[
    RetryPart | BreakerPart | TimeoutPart | BulkheadPart | LimiterPart,
    Field(discriminator="kind"),
]
"""A part of a configured pipeline: the kinds ``resilience:`` builds, each with its settings."""
_PART: TypeAdapter[PartRead] = TypeAdapter(PartRead)


class PolicyRead(BaseModel):
    name: str
    policies: list[PartRead]
    problem: str | None = Field(
        default=None, description="Why it has no pipeline (every kind disabled)."
    )


class BreakerAction(BaseModel):
    action: Literal["force_open", "force_closed", "reset"] = Field(
        description="force_open: reject every call; force_closed: let every call through and "
        "never open; reset: back to closed with an empty window. Forced states last until reset."
    )


def policy_registry(request: Request) -> PolicyRegistry:
    """The app's registry (:func:`~buttress.resilience.registry.for_config`), found once."""
    state = request.app.state
    found = getattr(state, "resilience", None)
    if isinstance(found, PolicyRegistry):
        return found
    config = getattr(state, "config", None)
    if not isinstance(config, ButtressConfig):
        raise TypeError("app.state.config is not a ButtressConfig: build the app with create_app")
    with _lock:
        found = getattr(state, "resilience", None)
        if not isinstance(found, PolicyRegistry):
            found = for_config(config)
            state.resilience_own = found is not current()
            state.resilience = found
    return found


def _shown_key(key: str) -> str:
    try:
        ipaddress.ip_address(key)
    except ValueError:
        return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:12]
    return key


def _part(policy: Policy) -> PartRead:
    summary = policy.summary()
    # a shared breaker or bulkhead is of its kind too: store_mode says where its state is
    if isinstance(policy, CircuitBreaker):
        summary["kind"] = "CircuitBreaker"
    elif isinstance(policy, Bulkhead):
        summary["kind"] = "Bulkhead"
    out = _PART.validate_python(summary)
    if isinstance(policy, CircuitBreaker):
        state = policy.state
        m = policy.metrics()
        out.breaker = BreakerRead(
            state=state,
            forced=state in ("forced_open", "forced_closed", "disabled"),
            calls=int(m["calls"]),
            failures=int(m["failures"]),
            slow_calls=int(m["slow_calls"]),
            failure_rate=round(m["failure_rate"], 2),
            slow_call_rate=round(m["slow_call_rate"], 2),
        )
    elif isinstance(policy, RateLimiter):
        out.limiter = LimiterRead(
            shared=out.store_mode not in (None, "memory"),
            tracked_keys=policy.tracked,
            keys=[
                LimiterKey(key=_shown_key(k), remaining=round(left, 3))
                for k, left in policy.tracked_keys(_KEYS_SHOWN)
            ],
        )
    elif isinstance(policy, Bulkhead):
        out.bulkhead = BulkheadRead(
            max_concurrent=policy.max_concurrent,
            active=policy.active,
            queued=policy.queued,
            max_queue=policy.max_queue,
            shared_active=policy.shared_active(),
        )
    return out


def _read(reg: PolicyRegistry, name: str) -> PolicyRead:
    if name not in reg.config.policies:
        raise NotFoundError("resilience policy", name)
    try:
        pipeline = reg.get(name)
    except UnknownPolicyError as exc:  # configured, but every kind disabled
        return PolicyRead(name=name, policies=[], problem=str(exc))
    return PolicyRead(name=name, policies=[_part(p) for p in pipeline.policies])


@router.get(
    "/policies",
    response_model=list[PolicyRead],
    summary="Every configured policy: its pipeline, effective settings and live state",
)
def policies(request: Request, _who: Viewer) -> list[PolicyRead]:
    reg = policy_registry(request)
    return [_read(reg, name) for name in reg.names()]


@router.get("/policies/{name}", response_model=PolicyRead, summary="One configured policy")
def one(request: Request, name: str, _who: Viewer) -> PolicyRead:
    return _read(policy_registry(request), name)


@router.post(
    "/policies/{name}/breaker",
    name="resilience.breaker",
    response_model=PolicyRead,
    summary="Force a policy's circuit breaker open or closed, or reset it (404: the policy "
    "has no breaker)",
)
def breaker(request: Request, name: str, body: BreakerAction, _who: Operator) -> PolicyRead:
    request.state.audit_target = f"policy={name}"
    request.state.audit_detail = {"action": body.action}
    reg = policy_registry(request)
    found = _read(reg, name)  # an unknown policy is a 404
    if not any(p.breaker is not None for p in found.policies):
        raise NotFoundError("circuit breaker of resilience policy", name)
    cb = next(p for p in reg.get(name).policies if isinstance(p, CircuitBreaker))
    if body.action == "force_open":
        cb.force_open()
    elif body.action == "force_closed":
        cb.force_closed()
    else:
        cb.reset()
    return _read(reg, name)
