"""Templates of runbook steps (Jinja2, sandboxed) and the masking of secrets in what a run
records and shows."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from buttress.config._notifiers import template_environment
from buttress.config._runbooks import is_template
from buttress.runbooks.errors import RunbookError
from buttress.secrets import MASK, is_secret_name, redact

__all__ = ["Later", "Masker", "Renderer", "truthy"]

_SINGLE = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)
_FALSY = {"", "false", "no", "off", "0", "none", "null"}


class Later:
    """Stands for a value an earlier step will produce (in a dry run): renders as
    ``<steps.name.key>``."""

    def __init__(self, path: str) -> None:
        self._path = path

    def __getattr__(self, name: str) -> Later:
        if name.startswith("_"):
            raise AttributeError(name)
        return Later(f"{self._path}.{name}")

    def __getitem__(self, key: Any) -> Later:
        return Later(f"{self._path}[{key!r}]")

    def __str__(self) -> str:
        return f"<{self._path}>"

    def __bool__(self) -> bool:
        raise RunbookError(f"{self._path} is known only when the run gets there")


class _LaterSteps(dict[str, Any]):
    def __missing__(self, key: str) -> Later:
        return Later(f"steps.{key}")


class Renderer:
    """Renders the strings of a step with a run's context (``params``, ``steps``, ``run``).

    A string that is one ``{{ expression }}`` keeps the expression's type (a number stays a
    number for an action's parameters); other templates render to text; plain strings pass.
    """

    def __init__(
        self,
        params: Mapping[str, Any],
        values: Mapping[str, Mapping[str, Any]],
        *,
        run_id: str,
        actor: str,
        planning: bool = False,
    ) -> None:
        self._env = template_environment()
        # the run's own mapping: values of steps that finish later show up in it
        steps: Mapping[str, Any] = _LaterSteps(values) if planning else values
        self.context: dict[str, Any] = {
            "params": dict(params),
            "steps": steps,
            "run": {"id": run_id, "actor": actor},
        }

    def value(self, text: str) -> Any:
        """``text`` rendered (see the class)."""
        if not is_template(text):
            return text
        try:
            single = _SINGLE.match(text)
            if single and "}}" not in single["expr"] and "{{" not in single["expr"]:
                found = self._env.compile_expression(single["expr"], undefined_to_none=False)(
                    self.context
                )
                return str(found) if isinstance(found, Later) else found
            return self._env.from_string(text).render(self.context)
        except RunbookError:
            raise
        except Exception as exc:  # noqa: BLE001  # any template failure is the step's error
            raise RunbookError(f"template {text!r}: {type(exc).__name__}: {exc}") from None

    def text(self, text: str) -> str:
        """``text`` rendered to a string."""
        found = self.value(text)
        return found if isinstance(found, str) else _as_text(found)

    def deep(self, value: Any) -> Any:
        """Every string at or under ``value`` rendered with :meth:`value`."""
        if isinstance(value, str):
            return self.value(value)
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.deep(v) for v in value]
        return value

    def condition(self, when: str) -> bool:
        """Whether the ``when:`` of a step holds (a template, or a bare expression)."""
        source = when if is_template(when) else "{{ " + when + " }}"
        found = self.value(source)
        return truthy(found)


def truthy(value: Any) -> bool:
    """A rendered condition's truth: text ``false``, ``no``, ``0``, empty... are false."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSY
    return bool(value)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class Masker:
    """Replaces the secrets of a run with ``***`` in text: the values of secret-named
    environment variables (the process's and the steps' ``env:``), the passwords of the DSNs
    and URLs the run uses, and every shape :func:`buttress.secrets.redact` knows."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for name, value in os.environ.items():
            if is_secret_name(name):
                self.add(value)
        for value in secrets:
            self.add(value)

    def add(self, secret: str | None) -> None:
        """Mask ``secret`` from now on (values shorter than 4 characters would mask noise)."""
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def add_env(self, env: Mapping[str, str]) -> None:
        """Mask the values of the secret-named variables of ``env``."""
        for name, value in env.items():
            if is_secret_name(name):
                self.add(value)

    def add_url(self, url: str) -> None:
        """Mask the password of ``url`` (a DSN or an http URL with user info)."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return
        if parts.password:
            self.add(parts.password)
            self.add(unquote(parts.password))
        for match in re.finditer(r"(?i)password\s*=\s*'?([^'\s&]+)", url):
            self.add(match[1])

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return redact(text)

    def deep(self, value: Any) -> Any:
        """Every string at or under ``value`` masked."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(v) for v in value]
        return value
