"""Sending one notification on several channels at once, each through its own resilience
pipeline: retry (exponential backoff, full jitter, a retry budget), a circuit breaker per
channel, and a timeout per attempt. A failing or hanging channel never delays or fails the
others; every send ends as a :class:`Delivery`, never as an exception."""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from buttress.config._notifiers import (
    EmailNotifierConfig,
    NotifierConfig,
    PagerdutyNotifierConfig,
    SlackNotifierConfig,
    TeamsNotifierConfig,
    WebhookNotifierConfig,
)
from buttress.errors import ConfigError
from buttress.incidents.notify.channel import Channel, DeliveryError, scrub
from buttress.incidents.notify.email import EmailChannel
from buttress.incidents.notify.message import Notification
from buttress.incidents.notify.pagerduty import PagerdutyChannel
from buttress.incidents.notify.slack import SlackChannel
from buttress.incidents.notify.teams import TeamsChannel
from buttress.incidents.notify.webhook import WebhookChannel
from buttress.resilience import (
    CircuitBreaker,
    CircuitOpenError,
    Pipeline,
    PolicyTimeoutError,
    RejectedError,
    Retry,
    RetryBudget,
    Timeout,
)

if TYPE_CHECKING:
    import httpx

    from buttress.config import ButtressConfig
    from buttress.incidents.notify.metrics import NotifyMetrics, Outcome
    from buttress.resilience.registry import PolicyRegistry

__all__ = ["Delivery", "Dispatcher", "build_channel", "default_pipeline"]

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = 30.0
"""Seconds: the longest wait between two attempts."""
BREAKER_FAILURE_RATE = 50.0
BREAKER_WINDOW = 20
BREAKER_MINIMUM_CALLS = 5
BREAKER_WAIT = 60.0
"""A channel's breaker: open when half of its last 20 attempts failed (after 5 at least),
for a minute, then let probes through."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one send on one channel ended.

    Args:
        channel: the channel's name; type: its kind (``slack``...; ``unknown``).
        ok: delivered.
        attempts: attempts made (0: none, refused before one).
        status: the last HTTP status (or SMTP reply code) received, if any.
        error: why it failed, safe to show (no secret, no URL path or query).
        elapsed_s: seconds from the first attempt to the end, waits included.
        rejected: the channel's circuit breaker was open: nothing was sent.
    """

    channel: str
    type: str
    ok: bool
    attempts: int
    status: int | None
    error: str | None
    elapsed_s: float
    rejected: bool = False

    @property
    def outcome(self) -> Outcome:
        """``ok``, ``failed`` or ``rejected`` (the metric's label)."""
        return "ok" if self.ok else ("rejected" if self.rejected else "failed")


def build_channel(name: str, config: NotifierConfig) -> Channel:
    """The channel object for one configured notifier."""
    if isinstance(config, SlackNotifierConfig):
        return SlackChannel(name, config)
    if isinstance(config, EmailNotifierConfig):
        return EmailChannel(name, config)
    if isinstance(config, PagerdutyNotifierConfig):
        return PagerdutyChannel(name, config)
    if isinstance(config, TeamsNotifierConfig):
        return TeamsChannel(name, config)
    if isinstance(config, WebhookNotifierConfig):
        return WebhookChannel(name, config)
    raise TypeError(f"notifier {name!r}: no channel for {type(config).__name__}")


def _transient(exc: BaseException) -> bool:
    # worth another attempt: 5xx, 408, 429, connection errors and timeouts; not a 4xx, a
    # refused login, a template that does not render, or an open breaker
    if isinstance(exc, DeliveryError):
        return not exc.permanent
    return isinstance(exc, PolicyTimeoutError | OSError)


def default_pipeline(name: str, config: NotifierConfig) -> Pipeline:
    """``Retry(retries + 1 attempts) → CircuitBreaker → Timeout(timeout)`` for one channel.

    The breaker counts only transient failures: a refused payload says nothing about whether
    the receiver is up."""
    return Pipeline.standard(
        Retry(
            name=f"notifier.{name}.retry",
            attempts=config.retries + 1,
            backoff="exponential",
            delay=config.retry_delay,
            max_delay=max(MAX_RETRY_DELAY, config.retry_delay),
            jitter="full",
            retry_on=_transient,
            budget=RetryBudget(),
        ),
        CircuitBreaker(
            name=f"notifier.{name}",
            record_on=_transient,
            failure_rate=BREAKER_FAILURE_RATE,
            window_size=BREAKER_WINDOW,
            minimum_calls=BREAKER_MINIMUM_CALLS,
            wait=BREAKER_WAIT,
        ),
        Timeout(config.timeout, name=f"notifier.{name}.timeout"),
        name=f"notifier.{name}",
    )


@dataclass(frozen=True, slots=True)
class _Entry:
    channel: Channel
    pipeline: Pipeline
    enabled: bool


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The default TLS context (the system's CAs through certifi, as httpx builds it), made
    once per process: building it costs ~20 ms, more than a send to a nearby receiver."""
    import httpx

    return httpx.create_ssl_context()


class Dispatcher:
    """Sends notifications on the configured channels.

    Build one per process and keep it: each channel's breaker and retry budget live in it.

    Args:
        config: ``incidents.notifiers`` (name → channel).
        policies: the resilience registry, for channels with ``policy:``.
        metrics: the counter to increment per delivery (see :class:`NotifyMetrics`).
        client: an HTTP client to share (the caller closes it); default: one per send, shared
            by that send's channels.

    Raises:
        ConfigError: a channel names a ``policy`` that the registry does not have (or there is
            no registry).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        config: Mapping[str, NotifierConfig],
        *,
        policies: PolicyRegistry | None = None,
        metrics: NotifyMetrics | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._metrics = metrics
        self._client = client
        self._entries: dict[str, _Entry] = {}
        for name, spec in config.items():
            self._entries[name] = _Entry(
                build_channel(name, spec), self._pipeline(name, spec, policies), spec.enabled
            )

    @classmethod
    def from_config(
        cls,
        config: ButtressConfig,
        *,
        policies: PolicyRegistry | None = None,
        metrics: NotifyMetrics | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> Dispatcher:
        """The dispatcher of ``config.incidents.notifiers``; a channel's ``policy`` is looked
        up in ``policies``, by default a registry of ``config.resilience``."""
        notifiers = config.incidents.notifiers
        if policies is None and any(n.policy for n in notifiers.values()):
            from buttress.resilience.registry import PolicyRegistry

            policies = PolicyRegistry(config.resilience)
        return cls(notifiers, policies=policies, metrics=metrics, client=client)

    @staticmethod
    def _pipeline(name: str, spec: NotifierConfig, policies: PolicyRegistry | None) -> Pipeline:
        if spec.policy is None:
            return default_pipeline(name, spec)
        where = f"incidents.notifiers.{name}.policy"
        if policies is None:
            raise ConfigError(f"{where}: no resilience registry to find {spec.policy!r} in")
        try:
            return policies.get(spec.policy)
        except KeyError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    @property
    def names(self) -> list[str]:
        """The configured channels."""
        return sorted(self._entries)

    async def send(self, notification: Notification, channels: Sequence[str]) -> list[Delivery]:
        """Send ``notification`` on each of ``channels`` at once; one :class:`Delivery` per
        name, in their order. Never raises for a channel's failure."""
        if self._client is not None:
            return await self._send(notification, channels, self._client)
        import httpx

        async with httpx.AsyncClient(follow_redirects=False, verify=_tls_context()) as client:
            return await self._send(notification, channels, client)

    def send_sync(self, notification: Notification, channels: Sequence[str]) -> list[Delivery]:
        """:meth:`send` from code with no running event loop (the CLI, a job runner thread).

        Raises:
            RuntimeError: called on a thread whose event loop is running (await :meth:`send`).
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.send(notification, channels))
        raise RuntimeError("send_sync() inside a running event loop: await send() instead")

    async def _send(
        self, notification: Notification, channels: Sequence[str], client: httpx.AsyncClient
    ) -> list[Delivery]:
        return list(
            await asyncio.gather(*(self._deliver(name, notification, client) for name in channels))
        )

    async def _deliver(
        self, name: str, notification: Notification, client: httpx.AsyncClient
    ) -> Delivery:
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(self.names) or "none"
            return Delivery(
                name, "unknown", False, 0, None,
                f"unknown notifier {name!r} (configured: {known})", 0.0,
            )  # fmt: skip
        channel = entry.channel
        if not entry.enabled:
            return Delivery(
                name, channel.type, False, 0, None, "notifier is disabled (enabled: false)", 0.0
            )
        attempts = 0
        status: int | None = None

        async def attempt() -> int | None:
            nonlocal attempts, status
            attempts += 1
            try:
                status = await channel.send(notification, client)
            except DeliveryError as exc:
                status = exc.status if exc.status is not None else status
                raise
            return status

        started = time.perf_counter()
        error: str | None = None
        rejected = False
        try:
            await entry.pipeline.acall(attempt)
        except CircuitOpenError as exc:
            rejected = True
            wait = f"; retry in {exc.retry_after:.0f}s" if exc.retry_after is not None else ""
            error = f"not sent: the channel's circuit breaker is open{wait}"
        except PolicyTimeoutError as exc:
            error = f"timed out after {exc.args[1]:g}s"
        except RejectedError as exc:
            rejected = True
            error = f"not sent: {type(exc).__name__}"
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001  # a channel's bug is a failed delivery, not a crash
            error = scrub(f"{type(exc).__name__}: {exc}", channel.secrets())
        delivery = Delivery(
            name,
            channel.type,
            error is None,
            attempts,
            status,
            error,
            time.perf_counter() - started,
            rejected,
        )
        if self._metrics is not None:
            self._metrics.count(name, channel.type, delivery.outcome)
        if error is not None:
            log.warning(
                "notification %s %s on %s failed after %d attempt(s): %s",
                notification.ref, notification.kind, name, attempts, error,
            )  # fmt: skip
        return delivery
