"""httpx transports that run each request through the resilience pipeline of its host.

::

    import httpx
    from buttress.resilience.integrations.httpx import ResilientTransport

    client = httpx.Client(transport=ResilientTransport(
        {"api.payments.example": "payments", "*": "external_api"}   # host -> policy name or object
    ))

Policy names are looked up with :func:`buttress.resilience.policy` (buttress.yaml) when the
transport is built, so a misspelt name fails there. A host with
no entry (and no ``"*"``) is not guarded. To retry on statuses, give the retry a
``retry_if_result=lambda r: r.status_code in (429, 502, 503)``: the retry sees the response
and honours its ``Retry-After``. Responses that are retried are closed before the next attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx as _httpx

from buttress.resilience._policy import Policy

__all__ = ["AsyncResilientTransport", "ResilientTransport"]

HostPolicies = Mapping[str, Policy | str] | Callable[[str], Policy | None]


def _resolver(policies: HostPolicies) -> Callable[[str], Policy | None]:
    """Names are looked up now, when the transport is built: an unknown policy name fails
    here (``UnknownPolicyError``), not at the first request."""
    if callable(policies):
        return policies
    table: dict[str, Policy] = {}
    for host, entry in dict(policies).items():
        if isinstance(entry, str):
            from buttress.resilience import policy

            table[host] = policy(entry)
        elif isinstance(entry, Policy):
            table[host] = entry
        else:
            raise TypeError(
                f"resilient transport: host {host!r}: expected a policy or a policy name, "
                f"got {entry!r}"
            )
    default = table.get("*")

    def resolve(host: str) -> Policy | None:
        return table.get(host, default)

    return resolve


class ResilientTransport(_httpx.BaseTransport):
    """A sync transport: each request runs through its host's policy, then ``inner``."""

    def __init__(self, policies: HostPolicies, inner: _httpx.BaseTransport | None = None) -> None:
        self._policy_for = _resolver(policies)
        self._inner = inner or _httpx.HTTPTransport()

    def handle_request(self, request: _httpx.Request) -> _httpx.Response:
        policy = self._policy_for(request.url.host)
        if policy is None:
            return self._inner.handle_request(request)
        return policy.call(self._send, request)

    def _send(self, request: _httpx.Request) -> _httpx.Response:
        response = self._inner.handle_request(request)
        response.read()  # a response that a retry discards must not hold its connection
        return response

    def close(self) -> None:
        self._inner.close()


class AsyncResilientTransport(_httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`ResilientTransport`."""

    def __init__(
        self, policies: HostPolicies, inner: _httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._policy_for = _resolver(policies)
        self._inner = inner or _httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: _httpx.Request) -> _httpx.Response:
        policy = self._policy_for(request.url.host)
        if policy is None:
            return await self._inner.handle_async_request(request)
        return await policy.acall(self._send, request)

    async def _send(self, request: _httpx.Request) -> _httpx.Response:
        response = await self._inner.handle_async_request(request)
        await response.aread()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
