"""The steps that reach other things: ``http``, ``sql``, ``action``, and ``check`` (a probe
and a Chaos Toolkit tolerance), with ``wait: {until: ...}`` polling a check."""

from __future__ import annotations

import datetime
import decimal
import json
import math
import os
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from buttress.config._runbooks import (
    ActionStep,
    CheckStep,
    CommandStep,
    HttpStep,
    SqlStep,
    StepConfig,
    WaitStep,
)
from buttress.runbooks.errors import RunbookError, StepError
from buttress.secrets import mask_url, redact_echo

if TYPE_CHECKING:
    from buttress.runbooks._render import Masker, Renderer
    from buttress.runbooks.actions import ActionContext
    from buttress.runbooks.engine import Engine, StepResult

__all__ = ["attempt", "connect_only", "context", "dsn_of", "wait_until", "within"]

DEFAULT_TIMEOUT = 30.0  # seconds an http or sql step may take when it sets no timeout
MAX_BODY = 64 * 1024  # characters of an HTTP body kept for templates and the record
MAX_ROWS = 100  # rows of a result kept for templates and the record
# a driver's error that means the time ran out: PostgreSQL's statement_timeout, MariaDB's
# max_statement_time (1969), PyMySQL's read timeout, a connect timeout
_TIMED_OUT = re.compile(r"(?i)timeout|timed out|max_statement_time|\(1969,")


def context(engine: Engine, *, run_id: str, timeout: float | None = None) -> ActionContext:
    """What an action of ``engine``'s run may use."""
    from buttress.runbooks.actions import ActionContext

    return ActionContext(
        engine.config, engine.catalog, engine.actor, run_id, engine.policies, timeout
    )


def attempt(
    engine: Engine, renderer: Renderer, masker: Masker, step: StepConfig, *, run_id: str
) -> StepResult:
    """One attempt of an http, sql, action or check step."""
    from buttress.runbooks.engine import StepResult

    spec = step.spec
    if isinstance(spec, CheckStep):
        values = check(engine, renderer, masker, spec, timeout=step.timeout, run_id=run_id)
        return StepResult(values, f"value {_shown(values['value'])}: within tolerance")
    values = probe(engine, renderer, masker, spec, timeout=step.timeout, run_id=run_id)
    if isinstance(spec, HttpStep):
        expect_http(spec, renderer, values)
        return StepResult(values, f"HTTP {values['status']}\n{values['body']}")
    if isinstance(spec, SqlStep):
        expect_sql(spec, renderer, values)
        return StepResult(values, json.dumps(values["result"], default=str))
    return StepResult(values, json.dumps(values, default=str))


def probe(
    engine: Engine,
    renderer: Renderer,
    masker: Masker,
    spec: Any,
    *,
    timeout: float | None,
    run_id: str,
) -> dict[str, Any]:
    """The values one call of ``spec`` (command, http, sql or action) produces; a command's
    exit code is not judged here (a check's tolerance may be about it)."""
    if isinstance(spec, CommandStep):
        from buttress.runbooks.engine import command_line

        argv, cwd, env = command_line(spec, renderer)
        masker.add_env(env)
        from buttress.runbooks._command import run_process

        try:
            done = run_process(
                argv, cwd=cwd, env={**os.environ, **env}, timeout=timeout,
                max_output=spec.max_output,
            )  # fmt: skip
        except OSError as exc:
            raise StepError(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None
        if done.timed_out:
            raise StepError(f"timed out after {timeout:g}s", status="timed_out")
        return {"exit_code": done.exit_code, "stdout": masker(done.output)}
    if isinstance(spec, HttpStep):
        return _http(spec, renderer, masker, timeout or DEFAULT_TIMEOUT)
    if isinstance(spec, SqlStep):
        return _sql(engine, spec, renderer, masker, timeout or DEFAULT_TIMEOUT)
    if isinstance(spec, ActionStep):
        return _action(engine, spec, renderer, timeout=timeout, run_id=run_id)
    raise RunbookError(f"cannot probe a {type(spec).__name__}")


# -- http ----------------------------------------------------------------------------------


def _http(spec: HttpStep, renderer: Renderer, masker: Masker, timeout: float) -> dict[str, Any]:
    import httpx

    url = renderer.text(spec.url)
    masker.add_url(url)
    headers = {k: renderer.text(v) for k, v in spec.headers.items()}
    for name, value in headers.items():
        if name.lower() in ("authorization", "proxy-authorization", "x-api-key", "cookie"):
            masker.add(value.split(" ", 1)[-1])
    body = renderer.text(spec.body) if spec.body is not None else None
    method = renderer.text(spec.method).upper()
    try:
        # trust_env=False: a step talks to the URL it names, not through a proxy of the env
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            response = client.request(method, url, headers=headers, content=body)
    except httpx.TimeoutException:
        raise StepError(
            f"{method} {mask_url(url)}: no response within {timeout:g}s", status="timed_out"
        ) from None
    except httpx.HTTPError as exc:
        raise StepError(masker(f"{method} {mask_url(url)}: {type(exc).__name__}: {exc}")) from None
    text = response.text
    try:
        parsed: Any = response.json()
    except ValueError:
        parsed = None
    return {
        "status": response.status_code,
        "body": masker(text[:MAX_BODY]),
        "json": masker.deep(parsed),
    }


def expect_http(spec: HttpStep, renderer: Renderer, values: Mapping[str, Any]) -> None:
    """Raise :class:`StepError` unless the response is what ``spec`` expects."""
    if values["status"] not in spec.status:
        accepted = ", ".join(map(str, spec.status))
        raise StepError(f"HTTP {values['status']} (accepted: {accepted})", output=values["body"])
    if spec.json_ is not None:
        expected = renderer.deep(spec.json_)
        if values["json"] != expected:
            raise StepError(
                f"the JSON body is {_shown(values['json'])}, expected {_shown(expected)}",
                output=values["body"],
            )
    if spec.regex is not None:
        pattern = renderer.text(spec.regex)
        if re.search(pattern, values["body"]) is None:
            raise StepError(f"the body does not match {pattern!r}", output=values["body"])


# -- sql -----------------------------------------------------------------------------------


def dsn_of(engine: Engine, spec: SqlStep, renderer: Renderer) -> str:
    """The DSN a sql step connects to: its own (rendered), or its backup target's."""
    from buttress.runbooks._plan import target_dsn

    if spec.dsn is not None:
        return renderer.text(spec.dsn)
    found = target_dsn(engine, spec.target or "")
    if found is None:
        raise RunbookError(f"backup target {spec.target!r} does not exist or has no DSN")
    return found


def _flavour(dsn: str) -> str:
    scheme = dsn.split("://", 1)[0].lower() if "://" in dsn else "postgresql"
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    if scheme in ("mariadb", "mysql"):
        return "mariadb"
    raise RunbookError(
        f"DSN {mask_url(dsn)!r}: a sql step speaks postgresql:// or mariadb:// (mysql://)"
    )


def connect_only(dsn: str, timeout: float = 3.0) -> str | None:
    """Why ``dsn`` does not connect (None: it does). The connection is closed at once;
    nothing is executed on it."""
    try:
        flavour = _flavour(dsn)
        if flavour == "postgresql":
            import psycopg

            psycopg.connect(dsn, connect_timeout=max(1, math.ceil(timeout))).close()
        else:
            import pymysql

            from buttress.platform.dsn import parse_mariadb_dsn

            pymysql.connect(**parse_mariadb_dsn(dsn), connect_timeout=timeout).close()
    except RunbookError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001  # any failure to connect is the problem shown
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{mask_url(dsn)} does not connect: {redact_echo(first, dsn)}"
    return None


class _ConnectError(Exception):
    """The connection failed (not the statement): its message is about the DSN."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime.date | datetime.time | datetime.timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return value


def _sql(
    engine: Engine, spec: SqlStep, renderer: Renderer, masker: Masker, timeout: float
) -> dict[str, Any]:
    dsn = dsn_of(engine, spec, renderer)
    masker.add_url(dsn)
    statement = renderer.text(spec.statement)
    try:
        if _flavour(dsn) == "postgresql":
            rows, count = _postgresql(dsn, statement, write=spec.write, timeout=timeout)
        else:
            rows, count = _mariadb(dsn, statement, write=spec.write, timeout=timeout)
    except (RunbookError, StepError):
        raise
    except _ConnectError as exc:  # the driver may quote pieces of the DSN: redact_echo
        first = str(exc.cause).strip() or type(exc.cause).__name__
        raise StepError(
            masker(f"{mask_url(dsn)} does not connect: {redact_echo(first, dsn)}")
        ) from None
    except Exception as exc:  # noqa: BLE001  # the driver's error is the step's failure
        message = str(exc).strip() or type(exc).__name__
        status = "timed_out" if _TIMED_OUT.search(message) else "failed"
        # the statement's error (the masker knows the DSN's password); not redact_echo, which
        # hides every quoted fragment, there the server's own message
        raise StepError(masker(f"{type(exc).__name__}: {message}"), status=status) from None
    result = [[_plain(v) for v in row] for row in rows[:MAX_ROWS]]
    value = result[0][0] if result and result[0] else None
    shown: dict[str, Any] = masker.deep({"rows": count, "value": value, "result": result})
    return shown


def _postgresql(
    dsn: str, statement: str, *, write: bool, timeout: float
) -> tuple[list[tuple[Any, ...]], int]:
    import psycopg

    try:
        connection = psycopg.connect(dsn, connect_timeout=max(1, math.ceil(timeout)))
    except psycopg.Error as exc:
        raise _ConnectError(exc) from None
    with connection as conn:
        conn.read_only = not write
        with conn.cursor() as cur:
            cur.execute(
                "SELECT set_config('statement_timeout', %s, true)", (f"{int(timeout * 1000)}ms",)
            )
            cur.execute(statement.encode())  # bytes: the statement as written, no placeholders
            rows = list(cur.fetchall()) if cur.description is not None else []
            count = len(rows) if cur.description is not None else max(cur.rowcount, 0)
        if write:
            conn.commit()
        else:
            conn.rollback()
    return rows, count


def _mariadb(
    dsn: str, statement: str, *, write: bool, timeout: float
) -> tuple[list[tuple[Any, ...]], int]:
    import pymysql

    from buttress.platform.dsn import parse_mariadb_dsn

    try:
        conn = pymysql.connect(
            **parse_mariadb_dsn(dsn), connect_timeout=timeout, read_timeout=timeout,
            write_timeout=timeout, autocommit=False,
        )  # fmt: skip
    except pymysql.MySQLError as exc:
        raise _ConnectError(exc) from None
    try:
        with conn.cursor() as cur:
            try:  # MariaDB's own; MySQL has none (its read_timeout still bounds the call)
                cur.execute("SET SESSION max_statement_time = %s", (timeout,))
            except pymysql.MySQLError:
                conn.rollback()
            cur.execute("START TRANSACTION" if write else "START TRANSACTION READ ONLY")
            count = cur.execute(statement)
            rows = list(cur.fetchall()) if cur.description is not None else []
            if cur.description is not None:
                count = len(rows)
        if write:
            conn.commit()
        else:
            conn.rollback()
    finally:
        conn.close()
    return [tuple(r) for r in rows], count


def expect_sql(spec: SqlStep, renderer: Renderer, values: Mapping[str, Any]) -> None:
    """Raise :class:`StepError` unless the result is what ``spec.expect`` says."""
    if spec.expect is None:
        return
    expect = renderer.deep(spec.expect)
    if "rows" in expect and values["rows"] != expect["rows"]:
        raise StepError(f"{values['rows']} row(s), expected {expect['rows']}")
    if "value" in expect and not _equal(values["value"], expect["value"]):
        raise StepError(
            f"the value is {_shown(values['value'])}, expected {_shown(expect['value'])}"
        )


# -- action --------------------------------------------------------------------------------


def _action(
    engine: Engine, spec: ActionStep, renderer: Renderer, *, timeout: float | None, run_id: str
) -> dict[str, Any]:
    from buttress.runbooks.actions import get_action, validate_params

    action = get_action(spec.name)
    params = validate_params(action, renderer.deep(spec.with_))
    return dict(action.run(context(engine, run_id=run_id, timeout=timeout), params))


# -- check and tolerance -------------------------------------------------------------------


def _target(kind: str, values: Mapping[str, Any], tolerance: Any) -> Any:
    """The value a tolerance is judged on: ``target:`` when it names one, else the probe
    kind's own (Chaos Toolkit: a command's exit code for a number, its stdout for text)."""
    if isinstance(tolerance, dict) and "target" in tolerance:
        name = tolerance["target"]
        if name not in values:
            raise StepError(f"the probe has no {name!r} (it has {', '.join(values)})")
        return values[name]
    if kind == "command":
        if isinstance(tolerance, bool):
            return values["exit_code"] == 0
        if isinstance(tolerance, int):
            return values["exit_code"]
        if isinstance(tolerance, dict) and tolerance.get("type") == "jsonpath":
            return _json_of(values["stdout"])
        text = str(values["stdout"]).strip()
        return _number(text) if _is_range(tolerance) else text
    if kind == "http":
        if isinstance(tolerance, bool | int) or _is_range(tolerance):
            return values["status"]
        if isinstance(tolerance, dict) and tolerance.get("type") == "jsonpath":
            return values["json"]
        return values["body"]
    if kind == "sql":
        if isinstance(tolerance, dict) and tolerance.get("type") == "jsonpath":
            return values
        return values["value"]
    if "value" in values and not (
        isinstance(tolerance, dict) and tolerance.get("type") == "jsonpath"
    ):
        return values["value"]
    return values


def _is_range(tolerance: Any) -> bool:
    return isinstance(tolerance, list) or (
        isinstance(tolerance, dict) and tolerance.get("type") == "range"
    )


def _json_of(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise StepError("the output is not JSON (a jsonpath tolerance needs JSON)") from None


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise StepError(f"{_shown(value)} is not a number (a range needs one)") from None


def _equal(value: Any, expected: Any) -> bool:
    if value == expected:
        return True
    if isinstance(value, bool) or isinstance(expected, bool):
        return False
    return value is not None and str(value) == str(expected)


def within(value: Any, tolerance: Any) -> bool:
    """Whether ``value`` is within ``tolerance`` (Chaos Toolkit's forms)."""
    if _is_range(tolerance):
        low, high = tolerance if isinstance(tolerance, list) else tolerance["range"]
        return bool(low <= _number(value) <= high)
    if isinstance(tolerance, dict):
        if tolerance["type"] == "regex":
            return re.search(str(tolerance["pattern"]), str(value)) is not None
        from buttress.config._jsonpath import find

        found = find(str(tolerance["path"]), value)
        if "expect" not in tolerance:
            return bool(found)
        expect = tolerance["expect"]
        return bool(found) and all(_equal(f, expect) for f in found)
    return _equal(value, tolerance)


def check(
    engine: Engine,
    renderer: Renderer,
    masker: Masker,
    spec: CheckStep,
    *,
    timeout: float | None,
    run_id: str,
) -> dict[str, Any]:
    """Probe once and judge; the values (``value``, and the probe's own), or
    :class:`StepError` when the value is out of tolerance."""
    got = probe(engine, renderer, masker, spec.probe.spec, timeout=timeout, run_id=run_id)
    tolerance = renderer.deep(spec.tolerance)
    value = _target(spec.probe.kind, got, tolerance)
    if not within(value, tolerance):
        raise StepError(
            masker(f"value {_shown(value)} is not within tolerance {_shown(tolerance)}")
        )
    return {**got, "value": value}


def wait_until(
    engine: Engine, renderer: Renderer, masker: Masker, spec: WaitStep, *, run_id: str
) -> StepResult:
    """Poll ``spec.until`` every ``spec.every`` seconds until it holds or ``spec.deadline``."""
    from buttress.runbooks.engine import StepResult

    assert spec.until is not None
    start = time.monotonic()
    tries = 0
    last = ""
    while True:
        tries += 1
        left = spec.deadline - (time.monotonic() - start)
        try:
            values = check(
                engine, renderer, masker, spec.until, timeout=max(0.1, min(left, DEFAULT_TIMEOUT)),
                run_id=run_id,
            )  # fmt: skip
            waited = round(time.monotonic() - start, 3)
            return StepResult(
                {**values, "waited": waited, "tries": tries}, f"held after {tries} probe(s)"
            )
        except StepError as exc:
            last = str(exc)
        if time.monotonic() - start + spec.every > spec.deadline:
            raise StepError(
                f"not met within {spec.deadline:g}s ({tries} probe(s); last: {last})",
                status="timed_out",
            )
        engine.sleep(spec.every)


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:199] + "\u2026"
