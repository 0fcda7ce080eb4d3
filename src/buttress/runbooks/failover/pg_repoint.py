"""Repointing clients to the new primary, the pair's way: a command, an HTTP call, or a DSN
file rewritten atomically (applications and buttress's own targets read it)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from buttress.config._failover_pg import (
    PostgresPairConfig,
    RepointCommandConfig,
    RepointDsnFileConfig,
    RepointHttpConfig,
)
from buttress.runbooks.failover._pgnode import Node, Plan, program_problems
from buttress.runbooks.failover.errors import FailoverError
from buttress.secrets import mask_dsn, redact

__all__ = ["Repointed", "plan_repoint", "repoint"]


@dataclass(frozen=True, slots=True)
class Repointed:
    """Clients were sent to the new primary."""

    method: str
    target: str
    detail: str


def repoint(pair: PostgresPairConfig, new_primary: str) -> Repointed | None:
    """Send clients to ``new_primary`` (a DSN), the pair's way; None when none is configured.

    Raises:
        FailoverError: the command failed, the HTTP call failed or answered an unexpected
            status, or the DSN file could not be written.
    """
    how = pair.repoint
    if how is None:
        return None
    shown = mask_dsn(new_primary)
    if isinstance(how, RepointDsnFileConfig):
        _write_atomically(how.dsn_file, new_primary + "\n")
        return Repointed("dsn_file", str(how.dsn_file), f"now holds {shown}")
    if isinstance(how, RepointCommandConfig):
        argv = [part.replace("{dsn}", new_primary) for part in how.command]
        node = Node(pair.replica)
        env = {**os.environ, "BUTTRESS_NEW_PRIMARY_DSN": new_primary}
        ran = _run_env(node, argv, how.timeout, env)
        return Repointed("command", how.command[0], ran)
    return _repoint_http(how, new_primary)


def _run_env(node: Node, argv: list[str], timeout: float, env: dict[str, str]) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FailoverError(f"repoint command {argv[0]} failed: {redact(str(exc))}") from exc
    output = redact((done.stdout + done.stderr).strip())[-2000:]
    output = output.replace(node.dsn, node.name)
    if done.returncode != 0:
        raise FailoverError(f"repoint command {argv[0]} exited {done.returncode}: {output}")
    return output


def _repoint_http(how: RepointHttpConfig, new_primary: str) -> Repointed:
    import httpx

    req = how.http
    body = (
        req.body.replace("{dsn}", new_primary)
        if req.body is not None
        else json.dumps({"primary": new_primary})
    )
    headers = {"content-type": "application/json", **req.headers}
    try:
        response = httpx.request(
            req.method, req.url, content=body, headers=headers, timeout=req.timeout
        )
    except httpx.HTTPError as exc:
        raise FailoverError(f"repoint {mask_dsn(req.url)} failed: {redact(str(exc))}") from exc
    if response.status_code not in req.expect_status:
        raise FailoverError(
            f"repoint {req.method} {mask_dsn(req.url)} answered {response.status_code}, "
            f"expected one of {req.expect_status}"
        )
    return Repointed("http", mask_dsn(req.url), f"status {response.status_code}")


def _write_atomically(path: Path, text: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            if path.exists():
                st = path.stat()
                Path(tmp).chmod(st.st_mode & 0o777)
                if os.geteuid() == 0:
                    os.chown(tmp, st.st_uid, st.st_gid)
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise FailoverError(f"cannot rewrite the DSN file {path}: {exc}") from exc


def plan_repoint(pair: PostgresPairConfig, new_primary: str) -> Plan:
    """Dry run of :func:`repoint`."""
    how = pair.repoint
    shown = mask_dsn(new_primary)
    if how is None:
        return Plan("repoint", ("nothing: no repoint configured",), ())
    if isinstance(how, RepointDsnFileConfig):
        folder = how.dsn_file.parent
        problems = () if os.access(folder, os.W_OK) else (f"{folder} is not writable",)
        return Plan("repoint", (f"write {shown} into {how.dsn_file}",), problems)
    if isinstance(how, RepointCommandConfig):
        argv = [part.replace("{dsn}", shown) for part in how.command]
        missing = tuple(program_problems(Node(pair.replica), how.command))
        return Plan("repoint", (f"run {' '.join(argv)}",), missing)
    return Plan("repoint", (f"{how.http.method} {mask_dsn(how.http.url)} with {shown}",), ())
