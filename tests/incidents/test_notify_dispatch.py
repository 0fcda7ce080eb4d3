"""The dispatcher against real local receivers: each channel's request, retries of 5xx, no
retry of a 4xx, a receiver that is down or hangs not holding up the others, the breaker, the
metric, and no secret in any delivery's error."""

from __future__ import annotations

import asyncio
import json

import pytest
from prometheus_client import CollectorRegistry

from buttress.config import load_text
from buttress.errors import ConfigError
from buttress.incidents.notify import Delivery, Dispatcher
from buttress.incidents.notify.dispatch import BREAKER_MINIMUM_CALLS
from buttress.incidents.notify.metrics import NotifyMetrics
from tests.incidents.notify_receivers import Receiver, closed_port, receiver, receiver2
from tests.incidents.test_notify_render import notification

__all__ = ["receiver", "receiver2"]

TOKEN = "T0SECRET/B0SECRET/xoxsecrettoken"
KEY = "pdroutingsecret"
FAST = "retry_delay: 10ms"


def dispatcher(
    channels: str, env: dict[str, str] | None = None, metrics: NotifyMetrics | None = None
) -> Dispatcher:
    config = load_text(f"incidents:\n  notifiers:\n{channels}", env=env or {})
    return Dispatcher(config.incidents.notifiers, metrics=metrics)


def slack(name: str, url: str, extra: str = "") -> str:
    return f'    {name}: {{type: slack, webhook_url: "{url}/services/{TOKEN}", {FAST}{extra}}}\n'


def only(deliveries: list[Delivery]) -> Delivery:
    (delivery,) = deliveries
    return delivery


def test_slack_posts_block_kit(receiver: Receiver) -> None:
    """The webhook receives the Block Kit payload; the delivery is ok on the first attempt."""
    d = dispatcher(slack("ops", receiver.url))
    delivery = only(d.send_sync(notification(), ["ops"]))
    assert delivery == Delivery("ops", "slack", True, 1, 200, None, delivery.elapsed_s)
    (request,) = receiver.requests
    assert request.path == f"/services/{TOKEN}"
    body = request.json()
    assert [b["type"] for b in body["blocks"]][:2] == ["header", "section"]
    assert any(b["type"] == "actions" for b in body["blocks"])


def test_pagerduty_uses_one_dedup_key_for_trigger_ack_and_resolve(receiver: Receiver) -> None:
    """The three events carry the incident's ref as dedup_key and the routing key."""
    d = dispatcher(
        f'    pd: {{type: pagerduty, routing_key: "${{PD}}", url: "{receiver.url}/v2/enqueue"}}\n',
        env={"PD": KEY},
    )
    for kind in ("triggered", "acknowledged", "resolved"):
        assert only(d.send_sync(notification(kind=kind), ["pd"])).ok
    events = [r.json() for r in receiver.requests]
    assert [e["event_action"] for e in events] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in events} == {"INC-2026-0042"}
    assert {e["routing_key"] for e in events} == {KEY}
    assert events[0]["payload"]["severity"] == "critical"


def test_teams_posts_an_adaptive_card(receiver: Receiver) -> None:
    """The workflow webhook receives a message with the card attached."""
    d = dispatcher(f'    t: {{type: teams, webhook_url: "{receiver.url}/workflows/abc"}}\n')
    assert only(d.send_sync(notification(), ["t"])).ok
    body = receiver.requests[0].json()
    assert body["attachments"][0]["content"]["type"] == "AdaptiveCard"


def test_webhook_sends_the_rendered_template_with_its_headers(receiver: Receiver) -> None:
    """Method, headers and the rendered body arrive as configured."""
    d = dispatcher(
        f'    h: {{type: webhook, url: "{receiver.url}/hook", method: PUT, '
        'headers: {Authorization: "Bearer ${TOK}"}, '
        'body: \'{"id": "{{ incident.ref }}", "sev": "{{ incident.severity }}"}\'}\n',
        env={"TOK": "tok-secret"},
    )
    assert only(d.send_sync(notification(severity="P2"), ["h"])).ok
    (request,) = receiver.requests
    assert request.method == "PUT"
    assert request.headers["Authorization"] == "Bearer tok-secret"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"id": "INC-2026-0042", "sev": "P2"}


def test_a_template_failing_at_send_time_is_a_failed_delivery(receiver: Receiver) -> None:
    """An undefined name in the body fails the delivery, once, with the reason; no request."""
    d = dispatcher(f"    h: {{type: webhook, url: \"{receiver.url}/h\", body: '{{{{ nope }}}}'}}\n")
    delivery = only(d.send_sync(notification(), ["h"]))
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.error is not None
    assert "body template failed" in delivery.error
    assert "'nope' is undefined" in delivery.error
    assert receiver.requests == []


def test_two_500s_then_success_is_delivered_on_the_third_attempt(receiver: Receiver) -> None:
    """5xx is retried: ok, attempts 3, status 200."""
    receiver.script = [500, 503]
    delivery = only(dispatcher(slack("ops", receiver.url)).send_sync(notification(), ["ops"]))
    assert (delivery.ok, delivery.attempts, delivery.status) == (True, 3, 200)
    assert len(receiver.requests) == 3


@pytest.mark.parametrize("status", [408, 429])
def test_408_and_429_are_retried(receiver: Receiver, status: int) -> None:
    """Request timeout and too-many-requests are worth another attempt."""
    receiver.script = [status]
    delivery = only(dispatcher(slack("ops", receiver.url)).send_sync(notification(), ["ops"]))
    assert (delivery.ok, delivery.attempts) == (True, 2)


def test_a_400_is_not_retried(receiver: Receiver) -> None:
    """A refused payload fails at once: attempts 1, the status and body in the error."""
    receiver.default = 400
    delivery = only(dispatcher(slack("ops", receiver.url)).send_sync(notification(), ["ops"]))
    assert (delivery.ok, delivery.attempts, delivery.status) == (False, 1, 400)
    assert delivery.error == f"{receiver.url}: HTTP 400: invalid_payload"
    assert len(receiver.requests) == 1


def test_a_receiver_down_throughout_fails_after_its_retries_and_others_deliver(
    receiver: Receiver,
) -> None:
    """Connection refused on every attempt: ok False after 1 + retries attempts; the other
    channel of the same send is delivered."""
    down = f"http://127.0.0.1:{closed_port()}"
    d = dispatcher(slack("down", down, ", retries: 2") + slack("up", receiver.url))
    bad, good = d.send_sync(notification(), ["down", "up"])
    assert (bad.channel, bad.ok, bad.attempts, bad.status) == ("down", False, 3, None)
    assert bad.error is not None
    assert bad.error.startswith(f"{down}: ConnectError")
    assert (good.channel, good.ok) == ("up", True)


def test_a_hanging_receiver_times_out_without_holding_up_the_others(
    receiver: Receiver, receiver2: Receiver
) -> None:
    """Each attempt on a receiver that never answers ends at the timeout; the other channel
    is delivered in the same send."""
    receiver.hang = True
    d = dispatcher(
        slack("hangs", receiver.url, ", timeout: 200ms, retries: 1") + slack("up", receiver2.url)
    )
    hung, good = d.send_sync(notification(), ["hangs", "up"])
    assert (hung.ok, hung.attempts) == (False, 2)
    assert hung.error is not None
    assert "timed out after 0.2s" in hung.error
    assert good.ok
    assert len(receiver2.requests) == 1


def test_the_breaker_opens_after_repeated_failures(receiver: Receiver) -> None:
    """After enough failed attempts the breaker rejects without sending; the metric counts
    failed then rejected."""
    receiver.default = 500
    registry = CollectorRegistry()
    d = dispatcher(
        slack("ops", receiver.url, ", retries: 0"), metrics=NotifyMetrics.create(registry)
    )
    for _ in range(BREAKER_MINIMUM_CALLS):
        assert only(d.send_sync(notification(), ["ops"])).outcome == "failed"
    rejected = only(d.send_sync(notification(), ["ops"]))
    assert (rejected.ok, rejected.outcome, rejected.attempts) == (False, "rejected", 0)
    assert rejected.error is not None
    assert "circuit breaker is open" in rejected.error
    assert len(receiver.requests) == BREAKER_MINIMUM_CALLS

    def count(outcome: str) -> float | None:
        labels = {"channel": "ops", "type": "slack", "outcome": outcome}
        return registry.get_sample_value("buttress_incident_notifications_total", labels)

    assert (count("failed"), count("rejected")) == (BREAKER_MINIMUM_CALLS, 1.0)


def test_the_metric_counts_ok(receiver: Receiver) -> None:
    """A delivered send counts one `ok`."""
    registry = CollectorRegistry()
    d = dispatcher(slack("ops", receiver.url), metrics=NotifyMetrics.create(registry))
    d.send_sync(notification(), ["ops"])
    labels = {"channel": "ops", "type": "slack", "outcome": "ok"}
    assert registry.get_sample_value("buttress_incident_notifications_total", labels) == 1.0


def test_an_unknown_or_disabled_channel_is_a_failed_delivery(receiver: Receiver) -> None:
    """Unknown names and disabled channels answer a Delivery, the others still send."""
    d = dispatcher(slack("ops", receiver.url) + slack("muted", receiver.url, ", enabled: false"))
    unknown, off, ok = d.send_sync(notification(), ["nope", "muted", "ops"])
    assert (unknown.ok, unknown.type, unknown.attempts) == (False, "unknown", 0)
    assert unknown.error == "unknown notifier 'nope' (configured: muted, ops)"
    assert (off.ok, off.error) == (False, "notifier is disabled (enabled: false)")
    assert ok.ok
    assert len(receiver.requests) == 1


def test_no_error_shows_the_url_path_or_a_secret(receiver: Receiver) -> None:
    """Errors show scheme, host and port only, whatever the failure."""
    receiver.default = 500
    down = f"http://127.0.0.1:{closed_port()}"
    d = dispatcher(
        slack("a", receiver.url, ", retries: 1")
        + slack("b", down, ", retries: 0")
        + f'    p: {{type: pagerduty, routing_key: "${{PD}}", url: "{receiver.url}/x?k={KEY}", '
        f"{FAST}, retries: 0}}\n",
        env={"PD": KEY},
    )
    deliveries = d.send_sync(notification(), ["a", "b", "p"])
    assert [x.ok for x in deliveries] == [False, False, False]
    for delivery in deliveries:
        assert delivery.error is not None
        assert "SECRET" not in delivery.error
        assert KEY not in delivery.error
        assert "/services" not in delivery.error
        assert "?" not in delivery.error


def test_send_is_awaitable_and_send_sync_refuses_a_running_loop(receiver: Receiver) -> None:
    """`await send()` works in a loop; `send_sync()` there says to await instead."""
    d = dispatcher(slack("ops", receiver.url))

    async def main() -> list[Delivery]:
        with pytest.raises(RuntimeError, match="await send"):
            d.send_sync(notification(), ["ops"])
        return await d.send(notification(), ["ops"])

    assert only(asyncio.run(main())).ok


def test_a_channel_with_a_policy_sends_through_that_pipeline(receiver: Receiver) -> None:
    """`policy: name` uses resilience.policies.<name> (here: 2 attempts) instead of the
    channel's own retries."""
    receiver.default = 500
    config = load_text(
        "resilience:\n  policies:\n    notify: {retry: {attempts: 2, delay: 10ms}}\n"
        "incidents:\n  notifiers:\n"
        f'    ops: {{type: teams, webhook_url: "{receiver.url}/w", retries: 5, policy: notify}}\n'
    )
    delivery = only(Dispatcher.from_config(config).send_sync(notification(), ["ops"]))
    assert (delivery.ok, delivery.attempts, delivery.status) == (False, 2, 500)


def test_an_unknown_policy_is_a_config_error_naming_the_channel() -> None:
    """A `policy` that resilience.policies lacks fails the dispatcher's construction."""
    config = load_text(
        "incidents:\n  notifiers:\n"
        '    ops: {type: teams, webhook_url: "http://127.0.0.1:1/w", policy: nope}\n'
    )
    with pytest.raises(ConfigError, match=r"incidents\.notifiers\.ops\.policy: unknown resilience"):
        Dispatcher.from_config(config)
