"""One server of a PostgreSQL pair: connecting to it, and running its programs (pg_ctl,
pg_rewind...) as its OS user. Every error names the server by its DSN without password."""

from __future__ import annotations

import getpass
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString

import psycopg

from buttress.config._failover_pg import PostgresNodeConfig
from buttress.runbooks.failover.errors import FailoverError
from buttress.secrets import mask_dsn, redact

__all__ = ["Node", "Plan", "Ran", "program_problems"]

CONNECT_TIMEOUT = 5
"""Seconds a connection attempt may take before the server counts as unreachable."""


def _default_bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


@dataclass(frozen=True, slots=True)
class Ran:
    """A program that ran: its exit code and (secret-masked) output."""

    argv: tuple[str, ...]
    returncode: int
    output: str


@dataclass(frozen=True, slots=True)
class Node:
    """A server of the pair, as its config describes it."""

    config: PostgresNodeConfig

    @property
    def dsn(self) -> str:
        return self.config.dsn

    @property
    def name(self) -> str:
        """The DSN with its password masked: how messages name the server."""
        return mask_dsn(self.config.dsn)

    def connect(self, timeout: float = CONNECT_TIMEOUT) -> psycopg.Connection[Any]:
        """An autocommit connection; FailoverError (naming the server) when unreachable."""
        try:
            return psycopg.connect(
                self.config.dsn, autocommit=True, connect_timeout=max(1, round(timeout))
            )
        except psycopg.Error as exc:
            raise FailoverError(f"{self.name} is unreachable: {_reason(exc)}") from exc

    def reachable(self, timeout: float = CONNECT_TIMEOUT) -> str:
        """Why the server cannot be reached ("" when it can)."""
        try:
            with self.connect(timeout) as conn:
                conn.execute("SELECT 1")
        except FailoverError as exc:
            return str(exc)
        return ""

    def query(
        self, sql: LiteralString, params: Sequence[Any] = (), timeout: float = CONNECT_TIMEOUT
    ) -> Any:
        """The first row of ``sql`` on a fresh connection (None when it returns none)."""
        with self.connect(timeout) as conn:
            try:
                cur = conn.execute(sql, params)
                return cur.fetchone() if cur.description else None
            except psycopg.Error as exc:
                raise FailoverError(f"{self.name}: {_reason(exc)}") from exc

    def program(self, name: str) -> str:
        """The path of a PostgreSQL program (bin_dir, else /usr/lib/postgresql, else PATH)."""
        for base in (self.config.bin_dir, _default_bin_dir()):
            if base is not None and (base / name).exists():
                return str(base / name)
        return shutil.which(name) or name

    def missing_program(self, name: str) -> str:
        """Why ``name`` cannot be run ("" when it can)."""
        path = self.program(name)
        if Path(path).exists() or shutil.which(path):
            return ""
        return f"{name} not found (bin_dir {self.config.bin_dir or 'unset'}, nor PATH)"

    def data_dir(self, what: str) -> Path:
        """The configured data directory, or a FailoverError saying ``what`` needs it."""
        if self.config.data_dir is None:
            raise FailoverError(f"{what} {self.name} needs its data_dir in the pair's config")
        return self.config.data_dir

    def as_user(self, argv: Sequence[str]) -> list[str]:
        user = self.config.os_user
        if user and user != getpass.getuser():
            return ["runuser", "-u", user, "--", *argv]
        return list(argv)

    def run(self, argv: Sequence[str], timeout: float, what: str, check: bool = True) -> Ran:
        """Run ``argv`` as the node's OS user; FailoverError naming ``what`` on failure."""
        full = self.as_user(argv)
        try:
            done = subprocess.run(
                full,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FailoverError(f"{what} {self.name}: {argv[0]} failed: {exc}") from exc
        output = redact((done.stdout + done.stderr).strip())[-4000:]
        if check and done.returncode != 0:
            raise FailoverError(
                f"{what} {self.name}: {Path(argv[0]).name} exited {done.returncode}: {output}"
            )
        return Ran(tuple(full), done.returncode, output)

    def stop_argv(self) -> list[str]:
        if self.config.stop_command:
            return list(self.config.stop_command)
        data = self.data_dir("stopping")
        return [self.program("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "120", "stop"]

    def start_argv(self) -> list[str]:
        if self.config.start_command:
            return list(self.config.start_command)
        data = self.data_dir("starting")
        log = str(data / "pg_ctl.log")
        return [self.program("pg_ctl"), "-D", str(data), "-l", log, "-w", "-t", "120", "start"]

    def running(self) -> bool:
        """Whether the server process runs (pg_ctl status; without data_dir: reachable)."""
        if self.config.data_dir is None:
            return not self.reachable()
        argv = [self.program("pg_ctl"), "-D", str(self.config.data_dir), "status"]
        return self.run(argv, 30, "checking", check=False).returncode == 0

    def stop(self) -> Ran:
        """Stop the server (a clean, fast shutdown); a server already down is fine."""
        ran = self.run(self.stop_argv(), 180, "stopping", check=False)
        if ran.returncode != 0 and self.running():
            raise FailoverError(f"stopping {self.name} failed ({ran.returncode}): {ran.output}")
        return ran

    def start(self) -> Ran:
        return self.run(self.start_argv(), 180, "starting")


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return redact(text) or type(exc).__name__


@dataclass(frozen=True, slots=True)
class Plan:
    """What a step would do (``actions``) and what stands in its way (``problems``)."""

    step: str
    actions: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def program_problems(node: Node, argv: list[str]) -> list[str]:
    program = argv[0]
    found = Path(program).exists() if "/" in program else not node.missing_program(program)
    return [] if found else [f"{program} not found"]
