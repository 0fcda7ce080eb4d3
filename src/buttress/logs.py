"""Structured logging: plain or JSON lines, a request id on every line, secrets redacted.

``configure()`` is called once by the CLI; library users keep their own logging setup and
simply see buttress's loggers (all under ``buttress.``).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from typing import Any, Literal, TextIO

from buttress.secrets import redact, redact_tokens

__all__ = ["RedactingFilter", "configure", "request_id"]

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("buttress_request_id", default="")
"""The id of the request being served (empty outside a request)."""

_STD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "request_id", "color_message"}
)


class RedactingFilter(logging.Filter):
    """Masks secrets (tokens, DSN passwords, bearer headers) in every record, and adds the
    current request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_tokens(redact(message))
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact_tokens(
                redact(logging.Formatter().formatException(record.exc_info))
            )
        elif record.exc_text:
            record.exc_text = redact_tokens(redact(record.exc_text))
        record.request_id = redact_tokens(request_id.get())
        return True


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = dt.datetime.fromtimestamp(record.created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        rid = getattr(record, "request_id", "")
        extras = " ".join(
            f"{k}={redact_tokens(redact(str(v)))}" for k, v in _extras(record).items()
        )
        line = f"{ts}Z {record.levelname:<7} {record.name}"
        if rid:
            line += f" [{rid}]"
        line += f" {record.getMessage()}"
        if extras:
            line += f" {extras}"
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", "")
        if rid:
            out["request_id"] = rid
        for key, value in _extras(record).items():
            out[key] = (
                value
                if isinstance(value, int | float | bool) or value is None
                else redact_tokens(redact(str(value)))
            )
        if record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, default=str)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        k: v for k, v in record.__dict__.items() if k not in _STD_ATTRS and not k.startswith("_")
    }


def configure(
    fmt: Literal["plain", "json"] = "plain",
    level: str = "info",
    *,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send buttress's and uvicorn's logs to ``stream`` (stderr) as plain or JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _PlainFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_buttress", False):
            root.removeHandler(old)
    handler._buttress = True  # type: ignore[attr-defined]  # marks our handler for reconfigure
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # buttress logs its own access lines
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    return handler
