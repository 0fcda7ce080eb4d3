"""``/api/v1/resilience``: the configured policies with their settings and live state; an
operator forces or resets a breaker (audited), a viewer may not."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from buttress.catalog import Catalog, audit, tokens
from buttress.config import load_text
from buttress.resilience import CircuitBreaker, CircuitOpenError, registry
from buttress.server.app import create_app
from tests.state.conftest import REDIS_URL

POLICIES = """
resilience:
  policies:
    database:
      retry: {attempts: 3}
      circuit_breaker: {failure_rate: 50, minimum_calls: 4, wait: 30s}
      timeout: {seconds: 2s}
    payments:
      rate_limit: {algorithm: token_bucket, rate: 5, per: 1h}
      bulkhead: {max_concurrent: 4, max_queue: 2}
    search:
      timeout: {seconds: 500ms}
"""


class Client:
    def __init__(self, client: TestClient, catalog: Catalog, made: dict[str, str]) -> None:
        self.client, self.catalog, self.made = client, catalog, made

    def get(self, path: str, role: str = "viewer") -> Any:
        answer = self.client.get(path, headers={"Authorization": f"Bearer {self.made[role]}"})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, body: dict[str, Any], role: str = "operator") -> Any:
        return self.client.post(
            path, json=body, headers={"Authorization": f"Bearer {self.made[role]}"}
        )


def _client(catalog: Catalog, text: str) -> Iterator[Client]:
    made: dict[str, str] = {}
    with catalog.begin() as session:
        for role in ("operator", "viewer"):
            made[role] = tokens.create(
                session=session, name=f"{role}-token", role=role, created_by="test"
            )[1]
    app = create_app(catalog, load_text(text, env={}))
    with TestClient(app, client=("127.0.0.9", 50000)) as client:
        yield Client(client, catalog, made)


@pytest.fixture
def api(catalog: Catalog) -> Iterator[Client]:
    registry.configure(None)
    yield from _client(catalog, POLICIES)
    registry.configure(None)


def _by_kind(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["kind"]: p for p in policy["policies"]}


def test_lists_every_configured_policy_with_effective_settings(api: Client) -> None:
    """Each configured policy is listed with its pipeline, outermost first, and the settings
    in force (defaults filled in)."""
    listed = api.get("/api/v1/resilience/policies")
    assert [p["name"] for p in listed] == ["database", "payments", "search"]
    database = listed[0]
    assert [p["kind"] for p in database["policies"]] == ["Retry", "CircuitBreaker", "Timeout"]
    parts = _by_kind(database)
    assert parts["Retry"]["settings"]["attempts"] == 3
    assert parts["CircuitBreaker"]["settings"]["minimum_calls"] == 4
    assert parts["CircuitBreaker"]["settings"]["wait"] == 30.0
    assert parts["CircuitBreaker"]["breaker"]["state"] == "closed"
    assert parts["Timeout"]["settings"]["seconds"] == 2.0
    payments = _by_kind(listed[1])
    assert payments["Bulkhead"]["bulkhead"] == {
        "max_concurrent": 4, "active": 0, "queued": 0, "max_queue": 2, "shared_active": 0,
    }  # fmt: skip
    assert payments["RateLimiter"]["limiter"] == {"shared": False, "tracked_keys": 0, "keys": []}


def test_shows_the_state_of_the_process_policies(api: Client) -> None:
    """The API shows the process's own policies (``policy(name)``): limiter keys (an IP in
    full, other keys by fingerprint), bulkhead occupancy and breaker counts follow calls."""
    config = api.client.app.state.config  # type: ignore[attr-defined]  # FastAPI's app
    registry.configure(config)  # the process's registry, as an embedding app would have it
    api.client.app.state.resilience = None  # type: ignore[attr-defined]
    payments = registry.policy("payments")
    limiter = next(p for p in payments.policies if type(p).__name__ == "RateLimiter")
    for _ in range(3):
        limiter.try_acquire("10.0.0.7")  # type: ignore[attr-defined]
    limiter.try_acquire("sk_live_secret_key")  # type: ignore[attr-defined]
    bulkhead = next(p for p in payments.policies if type(p).__name__ == "Bulkhead")
    with bulkhead:
        got = _by_kind(api.get("/api/v1/resilience/policies/payments"))
    assert got["Bulkhead"]["bulkhead"]["active"] == 1
    keys = got["RateLimiter"]["limiter"]["keys"]
    assert keys[0]["key"] == "10.0.0.7"
    assert 2 <= keys[0]["remaining"] < 2.5  # 5 a burst, 3 taken (refills at 5 an hour)
    assert keys[1]["key"].startswith("sha256:")
    assert "sk_live" not in str(got)
    registry.policy("database").call(lambda: "ok")
    breaker = _by_kind(api.get("/api/v1/resilience/policies/database"))["CircuitBreaker"]
    assert breaker["breaker"]["calls"] == 1


def test_operator_forces_a_breaker_and_it_is_audited(api: Client) -> None:
    """force_open rejects the process's calls until reset; each change is audited."""
    config = api.client.app.state.config  # type: ignore[attr-defined]
    registry.configure(config)
    api.client.app.state.resilience = None  # type: ignore[attr-defined]
    answer = api.post("/api/v1/resilience/policies/database/breaker", {"action": "force_open"})
    assert answer.status_code == 200, answer.text
    assert _by_kind(answer.json())["CircuitBreaker"]["breaker"]["state"] == "forced_open"
    with pytest.raises(CircuitOpenError):
        registry.policy("database").call(lambda: "ok")
    answer = api.post("/api/v1/resilience/policies/database/breaker", {"action": "reset"})
    assert _by_kind(answer.json())["CircuitBreaker"]["breaker"]["state"] == "closed"
    assert registry.policy("database").call(lambda: "ok") == "ok"
    with api.catalog.begin() as session:
        rows = audit.get_all(session=session, limit=10, action="resilience.breaker")
        assert [(r.target, r.detail["action"], r.outcome) for r in rows] == [
            ("policy=database", "reset", "success"),
            ("policy=database", "force_open", "success"),
        ]


def test_viewer_may_not_force_and_unknowns_are_404(api: Client) -> None:
    """A viewer is refused (403); an unknown policy or one without a breaker is 404."""
    path = "/api/v1/resilience/policies/{}/breaker"
    refused = api.post(path.format("database"), {"action": "force_open"}, role="viewer")
    assert refused.status_code == 403
    assert api.post(path.format("nope"), {"action": "reset"}).status_code == 404
    no_breaker = api.post(path.format("search"), {"action": "reset"})
    assert no_breaker.status_code == 404
    assert "circuit breaker" in no_breaker.json()["message"]
    bad = api.post(path.format("database"), {"action": "explode"})
    assert bad.status_code == 422
    state = _by_kind(api.get("/api/v1/resilience/policies/database"))["CircuitBreaker"]
    assert state["breaker"]["state"] == "closed"


@pytest.fixture
def shared_api(catalog: Catalog) -> Iterator[tuple[Client, str]]:
    registry.configure(None)
    prefix = f"t-{secrets.token_hex(4)}"
    text = f"state: {{backend: redis, url: '{REDIS_URL}', prefix: {prefix}}}\n" + POLICIES
    yield from ((c, text) for c in _client(catalog, text))
    registry.configure(None)


def test_forcing_through_a_shared_store_reaches_other_processes(
    shared_api: tuple[Client, str],
) -> None:
    """With state in Redis, a breaker forced open through the API rejects the calls of
    another registry (another process) sharing the store."""
    api, text = shared_api
    api.get("/api/v1/resilience/policies")  # the server's registry, built before the other's
    other = registry.configure(load_text(text, env={}))
    assert other is not None
    answer = api.post("/api/v1/resilience/policies/database/breaker", {"action": "force_open"})
    assert answer.status_code == 200, answer.text
    part = _by_kind(answer.json())["CircuitBreaker"]
    assert part["store_mode"] == "shared"
    breaker = next(p for p in other.get("database").policies if isinstance(p, CircuitBreaker))
    breaker.sync()
    with pytest.raises(CircuitOpenError):
        other.get("database").call(lambda: "ok")
    api.post("/api/v1/resilience/policies/database/breaker", {"action": "reset"})
    breaker.sync()
    assert other.get("database").call(lambda: "ok") == "ok"


def test_no_policies_is_an_empty_list(catalog: Catalog) -> None:
    """With no resilience: section the list is empty (the page shows its empty state)."""
    for client in _client(catalog, "{}\n"):
        assert client.get("/api/v1/resilience/policies") == []


def test_shutdown_closes_the_store_of_the_apps_own_registry(catalog: Catalog) -> None:
    """The app's own registry (built for it) has its Redis store closed at shutdown; the
    process's registry, when the app uses it, is left open."""
    registry.configure(None)
    text = f"state: {{backend: redis, url: '{REDIS_URL}', prefix: t-{secrets.token_hex(4)}}}\n"
    config = load_text(text + POLICIES, env={})
    with catalog.begin() as session:
        token = tokens.create(session=session, name="v", role="viewer", created_by="t")[1]
    try:
        for shared_with_process in (False, True):
            process = registry.configure(config) if shared_with_process else None
            app = create_app(catalog, config)
            with TestClient(app) as client:
                listed = client.get(
                    "/api/v1/resilience/policies", headers={"Authorization": f"Bearer {token}"}
                )
                assert listed.status_code == 200
                own = app.state.resilience
            assert (own is process) is shared_with_process
            assert own.store._closed is not shared_with_process
    finally:
        registry.configure(None)


def test_metrics_export_the_state_the_api_shows(api: Client) -> None:
    """The control plane's /metrics reports the breakers of the configured policies: one
    forced open through the API is exported as such (what an alert on breaker state reads)."""

    def breaker_lines() -> list[str]:
        text = api.client.get("/metrics").text
        return [
            line
            for line in text.splitlines()
            if line.startswith('buttress_circuit_breaker_state{policy="database.circuit_breaker"')
        ]

    assert (
        'buttress_circuit_breaker_state{policy="database.circuit_breaker",state="closed"} 1.0'
        in (breaker_lines())
    )
    assert api.post("/api/v1/resilience/policies/database/breaker", {"action": "force_open"})
    lines = breaker_lines()
    assert (
        'buttress_circuit_breaker_state{policy="database.circuit_breaker",state="forced_open"} 1.0'
        in lines
    )
    assert (
        'buttress_circuit_breaker_state{policy="database.circuit_breaker",state="closed"} 0.0'
        in lines
    )
    # a policy without a breaker reports no breaker state
    assert 'policy="search' not in "".join(
        line for line in api.client.get("/metrics").text.splitlines() if "breaker_state" in line
    )


EVERY_KIND = """
resilience:
  policies:
    all:
      retry: {attempts: 4, backoff: exponential, deadline: 5s, budget_ratio: 0.1}
      circuit_breaker: {wait: 30s, slow_call_duration: 2s, max_wait: 5m, wait_multiplier: 2}
      timeout: {seconds: 2s}
      bulkhead: {max_concurrent: 4, max_queue: 2, max_wait: 1s}
      rate_limit: {algorithm: gcra, rate: 5, burst: 3}
    constant:
      retry: {backoff: constant}
      rate_limit: {algorithm: token_bucket, rate: 5, per: 1h}
    linear:
      retry: {backoff: linear}
      rate_limit: {algorithm: leaky_bucket, rate: 5}
    fixed:
      rate_limit: {algorithm: fixed_window, rate: 5}
    sliding:
      rate_limit: {algorithm: sliding_window, rate: 5}
    counter:
      rate_limit: {algorithm: sliding_window_counter, rate: 5}
"""


@pytest.mark.parametrize("shared", [False, True], ids=["memory", "redis"])
def test_each_kinds_settings_are_answered_as_the_policy_describes_them(
    catalog: Catalog, shared: bool
) -> None:
    """Every kind, backoff and rate-limit algorithm the configuration builds is answered with
    exactly the settings ``describe()`` gives (a shared bulkhead's lease too), each typed by
    its kind in the OpenAPI document."""
    registry.configure(None)
    state = f"state: {{backend: redis, url: '{REDIS_URL}', prefix: t-{secrets.token_hex(4)}}}\n"
    text = (state if shared else "") + EVERY_KIND
    try:
        for api in _client(catalog, text):
            listed = api.get("/api/v1/resilience/policies")
            own = api.client.app.state.resilience  # type: ignore[attr-defined]  # FastAPI's app
            assert len(listed) == 6
            for policy in listed:
                described = own.get(policy["name"]).describe()
                assert [p["settings"] for p in policy["policies"]] == [
                    p["settings"] for p in described
                ]
            bulkhead = _by_kind(next(p for p in listed if p["name"] == "all"))["Bulkhead"]
            assert ("lease" in bulkhead["settings"]) is shared
            document = api.client.get("/api/openapi.json").json()
            schemas = document["components"]["schemas"]
            part = schemas["PolicyRead"]["properties"]["policies"]["items"]
            assert set(part["discriminator"]["mapping"]) == {
                "Retry", "CircuitBreaker", "Timeout", "Bulkhead", "RateLimiter",
            }  # fmt: skip
            limiter = schemas["LimiterSettings"]["properties"]["algorithm"]
            assert len(limiter["discriminator"]["mapping"]) == 6
    finally:
        registry.configure(None)
