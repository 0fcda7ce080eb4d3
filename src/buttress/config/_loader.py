"""Load ``buttress.yaml`` into :class:`ButtressConfig`, reporting every error with its place.

The YAML is composed into nodes (not loaded straight to dicts) so that each value keeps its
line and column; pydantic's error locations are then mapped back to those positions. All
problems are collected and raised together as one :class:`ConfigError`.
"""

from __future__ import annotations

import difflib
import glob
import math
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Union

import yaml
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from buttress.config._backup import AnyBackupDestinationConfig, AnyBackupTargetConfig
from buttress.config._base import Section, Variant, format_path
from buttress.config._checks import ConfigCheck, problems_of
from buttress.config._health import AnyHealthCheckConfig
from buttress.config._interpolate import InterpolationError, UnsetVariableError, interpolate
from buttress.config._root import ButtressConfig
from buttress.config._runbooks import RunbookConfig
from buttress.config._yaml import BoundedLoader, LimitError
from buttress.errors import ConfigError, ConfigIssue

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_FILE",
    "format_path",
    "load",
    "load_text",
    "resolve_path",
    "unwrap_annotation",
]

CONFIG_ENV = "BUTTRESS_CONFIG"
DEFAULT_FILE = "buttress.yaml"

Path_ = tuple[str | int, ...]
_SECRET_WORDS = ("password", "secret", "token", "key", "url", "dsn")
_VAR_NAME = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
_SECRET_VAR = re.compile(r"(?i)(password|passwd|pwd|secret|token|api_?key|credential)")
_MERGE = "tag:yaml.org,2002:merge"
_NAME_CHARS = 60  # longest key or name echoed in an error, before an ellipsis
_UNIONS: tuple[Any, ...] = (AnyHealthCheckConfig, AnyBackupTargetConfig, AnyBackupDestinationConfig)


def resolve_path(explicit: str | Path | None, env: Mapping[str, str] | None = None) -> Path | None:
    """The config file to read: ``explicit``, else $BUTTRESS_CONFIG, else ./buttress.yaml if it
    exists, else ``None`` (built-in defaults)."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    default = Path(DEFAULT_FILE)
    return default if default.is_file() else None


def load(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    check_files: bool = False,
    checks: Sequence[ConfigCheck] | None = None,
) -> ButtressConfig:
    """Read and validate a configuration file (see :func:`resolve_path` for which one).

    ``check_files`` (``config check``) also reads the key files the backup section names
    (recipients, identities, passphrase file), which other commands read only when they need them.
    ``checks`` are the domain checks of the validation step (default: every registered one,
    see :func:`register_check`); the built-in defaults (no file) pass them all.

    Raises:
        ConfigError: the file cannot be read or is invalid; ``issues`` lists every problem.
    """
    env = os.environ if env is None else env
    resolved = resolve_path(path, env)
    if resolved is None:
        return ButtressConfig()
    try:
        text = resolved.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            [ConfigIssue(str(resolved), 0, 0, "", f"cannot read config file: {reason}")]
        ) from exc
    config = load_text(
        text, filename=str(resolved), env=env, check_files=check_files, checks=checks
    )
    if config.data_dir is not None and not config.data_dir.is_absolute():
        config = config.model_copy(update={"data_dir": resolved.parent / config.data_dir})
    config._file = resolved.absolute()
    return config


def load_text(
    text: str,
    *,
    filename: str = "<string>",
    env: Mapping[str, str] | None = None,
    check_files: bool = False,
    checks: Sequence[ConfigCheck] | None = None,
) -> ButtressConfig:
    """Validate configuration given as YAML text; ``filename`` is used in error messages.

    The models check the file first; when they accept it, the domain ``checks`` run (default:
    every registered one), and their problems are placed at file:line like the models' own.
    """
    reader = _Reader(filename, os.environ if env is None else env)
    data = reader.read(text)
    try:
        config = ButtressConfig.model_validate(data, context={"check_files": check_files})
    except ValidationError as exc:
        reader.add_validation_errors(exc)
        raise ConfigError(_in_order(reader.issues)) from None
    config._filename = filename
    placed = _include_runbooks(config, reader, filename, env=os.environ if env is None else env)
    if reader.issues:
        raise ConfigError(_in_order(reader.issues))
    config._report = placed
    for path, issue in reader.unresolved:
        destination = config.backup.destinations[int(path[2])]
        destination._unresolved = (*destination._unresolved, issue)
    for problem in problems_of(config, checks, check_files=check_files):
        reader.issues.append(placed(problem.path, problem.message))
    if reader.issues:
        raise ConfigError(_in_order(reader.issues))
    return config


def _in_order(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """``issues`` as the files have them: the main file first, each top to bottom."""
    files = list(dict.fromkeys(i.file for i in issues))
    return sorted(issues, key=lambda i: (files.index(i.file), i.line, i.column))


class _RunbookFile(Section):
    """An included runbook file written as a mapping: ``runbooks: [...]``."""

    runbooks: list[RunbookConfig] = Field(default_factory=list)


_GLOB = re.compile(r"[*?\[]")


def _include_runbooks(
    config: ButtressConfig, reader: _Reader, filename: str, *, env: Mapping[str, str]
) -> Callable[[Path_, str], ConfigIssue]:
    """Read the files ``runbooks.files`` names (globs relative to the config file), each
    through a reader of its own so its errors name it; problems go to ``reader.issues``.
    Sets the section's included runbooks, and each runbook's ``file:line``.

    Returns the configuration's reporter: a path ``("runbooks", "included", k, ...)`` (see
    :meth:`RunbooksConfig.located`) is placed in the file of included runbook ``k``."""
    section = config.runbooks
    secrets = reader.secrets_under(("runbooks",))
    places: dict[str, str] = {}
    for i, runbook in enumerate(section.definitions):
        spot = reader.report(("runbooks", "definitions", i, "name"), "")
        runbook._where = f"{spot.file}:{spot.line}"
        places.setdefault(runbook.name, runbook._where)
    base = Path(filename).parent if not filename.startswith("<") else Path()
    included: list[RunbookConfig] = []
    readers: list[_Place] = []
    seen: set[Path] = set()
    for i, pattern in enumerate(section.files):
        if _GLOB.search(pattern):
            # glob.glob, not Path.glob: a pattern may be absolute
            matched = sorted(Path(p) for p in glob.glob(str(base / pattern)))  # noqa: PTH207
        else:
            matched = [base / pattern]
        for path in matched:
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            read = _read_runbook_file(path, reader, ("runbooks", "files", i), env, secrets)
            for runbook, at in read:
                spot = at.report((*at.prefix, "name"), "")
                runbook._where = f"{spot.file}:{spot.line}"
                if runbook.name in places:
                    also = f"(also at {places[runbook.name]})"
                    message = f"duplicate runbook name {runbook.name!r} {also}"
                    reader.issues.append(at.report((*at.prefix, "name"), message))
                    continue
                places[runbook.name] = runbook._where
                included.append(runbook)
                readers.append(at)
    section._included = tuple(included)
    section._secrets = frozenset(secrets)

    def report(path: Path_, message: str) -> ConfigIssue:
        if path[:2] == ("runbooks", "included") and len(path) > 2 and isinstance(path[2], int):
            file_report, prefix = readers[path[2]].report, readers[path[2]].prefix
            return file_report((*prefix, *path[3:]), message)
        return reader.report(path, message)

    return report


class _Place(NamedTuple):
    """Where an included runbook is: its file's reporter and its path in that file."""

    report: Callable[[Path_, str], ConfigIssue]
    prefix: Path_


def _read_runbook_file(
    path: Path, main: _Reader, at: Path_, env: Mapping[str, str], secrets: set[str]
) -> list[tuple[RunbookConfig, _Place]]:
    """The runbooks of one included file, each with its place; its problems go to
    ``main.issues``, its secret ``${VAR}`` values to ``secrets``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        main.issues.append(main.report(at, f"cannot read runbook file {path}: {reason}"))
        return []
    reader = _Reader(str(path), env)
    try:
        data = reader.read(text, top=(list, dict))
    except ConfigError:
        main.issues.extend(reader.issues)
        return []
    root: Any = list[RunbookConfig] if isinstance(data, list) else _RunbookFile
    reader.root_type = root
    secrets.update(reader.secrets_under(()))
    try:
        parsed = TypeAdapter(root).validate_python(data)
    except ValidationError as exc:
        reader.add_validation_errors(exc)
        main.issues.extend(reader.issues)
        return []
    main.issues.extend(reader.issues)
    runbooks: list[RunbookConfig] = parsed if isinstance(parsed, list) else parsed.runbooks
    prefix: Path_ = () if isinstance(data, list) else ("runbooks",)
    return [(r, _Place(reader.report, (*prefix, i))) for i, r in enumerate(runbooks)]


_INVALID: Any = type("_Invalid", (), {"__repr__": lambda self: "<invalid>"})()
"""Stands for a value already reported: every typed field rejects it, so no model validator
runs on it and adds a second, misleading error."""


class _Reader:
    def __init__(self, filename: str, env: Mapping[str, str], root: Any = ButtressConfig) -> None:
        self.filename = filename
        self.env = env
        self.root_type = root  # the type the document is validated as (an included file's own)
        self.issues: list[ConfigIssue] = []
        self.root: yaml.Node | None = None
        # Each node is walked once and its value shared by every alias (as yaml.safe_load
        # does); positions are found again by following a path through the nodes.
        self.built: dict[int, Any] = {}
        self.index: dict[int, dict[str, tuple[yaml.Node, yaml.Node]]] = {}
        self.hidden: set[int] = set()  # nodes whose value came from the environment: never echoed
        self.broken: set[int] = set()  # nodes already reported; validation errors there are noise
        self.unresolved: list[tuple[Path_, ConfigIssue]] = []  # deferred unset ${VAR}s

    def issue(self, where: tuple[int, int], path: Path_, message: str) -> None:
        shown = tuple(p if isinstance(p, int) else _short(p) for p in path)
        self.issues.append(
            ConfigIssue(
                self.filename, where[0], where[1], format_path(shown), _shorten_words(message)
            )
        )

    def read(self, text: str, *, top: tuple[type, ...] = (dict,)) -> Any:
        loader = BoundedLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return {}
            self.root = node
            data = self._walk(loader, node, ())
        except LimitError as exc:
            self.issue((exc.mark.line + 1, exc.mark.column + 1), (), exc.message)
            raise ConfigError(self.issues) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            problem = exc.problem or exc.context or "malformed YAML"
            context = f" ({exc.context})" if exc.context and exc.problem else ""
            self.issue(where, (), f"invalid YAML: {problem}{context}")
            raise ConfigError(self.issues) from None
        except yaml.YAMLError as exc:
            self.issue((1, 1), (), f"invalid YAML: {exc}")
            raise ConfigError(self.issues) from None
        finally:
            loader.dispose()
        if not isinstance(data, top):
            what = "a mapping of sections" if top == (dict,) else "a list of runbooks"
            self.issue((1, 1), (), f"the top level must be {what}, not {_kind(data)}")
            raise ConfigError(self.issues)
        return data

    def _walk(self, loader: yaml.SafeLoader, node: yaml.Node, path: Path_) -> Any:
        # The composer bounded depth and size and refused cycles, so this recursion is bounded.
        if id(node) in self.built:
            return self.built[id(node)]
        value: Any
        if isinstance(node, yaml.MappingNode):
            value = self._walk_mapping(loader, node, path)
        elif isinstance(node, yaml.SequenceNode):
            value = [self._walk(loader, item, (*path, i)) for i, item in enumerate(node.value)]
        else:
            value = self._scalar(loader, node, path)
        self.built[id(node)] = value
        return value

    def _walk_mapping(
        self, loader: yaml.SafeLoader, node: yaml.MappingNode, path: Path_
    ) -> dict[str, Any]:
        own = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE)
        loader.flatten_mapping(node)  # puts the pairs of `<<:` mappings first, own pairs last
        merged = len(node.value) - own
        merged_keys: set[yaml.Node] = set()
        out: dict[str, Any] = {}
        index: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for position, (key_node, value_node) in enumerate(node.value):
            at = _position(key_node)
            if not isinstance(key_node, yaml.ScalarNode):
                self.issue(at, path, f"keys must be strings, got {_kind_of_node(key_node)}")
                continue
            key = self._construct(loader, key_node, path)
            if key is _INVALID:
                continue
            if not isinstance(key, str):
                self.issue(at, path, f"keys must be strings, got {_short(repr(key))}")
                continue
            if "\0" in key:
                self.issue(at, path, "a key contains a NUL byte (\\0)")
                continue
            if key in out and index[key][0] not in merged_keys:
                self.issue(at, (*path, key), "duplicate key (an earlier value would be lost)")
                continue
            if position < merged:
                merged_keys.add(key_node)  # a later merge or an own key overrides it
            index[key] = (key_node, value_node)
            out[key] = self._walk(loader, value_node, (*path, key))
        self.index[id(node)] = index
        return out

    def _scalar(self, loader: yaml.SafeLoader, node: yaml.Node, path: Path_) -> Any:
        value = self._construct(loader, node, path)
        if isinstance(value, str) and "$" in value:
            try:
                value, substituted = interpolate(value, self.env)
            except UnsetVariableError as exc:
                if path[:2] != ("backup", "destinations") or len(path) < 4:
                    return self._reject(node, path, str(exc))
                # a destination's unset ${VAR} fails only the commands that use it (item 14)
                self.hidden.add(id(node))
                where = _position(node)
                self.unresolved.append((path, ConfigIssue(
                    self.filename, where[0], where[1], format_path(path), str(exc)
                )))  # fmt: skip
                return value
            except InterpolationError as exc:
                return self._reject(node, path, str(exc))
            if substituted:
                self.hidden.add(id(node))
        # Every scalar of the file passes here: the one place for checks on every value.
        if isinstance(value, str) and "\0" in value:
            return self._reject(node, path, "contains a NUL byte (\\0)")
        if isinstance(value, float) and not math.isfinite(value):
            return self._reject(
                node,
                path,
                "must be a finite number (.nan, .inf and numbers beyond ±1.8e308 are not allowed)",
            )
        return value

    def _construct(self, loader: yaml.SafeLoader, node: yaml.Node, path: Path_) -> Any:
        try:
            return loader.construct_object(node, deep=True)
        except (ValueError, OverflowError) as exc:
            if node.tag == "tag:yaml.org,2002:int":
                limit = sys.get_int_max_str_digits()
                message = (
                    f"integer too large ({len(node.value):,} characters; at most {limit:,} digits)"
                )
            else:
                message = f"invalid {node.tag.rpartition(':')[2]} value: {exc}"
            return self._reject(node, path, message)

    def _reject(self, node: yaml.Node, path: Path_, message: str) -> Any:
        self.issue(_position(node), path, message)
        self.broken.add(id(node))
        return _INVALID

    def report(self, path: Path_, message: str) -> ConfigIssue:
        """A problem the validation step found at ``path``, placed at its line in the file."""
        _, nodes, _, _ = self._locate(path)
        if len(nodes) == len(path) + 1:  # never echo a ${VAR}'s value, here or below
            for hidden in self._hidden_under(nodes[-1]):
                value = self.built.get(id(hidden))
                if isinstance(value, str) and value:  # as a check quotes it, as the models do
                    message = message.replace(repr(value), "(the value)")
        where = _position(nodes[-1]) if nodes else (0, 0)
        shown = tuple(p if isinstance(p, int) else _short(p) for p in path)
        return ConfigIssue(
            self.filename, where[0], where[1], format_path(shown), _shorten_words(message)
        )

    def secrets_under(self, path: Path_) -> set[str]:
        """The values at or under ``path`` that came from a ``${VAR}`` and are secrets: the
        variable's name says so (``${DB_PASSWORD}``) or the key's does (``password:``)."""
        _, nodes, _, _ = self._locate(path)
        if len(nodes) != len(path) + 1:
            return set()
        found: set[str] = set()

        def walk(node: yaml.Node, at: Path_) -> None:
            if isinstance(node, yaml.MappingNode):
                for key, child in node.value:
                    walk(child, (*at, str(key.value)))
            elif isinstance(node, yaml.SequenceNode):
                for i, child in enumerate(node.value):
                    walk(child, (*at, i))
            elif id(node) in self.hidden:
                value = self.built.get(id(node))
                key = at[-1] if at else ""
                if isinstance(value, str) and isinstance(key, str) and _SECRET_VAR.search(key):
                    found.add(value)  # a secret key (an env `API_TOKEN:`): its whole value
                for name in _VAR_NAME.findall(str(node.value)):
                    if _SECRET_VAR.search(name) and self.env.get(name):
                        found.add(self.env[name])  # a secret variable: its own value

        walk(nodes[-1], path)
        return found

    def _hidden_under(self, node: yaml.Node) -> list[yaml.Node]:
        """The scalars at or under ``node`` whose value came from the environment."""
        if isinstance(node, yaml.MappingNode):
            return [h for _, child in node.value for h in self._hidden_under(child)]
        if isinstance(node, yaml.SequenceNode):
            return [h for child in node.value for h in self._hidden_under(child)]
        return [node] if id(node) in self.hidden else []

    def add_validation_errors(self, exc: ValidationError) -> None:
        data_root = exc.errors(include_url=False, include_context=False, include_input=True)
        for error in data_root:
            path, nodes, key_node, model = self._locate(error["loc"])
            if any(id(n) in self.broken for n in nodes):
                continue
            where = _position(nodes[-1]) if nodes else (1, 1)
            complete = len(nodes) == len(path) + 1
            kind = error["type"]
            variant = model if isinstance(model, type) and issubclass(model, Variant) else None
            if kind in ("union_tag_invalid", "union_tag_not_found"):
                self._bad_kind(path, nodes, complete, _variants(model))
            elif kind == "extra_forbidden":
                owners = _owners(variant, str(path[-1])) if variant else []
                if variant is not None and owners:
                    self.issue(
                        where,
                        path,
                        f"`{path[-1]}` does not apply to {_a(_tag(variant))} "
                        f"{variant.variant_noun} (only {', '.join(owners)})",
                    )
                else:
                    self.issue(
                        _position(key_node) if complete and key_node else where,
                        path,
                        _unknown_key(path, model),
                    )
            elif kind == "missing" and variant is not None and path and _own(variant, path[-1]):
                self.issue(
                    where,
                    path[:-1],
                    f"{_a(_tag(variant))} {variant.variant_noun} needs `{path[-1]}`",
                )
            elif kind == "missing":
                self.issue(where, path, "required field is missing")
            else:
                message = (
                    error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
                )
                value = error.get("input")
                private = (complete and id(nodes[-1]) in self.hidden) or _secret_path(path)
                if private and isinstance(value, str) and value and repr(value) in message:
                    message = message.replace(repr(value), "(the value)")  # a validator quoted it
                elif not private and _echoable(value) and repr(value) not in message:
                    message += f" (got {value!r})"
                self.issue(where, path, message)

    def _bad_kind(
        self, path: Path_, nodes: list[yaml.Node], complete: bool, variants: list[type[Variant]]
    ) -> None:
        """The key that tells the kinds apart (``type``, ``source``) is missing or unknown."""
        where = _position(nodes[-1]) if nodes else (1, 1)
        if not variants:
            self.issue(where, path, "invalid value")
            return
        key = variants[0].variant_key
        tags = ", ".join(_tag(v) for v in variants)
        at = self._child(nodes[-1], key) if complete else None
        if at is None:
            self.issue(where, (*path, key), f"required field is missing (one of: {tags})")
            return
        if id(at[1]) in self.broken:
            return
        value = self.built.get(id(at[1]))
        shown = f" {_short(repr(value))}" if isinstance(value, str | int | float) else ""
        noun = variants[0].variant_noun
        self.issue(_position(at[1]), (*path, key), f"unknown {noun} {key}{shown} (one of: {tags})")

    def _locate(
        self, loc: tuple[int | str, ...]
    ) -> tuple[Path_, list[yaml.Node], yaml.Node | None, Any]:
        """The YAML path of a pydantic location, the nodes along it as far as it goes in the
        file, the key node of its last step, and the model the last step is a field of (the
        union itself when the location ends at a discriminated union)."""
        # pydantic adds union/validator tags such as 'function-after[...]' and the tag of a
        # discriminated union's kind to locations; the type is walked alongside the location
        # to tell those from the keys and indexes of the parsed YAML.
        path: list[str | int] = []
        nodes: list[yaml.Node] = [] if self.root is None else [self.root]
        key_node: yaml.Node | None = None
        tp: Any = self.root_type
        model: Any = None
        for part in loc:
            variants = _variants(tp)
            if variants and isinstance(part, str):
                chosen = next((v for v in variants if _tag(v) == part), None)
                if chosen is not None:
                    tp = chosen
                    continue
            model = unwrap_annotation(tp)
            tp = _field_type(model, part)
            step = self._child(nodes[-1], part) if len(nodes) == len(path) + 1 else None
            if step is not None:
                key_node, child = step
                nodes.append(child)
                path.append(part)
            elif isinstance(part, str) and "[" not in part:
                path.append(part)
        return tuple(path), nodes, key_node, (tp if _variants(tp) else model)

    def _child(self, node: yaml.Node, part: int | str) -> tuple[yaml.Node | None, yaml.Node] | None:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            return self.index.get(id(node), {}).get(part)
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            return None, node.value[part]
        return None


def _unknown_key(path: Path_, model: Any) -> str:
    key = path[-1]
    message = f"unknown key {_short(repr(key))}"
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return message
    allowed = sorted(model.model_fields)
    if not allowed:
        return f"{message}: this section takes no keys yet"
    close = difflib.get_close_matches(str(key)[:_NAME_CHARS], allowed, n=1, cutoff=0.6)
    if close:
        return f"{message} (did you mean {close[0]!r}?)"
    return f"{message}; allowed keys: {', '.join(allowed)}"


def _field_type(tp: Any, part: str | int) -> Any:
    """The type one step (a key or an index) inside ``tp``; ``None`` when there is none."""
    origin = typing.get_origin(tp)
    if isinstance(part, int) and origin is list:
        return typing.get_args(tp)[0]
    if origin is dict:
        return typing.get_args(tp)[1]
    if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
        for name, field in tp.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
    return None


def _variants(tp: Any) -> list[type[Variant]]:
    """The kinds of a discriminated union of :class:`Variant` models (else ``[]``)."""
    base = unwrap_annotation(tp)
    if typing.get_origin(base) not in (Union, types.UnionType):
        return []
    kinds = [unwrap_annotation(a) for a in typing.get_args(base)]
    if kinds and all(isinstance(k, type) and issubclass(k, Variant) for k in kinds):
        return kinds
    return []


def _tag(variant: type[Variant]) -> str:
    """The value of the key that selects ``variant`` (``local`` for a local destination)."""
    field = variant.model_fields[variant.variant_key]
    return str(typing.get_args(unwrap_annotation(field.annotation))[0])


def _owners(variant: type[Variant], key: str) -> list[str]:
    """The kinds, among ``variant``'s siblings, that do have the field ``key``."""
    for union in _UNIONS:
        kinds = _variants(union)
        if variant in kinds:
            return [_tag(k) for k in kinds if k is not variant and key in k.model_fields]
    return []


def _own(variant: type[Variant], field: str | int) -> bool:
    """True when ``field`` is one of ``variant``'s own (not a field every kind has)."""
    common = next(c for c in reversed(variant.__mro__) if c in Variant.__subclasses__())
    return field not in common.model_fields


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" or word == "s3" else f"a {word}"


def unwrap_annotation(tp: Any) -> Any:
    """Strip ``Annotated[...]`` and ``X | None`` down to the underlying type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _secret_path(path: Path_) -> bool:
    return any(isinstance(p, str) and any(w in p.lower() for w in _SECRET_WORDS) for p in path)


def _echoable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(repr(value)) <= 80


def _kind(value: Any) -> str:
    if value is None:
        return "an empty document"
    names: dict[type, str] = {list: "a list", str: "a string"}
    return names.get(type(value), f"a {type(value).__name__}")


def _position(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _kind_of_node(node: yaml.Node) -> str:
    return "a mapping" if isinstance(node, yaml.MappingNode) else "a list"


def _short(text: str, limit: int = _NAME_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


_LONG_WORD = re.compile(rf"\S{{{_NAME_CHARS + 20},}}")


def _shorten_words(message: str) -> str:
    """Cut every overlong word (a name a validator echoed) and, last, the whole message."""
    message = _LONG_WORD.sub(lambda m: m[0][: _NAME_CHARS - 1] + "\u2026" + m[0][-2:], message)
    return _short(message, 1000)
