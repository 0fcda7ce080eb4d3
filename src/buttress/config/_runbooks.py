"""``runbooks:``: declared procedures, inline (``definitions``) or in the files ``files`` names,
and the failover pairs their actions work on.

A step is a mapping with a ``name``, exactly one kind key (``command``, ``http``, ``sql``,
``action``, ``check``, ``confirm``, ``wait``) and the settings every kind has (``timeout``,
``retry``, ``on_failure``, ``rollback``, ``when``). Every string of a step may be a Jinja2
template (``{{ params.replica }}``, ``{{ steps.lag.value }}``); templates are compiled when the
file is loaded, so a syntax error is a config error at its line. An action's ``with:`` is
checked against that action's own parameters (:mod:`buttress.runbooks.actions`) at load too.
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, PlainSerializer, PrivateAttr, field_validator, model_validator

from buttress.config._base import NAME_PATTERN, Section, format_path, raise_at
from buttress.config._failover import FailoverConfig
from buttress.config._resilience import RetryConfig
from buttress.config._types import PositiveDuration, SecretDsn, parse_duration
from buttress.errors import NotFoundError
from buttress.secrets import MASK

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "STEP_KINDS",
    "ActionStep",
    "CheckStep",
    "CommandStep",
    "ConfirmStep",
    "HttpStep",
    "ParamConfig",
    "ProbeConfig",
    "RunbookConfig",
    "RunbookNotFound",
    "RunbooksConfig",
    "SqlStep",
    "StepConfig",
    "WaitStep",
    "convert_param",
]

STEP_KINDS = ("command", "http", "sql", "action", "check", "confirm", "wait")
DEFAULT_MAX_OUTPUT = 64 * 1024
_TEMPLATE_MARK = re.compile(r"\{\{|\{%|\{#")

Tolerance = Any
"""A Chaos Toolkit tolerance: an exact value (bool, number, string), ``[low, high]``, or
``{type: regex, pattern}`` / ``{type: jsonpath, path, expect}`` / ``{type: range, range}``."""


_SECRET_KEY = re.compile(
    r"(?i)(password|passwd|pwd|secret|token|api_?key|credential|authorization|cookie)"
)


def _mask_secret_keys(values: dict[str, str]) -> dict[str, str]:
    return {k: MASK if _SECRET_KEY.search(k) and v else v for k, v in values.items()}


SecretValues = Annotated[dict[str, str], PlainSerializer(_mask_secret_keys, when_used="json")]
"""Environment variables or headers: shown (``config show``) with secret-named ones as ``***``."""


def is_template(text: str) -> bool:
    """True when ``text`` holds Jinja2 markup (else it is used as written)."""
    return bool(_TEMPLATE_MARK.search(text))


@functools.cache
def _environment() -> SandboxedEnvironment:
    from buttress.config._notifiers import template_environment

    return template_environment()


def _templates(value: Any, loc: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    """Every template string at or under ``value``, with its place."""
    if isinstance(value, str):
        return [(loc, value)] if is_template(value) else []
    found: list[tuple[tuple[str | int, ...], str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_templates(item, (*loc, str(key))))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found.extend(_templates(item, (*loc, i)))
    return found


def _references(text: str) -> list[tuple[str, str]]:
    """``(params|steps, name)`` of each ``params.NAME`` / ``steps.NAME`` (or
    ``steps['NAME']``) a template reads; none when it does not parse (reported apart)."""
    from jinja2 import TemplateSyntaxError, nodes

    try:
        tree = _environment().parse(text)
    except TemplateSyntaxError:
        return []
    found: list[tuple[str, str]] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        base = getattr(node, "node", None)
        if not isinstance(base, nodes.Name) or base.name not in ("params", "steps"):
            continue
        if isinstance(node, nodes.Getattr):
            found.append((base.name, str(node.attr)))
        elif isinstance(node, nodes.Getitem):
            key = node.arg
            if isinstance(key, nodes.Const) and isinstance(key.value, str):
                found.append((base.name, key.value))
    return found


def _template_errors(
    value: Any, loc: tuple[str | int, ...]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Every string at or under ``value`` that is a template and does not compile."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    for at, text in _templates(value, loc):
        environment = _environment()  # first: without Jinja2 it says what to install
        from jinja2 import TemplateSyntaxError

        try:  # compiled, not only parsed: an unknown filter or test is found here too
            environment.compile(text)
        except TemplateSyntaxError as exc:
            found.append((at, f"template syntax error: {exc.message} (template line {exc.lineno})"))
    return found


class CommandStep(Section):
    """Run a program (argv, no shell), or a shell line when ``shell: true`` is written out."""

    argv: list[str] | None = Field(default=None, description="Program and arguments.")
    shell: bool = Field(default=False, description="true: run `script` with /bin/sh.")
    script: str | None = Field(default=None, description="The shell line, with `shell: true`.")
    cwd: str | None = Field(default=None, description="Working directory.")
    env: SecretValues = Field(default_factory=dict, description="Merged over the environment.")
    exit_codes: list[int] = Field(default=[0], description="Accepted exit codes.")
    max_output: int = Field(
        default=DEFAULT_MAX_OUTPUT, gt=0, description="Bytes of output kept (head and tail)."
    )

    @model_validator(mode="after")
    def _one_program(self) -> CommandStep:
        if self.argv is not None and (self.shell or self.script is not None):
            raise ValueError("give `argv`, or `shell: true` with `script`, not both")
        if self.argv is None:
            if not self.shell:
                raise ValueError(
                    "a command needs `argv: [program, args...]` (a shell line needs "
                    "`shell: true` written out, with `script:`)"
                )
            if not self.script:
                raise ValueError("`shell: true` needs `script:` (the shell line)")
        elif not self.argv:
            raise ValueError("`argv` is empty: name the program")
        return self


class HttpStep(Section):
    """Send one HTTP request and check its status (and optionally its body)."""

    method: str = Field(default="GET", description="HTTP method.")
    url: SecretDsn = Field(description="http(s) URL (a password in it is masked on display).")
    headers: SecretValues = Field(default_factory=dict)
    body: str | None = None
    status: list[int] = Field(default=[200], description="Accepted statuses.")
    json_: Any = Field(default=None, alias="json", description="The JSON body expected.")
    regex: str | None = Field(default=None, description="A pattern the body must match.")

    @field_validator("regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None and not is_template(value):
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class SqlStep(Section):
    """Run one statement against a DSN, or a backup target's DSN (``target:``)."""

    dsn: SecretDsn | None = Field(default=None, description="postgresql:// or mariadb:// DSN.")
    target: str | None = Field(default=None, description="A backup target whose DSN is used.")
    statement: str = Field(description="The SQL statement.")
    write: bool = Field(default=False, description="false: the statement runs read-only.")
    expect: dict[str, Any] | None = Field(default=None, description="{rows: N} or {value: X}.")

    @model_validator(mode="after")
    def _where(self) -> SqlStep:
        if (self.dsn is None) == (self.target is None):
            raise ValueError("a sql step needs exactly one of `dsn` or `target`")
        if self.expect is not None and (
            len(self.expect) != 1 or next(iter(self.expect)) not in ("rows", "value")
        ):
            raise ValueError("`expect` is {rows: N} or {value: X}")
        return self


class ActionStep(Section):
    """Call a buttress action by name (``degradation.set``, ``backup.run``...)."""

    name: str = Field(description="The action's name.")
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")


class ProbeConfig(Section):
    """What a check (or a wait's ``until``) measures: one of the kinds that produce a value."""

    command: CommandStep | None = None
    http: HttpStep | None = None
    sql: SqlStep | None = None
    action: ActionStep | None = None

    @model_validator(mode="after")
    def _one(self) -> ProbeConfig:
        given = [k for k in ("command", "http", "sql", "action") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a probe is exactly one of: command, http, sql, action")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("command", "http", "sql", "action") if getattr(self, k) is not None)

    @property
    def spec(self) -> Section:
        spec: Section = getattr(self, self.kind)
        return spec


def _check_tolerance(value: Any) -> Any:
    if isinstance(value, list):
        if len(value) != 2 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            raise ValueError("a range tolerance is [low, high], two numbers")
        if value[0] > value[1]:
            raise ValueError("a range tolerance is [low, high] with low <= high")
    elif isinstance(value, dict):
        kind = value.get("type")
        allowed = {
            "regex": {"type", "pattern", "target"},
            "jsonpath": {"type", "path", "expect", "target"},
            "range": {"type", "range", "target"},
        }
        if kind not in allowed:
            raise ValueError("a tolerance mapping has `type: regex`, `jsonpath` or `range`")
        extra = set(value) - allowed[kind]
        if extra:
            raise ValueError(f"unknown key(s) {', '.join(sorted(extra))} in a {kind} tolerance")
        if kind == "regex":
            try:
                re.compile(str(value.get("pattern", "")))
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
            if "pattern" not in value:
                raise ValueError("a regex tolerance needs `pattern`")
        if kind == "jsonpath":
            if "path" not in value:
                raise ValueError("a jsonpath tolerance needs `path`")
            from buttress.config._jsonpath import parse

            try:
                parse(str(value["path"]))
            except ValueError as exc:
                raise ValueError(f"invalid JSON path {value['path']!r}: {exc}") from None
        if kind == "range":
            _check_tolerance(value.get("range"))
    return value


class CheckStep(Section):
    """A probe and the tolerance its value must be within (Chaos Toolkit's forms)."""

    probe: ProbeConfig
    tolerance: Tolerance = Field(description="exact value, [low, high], {type: regex|jsonpath}.")

    @field_validator("tolerance")
    @classmethod
    def _tolerance(cls, value: Any) -> Any:
        return _check_tolerance(value)


class ConfirmStep(Section):
    """Ask a person with the runbook's role to approve."""

    prompt: str = Field(description="What the person is asked.")
    timeout: PositiveDuration | None = Field(default=None, description="Wait at most this long.")
    default: Literal["approve", "refuse"] = Field(
        default="refuse", description="What no answer within `timeout` means."
    )


class WaitStep(Section):
    """Pause ``seconds``, or poll ``until`` (a check) every ``every`` until ``deadline``."""

    seconds: PositiveDuration | None = None
    until: CheckStep | None = None
    deadline: PositiveDuration = Field(default=300.0, description="Longest wait for `until`.")
    every: PositiveDuration = Field(default=1.0, description="Time between probes.")

    @model_validator(mode="after")
    def _one(self) -> WaitStep:
        if (self.seconds is None) == (self.until is None):
            raise ValueError("a wait step needs exactly one of `seconds` or `until`")
        return self


class StepConfig(Section):
    """One step: a name, exactly one kind, and what every kind has."""

    name: str = Field(pattern=NAME_PATTERN, description="Unique within the runbook.")
    description: str = ""
    command: CommandStep | None = None
    http: HttpStep | None = None
    sql: SqlStep | None = None
    action: ActionStep | None = None
    check: CheckStep | None = None
    confirm: ConfirmStep | None = None
    wait: WaitStep | None = None
    timeout: PositiveDuration | None = Field(default=None, description="Longest one attempt.")
    retry: RetryConfig | None = Field(default=None, description="As resilience's retry section.")
    on_failure: Literal["abort", "continue", "rollback"] = "abort"
    rollback: list[StepConfig] = Field(default_factory=list)
    when: str | None = Field(default=None, description="Template; the step runs when truthy.")

    @model_validator(mode="after")
    def _one_kind(self) -> StepConfig:
        given = [k for k in STEP_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            what = f"has {', '.join(given)}" if given else "has none"
            raise_at(
                "step", [((), f"a step needs exactly one of: {', '.join(STEP_KINDS)} ({what})")]
            )
        errors: list[tuple[tuple[str | int, ...], str]] = []
        spec = getattr(self, given[0])
        errors.extend(
            _template_errors(spec.model_dump(by_alias=True, exclude_defaults=True), (given[0],))
        )
        if self.when is not None:
            errors.extend(
                _template_errors(
                    self.when if is_template(self.when) else "{{" + self.when + "}}", ("when",)
                )
            )
        raise_at("step", errors)
        return self

    @property
    def kind(self) -> str:
        """The step's kind (its one kind key)."""
        return next(k for k in STEP_KINDS if getattr(self, k) is not None)

    @property
    def spec(self) -> Section:
        """The settings of the step's kind."""
        spec: Section = getattr(self, self.kind)
        return spec


def convert_param(param: ParamConfig, value: Any) -> Any:
    """``value`` (a string from a command line, or a JSON value) as ``param``'s type.

    Raises:
        ValueError: it is not of that type, or not one of the choices (the message says which).
    """
    kind = param.type
    out: Any
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {_shown(value)}")
        out = value
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"expected an integer, got {_shown(value)}")
        try:
            out = int(value)
        except ValueError:
            raise ValueError(f"expected an integer, got {_shown(value)}") from None
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"expected a number, got {_shown(value)}")
        try:
            out = float(value)
        except ValueError:
            raise ValueError(f"expected a number, got {_shown(value)}") from None
        if out != out or out in (float("inf"), float("-inf")):
            raise ValueError("expected a finite number")
    elif kind == "bool":
        if isinstance(value, bool):
            out = value
        elif isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            out = value.strip().lower() in _TRUE
        else:
            raise ValueError(f"expected true or false, got {_shown(value)}")
    elif kind == "duration":
        if isinstance(value, str) and _is_number(value):
            value = float(value)
        try:
            out = parse_duration(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        if not isinstance(out, float):
            raise ValueError(f"expected a duration such as '30s', got {_shown(value)}")
    else:  # choice: compared as given, or as the text of a choice
        choices = param.choices or []
        matches = [c for c in choices if c == value or (isinstance(value, str) and str(c) == value)]
        if not matches:
            raise ValueError(f"{_shown(value)} is not one of: {', '.join(str(c) for c in choices)}")
        out = matches[0]
    if param.choices and kind != "choice" and out not in param.choices:
        raise ValueError(
            f"{_shown(value)} is not one of: {', '.join(str(c) for c in param.choices)}"
        )
    return out


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "\u2026"


ParamType = Literal["str", "int", "float", "bool", "duration", "choice"]


class ParamConfig(Section):
    """One parameter of a runbook."""

    type: ParamType = "str"
    default: Any = None
    description: str = ""
    choices: list[Any] | None = None
    required: bool | None = Field(default=None, description="Default: true when no default.")

    @model_validator(mode="after")
    def _consistent(self) -> ParamConfig:
        if self.type == "choice" and not self.choices:
            raise ValueError("a choice parameter needs `choices`")
        if self.default is not None:
            try:
                convert_param(self, self.default)
            except ValueError as exc:
                raise_at("param", [(("default",), str(exc))])
        return self

    @property
    def is_required(self) -> bool:
        """Whether a run must give it."""
        return self.default is None if self.required is None else self.required


class RunbookConfig(Section):
    """One runbook: who may run it, its parameters, its steps and its rollback."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    role: Literal["viewer", "operator", "admin"] = Field(
        default="operator", description="The least role that may run it and confirm its steps."
    )
    exclusive: bool = Field(default=False, description="One run at a time, across replicas.")
    params: dict[str, ParamConfig] = Field(default_factory=dict)
    steps: list[StepConfig] = Field(min_length=1)
    rollback: list[StepConfig] = Field(default_factory=list)
    _where: str = PrivateAttr(default="")  # file:line it was declared at (for duplicate errors)

    @model_validator(mode="after")
    def _unique_steps(self) -> RunbookConfig:
        # unique across the whole runbook, rollback steps too: values are kept by step name
        errors: list[tuple[tuple[str | int, ...], str]] = []
        seen: dict[str, str] = {}

        def walk(steps: list[StepConfig], at: tuple[str | int, ...]) -> None:
            for i, step in enumerate(steps):
                if step.name in seen:
                    message = f"duplicate step name {step.name!r} (also {seen[step.name]})"
                    errors.append(((*at, i, "name"), message))
                seen.setdefault(step.name, format_path((*at, i)))
                walk(step.rollback, (*at, i, "rollback"))

        walk(self.steps, ("steps",))
        walk(self.rollback, ("rollback",))
        errors.extend(self._unknown_references(set(seen)))
        for name in self.params:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                errors.append((("params", name), "a parameter name is letters, digits and _"))
        raise_at("runbook", errors)
        return self

    def _unknown_references(self, steps: set[str]) -> list[tuple[tuple[str | int, ...], str]]:
        """Templates that read a parameter the runbook does not declare, or a step it does
        not have (caught at load, not when the run reaches them)."""
        errors: list[tuple[tuple[str | int, ...], str]] = []

        def walk(items: list[StepConfig], at: tuple[str | int, ...]) -> None:
            for i, step in enumerate(items):
                spec = getattr(step, step.kind).model_dump(by_alias=True, exclude_defaults=True)
                texts = _templates(spec, (*at, i, step.kind))
                if step.when is not None:
                    when = step.when if is_template(step.when) else "{{" + step.when + "}}"
                    texts.append(((*at, i, "when"), when))
                for loc, text in texts:
                    for root, name in _references(text):
                        known = self.params if root == "params" else steps
                        if name not in known:
                            what = "parameter" if root == "params" else "step"
                            close = difflib.get_close_matches(name, list(known), n=1)
                            hint = f" (did you mean {close[0]!r}?)" if close else ""
                            listed = ", ".join(sorted(known)) or "none"
                            message = (
                                f"the template reads {root}.{name}: no {what} {name!r}{hint} "
                                f"(the runbook's {what}s: {listed})"
                            )
                            errors.append((loc, message))
                walk(step.rollback, (*at, i, "rollback"))

        walk(self.steps, ("steps",))
        walk(self.rollback, ("rollback",))
        return errors

    @property
    def where(self) -> str:
        """``file:line`` where the runbook is declared (empty when built in code)."""
        return self._where


class RunbooksConfig(Section):
    """Runbooks: inline ``definitions`` plus the files ``files`` names, and failover pairs."""

    files: list[str] = Field(
        default_factory=list,
        description="Globs relative to buttress.yaml; each file is a YAML list of runbooks "
        "(or `runbooks: [...]`).",
    )
    definitions: list[RunbookConfig] = Field(default_factory=list)
    failover: FailoverConfig = Field(default_factory=FailoverConfig)
    _included: tuple[RunbookConfig, ...] = PrivateAttr(default=())  # set by the loader
    _secrets: frozenset[str] = PrivateAttr(default=frozenset())  # set by the loader

    @property
    def secrets(self) -> frozenset[str]:
        r"""The secret values ``${VAR}``\ s brought into the runbooks (masked in runs)."""
        return self._secrets

    @model_validator(mode="after")
    def _unique(self) -> RunbooksConfig:
        seen: dict[str, int] = {}
        errors: list[tuple[tuple[str | int, ...], str]] = []
        for i, runbook in enumerate(self.definitions):
            if runbook.name in seen:
                also = f"also definitions[{seen[runbook.name]}]"
                message = f"duplicate runbook name {runbook.name!r} ({also})"
                errors.append((("definitions", i, "name"), message))
            seen.setdefault(runbook.name, i)
        raise_at("runbooks", errors)
        return self

    @property
    def all(self) -> list[RunbookConfig]:
        """Every runbook: the inline ones, then those of the included files."""
        return [*self.definitions, *self._included]

    def get(self, name: str) -> RunbookConfig:
        """The runbook called ``name``.

        Raises:
            NotFoundError: there is none (the message lists the names there are).
        """
        for runbook in self.all:
            if runbook.name == name:
                return runbook
        raise RunbookNotFound(name, [r.name for r in self.all])

    def located(self) -> list[tuple[tuple[str | int, ...], RunbookConfig]]:
        """Every runbook with its path for :class:`~buttress.config.Problem`: inline ones at
        ``("runbooks", "definitions", i)``, included ones at ``("runbooks", "included", k)``
        (the loader places those in their own file)."""
        out: list[tuple[tuple[str | int, ...], RunbookConfig]] = [
            (("runbooks", "definitions", i), r) for i, r in enumerate(self.definitions)
        ]
        out.extend((("runbooks", "included", k), r) for k, r in enumerate(self._included))
        return out


class RunbookNotFound(NotFoundError):
    """No runbook has that name; the message suggests a close one and lists them."""

    def __init__(self, name: str, names: list[str]) -> None:
        super().__init__("runbook", name)
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        self.args = (f"no runbook {name!r}{hint}; the runbooks are {', '.join(names) or 'none'}",)

    def __str__(self) -> str:
        return str(self.args[0])


StepConfig.model_rebuild()
