"""Real Prometheus and Alertmanager processes for the alerting tests: each on a free port on
127.0.0.1, its data in a temporary directory, stopped by PID; a start that fails shows the
process's own log."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buttress.alerting import tools
from tests.conftest import free_port

__all__ = ["Process", "start_alertmanager", "start_prometheus"]


@dataclass
class Process:
    """A started Prometheus or Alertmanager: its URL, its log, and a way to stop it."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    _stopped: bool = field(default=False, repr=False)

    def get(self, path: str, **query: str) -> Any:
        """GET ``path`` (JSON) with ``query``; the decoded answer."""
        address = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        with urllib.request.urlopen(address, timeout=5) as answer:  # noqa: S310 (127.0.0.1)
            return json.load(answer)

    def post(self, path: str, body: Any) -> int:
        request = urllib.request.Request(  # noqa: S310 (127.0.0.1)
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            return int(answer.status)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _start(name: str, argv: list[str], url: str, log: Path, timeout: float = 30.0) -> Process:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    started = Process(name, process, url, log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(
                f"{name} exited with {process.returncode} at start:\n{log.read_text()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=1) as answer:  # noqa: S310
                if answer.status == 200:
                    return started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            started.stop()
            raise AssertionError(f"{name} not ready after {timeout} s:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)


def start_prometheus(
    directory: Path,
    config: dict[str, Any],
    *,
    resend_delay: str = "1s",
    extra: tuple[str, ...] = (),
) -> Process:
    """Prometheus with ``config`` (the prometheus.yml as a dict; rule file paths relative to
    ``directory``) and its TSDB in ``directory/data`` (whatever blocks are already there are
    read, e.g. backfilled history)."""
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    argv = [
        str(tools.find("prometheus")),
        f"--config.file={config_path}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--rules.alert.resend-delay={resend_delay}",
        "--web.enable-lifecycle",
        *extra,
    ]
    return _start("prometheus", argv, f"http://127.0.0.1:{port}", directory / "prometheus.log")


def start_alertmanager(
    directory: Path, config_file: Path, *, extra: tuple[str, ...] = ()
) -> Process:
    """Alertmanager (Debian's ``prometheus-alertmanager``) with ``config_file``, clustering
    off, its state in ``directory/data``."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [
        str(tools.find("prometheus-alertmanager")),
        f"--config.file={config_file}",
        f"--storage.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        *extra,
    ]
    return _start("alertmanager", argv, f"http://127.0.0.1:{port}", directory / "am.log")
