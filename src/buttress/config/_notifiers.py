"""``incidents.notifiers:``: the channels incidents are sent on, by name.

Each channel is one of the kinds below, told apart by ``type`` (a discriminated union). Its
secrets (webhook URLs, routing keys, passwords, header values) are :data:`SecretText`: shown
as ``***`` by ``config show`` and never echoed in an error. A webhook's ``body`` is a Jinja2
template compiled in a sandbox when the file is loaded, so a syntax error is a config error at
the body's line.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, SecretStr, StringConstraints, field_validator, model_validator

from buttress.config._base import NAME_PATTERN, Variant, raise_at
from buttress.config._types import PositiveDuration, SecretText

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "AnyNotifierConfig",
    "EmailNotifierConfig",
    "NotifierConfig",
    "NotifiersConfig",
    "PagerdutyNotifierConfig",
    "SlackNotifierConfig",
    "TeamsNotifierConfig",
    "WebhookNotifierConfig",
    "template_environment",
]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_HTTP_URL = re.compile(r"https?://[^\s/?#@]+(?:[/?#]\S*)?")


def _tojson(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def template_environment() -> SandboxedEnvironment:
    """The sandboxed Jinja2 environment webhook bodies are compiled and rendered in: undefined
    names are errors, nothing is HTML-escaped (bodies are JSON or text), and ``tojson`` writes
    plain JSON (a string quoted and escaped, a list or mapping as JSON)."""
    try:
        from jinja2 import StrictUndefined
        from jinja2.sandbox import SandboxedEnvironment
    except ImportError:
        raise ValueError(
            "templates (webhook bodies, runbook steps) need Jinja2: "
            "pip install 'buttress[incidents]' or 'buttress[runbooks]'"
        ) from None
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.filters["tojson"] = _tojson
    return env


class NotifierConfig(Variant):
    """One channel (the fields every kind has)."""

    variant_noun: ClassVar[str] = "notifier"
    secrets: ClassVar[tuple[str, ...]] = ()
    """The secret fields that must not be empty (an unset ``${VAR:-}``)."""
    urls: ClassVar[tuple[str, ...]] = ()
    """The secret fields that hold an http(s) URL."""

    type: Literal["slack", "email", "pagerduty", "teams", "webhook"]
    timeout: PositiveDuration = Field(default=10.0, description="Longest one attempt may take.")
    retries: int = Field(
        default=3, ge=0, le=10, description="Attempts after the first when a send fails."
    )
    retry_delay: PositiveDuration = Field(
        default=1.0,
        description="First wait before a retry; doubled each time (full jitter, at most 30s).",
    )
    enabled: bool = Field(default=True, description="false: sends to it fail at once as disabled.")
    policy: str | None = Field(
        default=None,
        description=(
            "A pipeline of `resilience.policies` to send through instead of the default "
            "(retry, circuit breaker, timeout from the fields above)."
        ),
    )

    @model_validator(mode="after")
    def _secrets_set(self) -> NotifierConfig:
        errors: list[tuple[tuple[str | int, ...], str]] = []
        for field in self.secrets:
            value = getattr(self, field)
            if isinstance(value, SecretStr) and not value.get_secret_value().strip():
                errors.append(((field,), f"{field} is empty (is its ${{VAR}} set?)"))
            elif (
                field in self.urls
                and isinstance(value, SecretStr)
                and not _HTTP_URL.fullmatch(value.get_secret_value().strip())
            ):
                errors.append(((field,), f"{field} is not an http(s) URL"))
        raise_at(type(self).__name__, errors)
        return self


class SlackNotifierConfig(NotifierConfig):
    """`type: slack`: a Slack incoming webhook; the message is Block Kit."""

    type: Literal["slack"]
    secrets: ClassVar[tuple[str, ...]] = ("webhook_url",)
    urls: ClassVar[tuple[str, ...]] = ("webhook_url",)
    webhook_url: SecretText = Field(description="The incoming-webhook URL (secret).")
    channel: str | None = Field(default=None, description="e.g. #ops (default: the webhook's).")
    username: str | None = Field(default=None, description="The sender name shown.")


class EmailNotifierConfig(NotifierConfig):
    """`type: email`: multipart text and HTML mail through an SMTP server."""

    type: Literal["email"]
    secrets: ClassVar[tuple[str, ...]] = ("password",)
    host: str = Field(min_length=1, description="The SMTP server.")
    port: int = Field(default=587, ge=1, le=65535, description="Its port.")
    starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS.")
    ssl: bool = Field(default=False, description="Implicit TLS from the start (port 465).")
    tls_verify: bool = Field(default=True, description="Check the server's certificate.")
    ca_file: str | None = Field(
        default=None, min_length=1, description="PEM file of the CAs to trust (default: system)."
    )
    username: str | None = Field(default=None, min_length=1, description="SMTP AUTH user.")
    password: SecretText | None = Field(default=None, description="SMTP AUTH password (secret).")
    sender: str = Field(min_length=3, pattern=r"@", description="The From address.")
    to: list[Annotated[str, StringConstraints(pattern=r"@")]] = Field(
        default_factory=list,
        description="Always sent to these; the recipients' own addresses are added.",
    )

    @model_validator(mode="after")
    def _tls_and_auth(self) -> EmailNotifierConfig:
        errors: list[tuple[tuple[str | int, ...], str]] = []
        if self.ssl and self.starttls:
            errors.append((("starttls",), "give ssl (implicit TLS) or starttls, not both"))
        if self.password is not None and not self.username:
            errors.append((("username",), "a password needs a username"))
        raise_at("EmailNotifierConfig", errors)
        return self


class PagerdutyNotifierConfig(NotifierConfig):
    """`type: pagerduty`: PagerDuty Events API v2; the incident's ref is the dedup key."""

    type: Literal["pagerduty"]
    secrets: ClassVar[tuple[str, ...]] = ("routing_key",)
    routing_key: SecretText = Field(description="The integration's routing key (secret).")
    url: str = Field(
        default=PAGERDUTY_EVENTS_URL,
        pattern=r"^https?://\S+$",
        description="The Events API endpoint.",
    )
    source: str = Field(default="buttress", min_length=1, description="The event's source.")


class TeamsNotifierConfig(NotifierConfig):
    """`type: teams`: a Microsoft Teams workflow webhook; the message is an Adaptive Card."""

    type: Literal["teams"]
    secrets: ClassVar[tuple[str, ...]] = ("webhook_url",)
    urls: ClassVar[tuple[str, ...]] = ("webhook_url",)
    webhook_url: SecretText = Field(description="The workflow's webhook URL (secret).")


class WebhookNotifierConfig(NotifierConfig):
    """`type: webhook`: any HTTP endpoint, with a body rendered from a template."""

    type: Literal["webhook"]
    secrets: ClassVar[tuple[str, ...]] = ("url",)
    urls: ClassVar[tuple[str, ...]] = ("url",)
    url: SecretText = Field(description="Where to send (secret: it may carry a token).")
    method: Literal["POST", "PUT", "PATCH"] = Field(default="POST", description="HTTP method.")
    headers: dict[str, SecretText] = Field(
        default_factory=dict, description="Extra headers (values are secrets)."
    )
    body: str | None = Field(
        default=None,
        description=(
            "A Jinja2 template (sandboxed) of `incident`, `recipients` and `kind`; default: "
            "the notification as JSON."
        ),
    )
    content_type: str = Field(
        default="application/json", min_length=1, description="The body's Content-Type."
    )

    @field_validator("body")
    @classmethod
    def _compiles(cls, body: str | None) -> str | None:
        if body is None:
            return None
        env = template_environment()
        from jinja2 import TemplateSyntaxError

        try:
            env.from_string(body)
        except TemplateSyntaxError as exc:
            raise ValueError(f"template syntax error at line {exc.lineno}: {exc.message}") from None
        return body


AnyNotifierConfig = Annotated[
    SlackNotifierConfig
    | EmailNotifierConfig
    | PagerdutyNotifierConfig
    | TeamsNotifierConfig
    | WebhookNotifierConfig,
    Field(discriminator="type"),
]
"""A notification channel of any kind, by its ``type``."""

NotifierName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]

NotifiersConfig = dict[NotifierName, AnyNotifierConfig]
"""``incidents.notifiers:``: channel name → channel."""
