"""Bad `alerting.prometheus` input: an error at the line, never echoing a password."""

from __future__ import annotations

import pytest

from buttress.config import ConfigError, load_text


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_text(text, filename="b.yaml", env={})
    return [str(i) for i in info.value.issues]


def test_defaults_have_no_prometheus() -> None:
    """No URL by default (the report then asks for --prometheus), 30 s per query."""
    section = load_text("alerting: {}\n", env={}).alerting.prometheus
    assert section.url is None
    assert section.timeout == 30.0


def test_a_url_loses_its_trailing_slash() -> None:
    section = load_text(
        "alerting:\n  prometheus: {url: 'http://prom:9090/', timeout: 5s}\n", env={}
    ).alerting.prometheus
    assert (section.url, section.timeout) == ("http://prom:9090", 5.0)


@pytest.mark.parametrize("url", ["prom:9090", "ftp://prom", "http://", "https://u:hunter2@/x"])
def test_a_url_that_is_not_http_is_an_error_without_its_password(url: str) -> None:
    assert issues(f"alerting:\n  prometheus:\n    url: '{url}'\n") == [
        "b.yaml:3:10 alerting.prometheus.url: expected an http:// or https:// URL with a "
        "host, e.g. http://prometheus:9090"
    ]


def test_a_timeout_must_be_above_zero() -> None:
    (problem,) = issues("alerting:\n  prometheus:\n    timeout: 0\n")
    assert problem.startswith("b.yaml:3:14 alerting.prometheus.timeout:")
