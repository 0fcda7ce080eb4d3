"""Load ``buttress.yaml`` into :class:`ButtressConfig`, reporting every error with its place.

The YAML is composed into nodes (not loaded straight to dicts) so that each value keeps its
line and column; pydantic's error locations are then mapped back to those positions. All
problems are collected and raised together as one :class:`ConfigError`.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from buttress.config._interpolate import InterpolationError, interpolate
from buttress.config._models import ButtressConfig
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


def load(path: str | Path | None = None, *, env: Mapping[str, str] | None = None) -> ButtressConfig:
    """Read and validate a configuration file (see :func:`resolve_path` for which one).

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
    config = load_text(text, filename=str(resolved), env=env)
    if config.data_dir is not None and not config.data_dir.is_absolute():
        config = config.model_copy(update={"data_dir": resolved.parent / config.data_dir})
    return config


def load_text(
    text: str, *, filename: str = "<string>", env: Mapping[str, str] | None = None
) -> ButtressConfig:
    """Validate configuration given as YAML text; ``filename`` is used in error messages."""
    reader = _Reader(filename, os.environ if env is None else env)
    data = reader.read(text)
    try:
        config = ButtressConfig.model_validate(data)
    except ValidationError as exc:
        reader.add_validation_errors(exc)
        config = None
    if reader.issues:
        raise ConfigError(sorted(reader.issues, key=lambda i: (i.line, i.column)))
    assert config is not None
    return config


def format_path(path: Path_) -> str:
    """``('backup', 'targets', 0, 'schedule')`` -> ``backup.targets[0].schedule``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Reader:
    def __init__(self, filename: str, env: Mapping[str, str]) -> None:
        self.filename = filename
        self.env = env
        self.issues: list[ConfigIssue] = []
        self.values: dict[Path_, tuple[int, int]] = {(): (1, 1)}
        self.keys: dict[Path_, tuple[int, int]] = {}
        self.hidden: set[Path_] = set()  # values from the environment: never echoed
        self.broken: set[Path_] = set()  # already reported; validation errors there are noise

    def issue(self, where: tuple[int, int], path: Path_, message: str) -> None:
        self.issues.append(
            ConfigIssue(self.filename, where[0], where[1], format_path(path), message)
        )

    def read(self, text: str) -> Any:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return {}
            data = self._walk(loader, node, ())
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
        if not isinstance(data, dict):
            self.issue(
                (1, 1), (), f"the top level must be a mapping of sections, not {_kind(data)}"
            )
            raise ConfigError(self.issues)
        return data

    def _walk(self, loader: yaml.SafeLoader, node: yaml.Node, path: Path_) -> Any:
        self.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            loader.flatten_mapping(node)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                at = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if not isinstance(key, str):
                    self.issue(at, path, f"keys must be strings, got {key!r}")
                    continue
                if key in out:
                    self.issue(at, (*path, key), "duplicate key (an earlier value would be lost)")
                    continue
                self.keys[(*path, key)] = at
                out[key] = self._walk(loader, value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._walk(loader, item, (*path, i)) for i, item in enumerate(node.value)]
        value = loader.construct_object(node, deep=True)
        if isinstance(value, str) and "$" in value:
            try:
                value, substituted = interpolate(value, self.env)
            except InterpolationError as exc:
                self.issue(self.values[path], path, str(exc))
                self.broken.add(path)
                return None
            if substituted:
                self.hidden.add(path)
        return value

    def add_validation_errors(self, exc: ValidationError) -> None:
        data_root = exc.errors(include_url=False, include_context=False, include_input=True)
        for error in data_root:
            path = self._data_path(error["loc"])
            if any(path[: i + 1] in self.broken for i in range(len(path))):
                continue
            kind = error["type"]
            if kind == "extra_forbidden":
                where = self.keys.get(path, self._nearest(path))
                self.issue(where, path, _unknown_key(path))
            elif kind == "missing":
                self.issue(self._nearest(path[:-1]), path, "required field is missing")
            else:
                message = (
                    error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
                )
                value = error.get("input")
                if (
                    path not in self.hidden
                    and not _secret_path(path)
                    and _echoable(value)
                    and repr(value) not in message
                ):
                    message += f" (got {value!r})"
                self.issue(self._nearest(path), path, message)

    def _data_path(self, loc: tuple[int | str, ...]) -> Path_:
        # pydantic adds union/validator tags such as 'function-after[...]' to locations;
        # keep only components that are real keys or indexes of the parsed YAML.
        path: list[str | int] = []
        for part in loc:
            candidate = (*path, part)
            if (
                candidate in self.values
                or candidate in self.keys
                or (isinstance(part, str) and "[" not in part)
            ):
                path.append(part)
        return tuple(path)

    def _nearest(self, path: Path_) -> tuple[int, int]:
        for i in range(len(path), -1, -1):
            if path[:i] in self.values:
                return self.values[path[:i]]
        return (1, 1)


def _unknown_key(path: Path_) -> str:
    key = path[-1]
    model = _model_at(ButtressConfig, path[:-1])
    message = f"unknown key {key!r}"
    if model is None:
        return message
    allowed = sorted(model.model_fields)
    if not allowed:
        return f"{message}: this section takes no keys yet"
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    if close:
        return f"{message} (did you mean {close[0]!r}?)"
    return f"{message}; allowed keys: {', '.join(allowed)}"


def _model_at(root: type[BaseModel], path: Path_) -> type[BaseModel] | None:
    tp: Any = root
    for part in path:
        tp = unwrap_annotation(tp)
        origin = typing.get_origin(tp)
        if isinstance(part, int) and origin is list:
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        elif isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            field = tp.model_fields.get(part)
            if field is None:
                return None
            tp = field.annotation
        else:
            return None
    tp = unwrap_annotation(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


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
