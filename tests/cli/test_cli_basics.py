"""Version, help, usage errors and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from buttress import __version__
from tests.cli.conftest import Run


def test_version(cli: Run) -> None:
    """--version prints the version and exits 0."""
    result = cli("--version", data_dir=False)
    assert (result.code, result.out.strip()) == (0, f"buttress {__version__}")


def test_unknown_command_is_usage_error(cli: Run) -> None:
    """An unknown command exits 2 with one plain error line."""
    result = cli("nope")
    assert result.code == 2
    assert "Error: No such command 'nope'." in result.err.splitlines()


def test_bad_option_value_is_usage_error(cli: Run) -> None:
    """A bad option value exits 2 naming the option."""
    result = cli("serve", "--port", "99999")
    assert result.code == 2
    assert "Invalid value for '--port'" in result.err


def test_console_script_exit_code() -> None:
    """The installed entry point exits with the code main() returns."""
    result = subprocess.run(
        [sys.executable, "-m", "buttress", "config", "check", "/nonexistent.yaml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 2  # the summary line and the one problem
    assert "Traceback" not in result.stderr


def test_help_lists_every_command(cli: Run) -> None:
    """--help names every command group."""
    result = cli("--help", data_dir=False)
    for word in ("serve", "config", "db", "token"):
        assert word in result.out


def test_entry_point_keeps_the_collector_of_an_embedding_process() -> None:
    """Importing the CLI from code leaves garbage collection as it was; the console script
    turns it off only while importing, and on again for the command itself."""
    probe = (
        "import gc, sys\n"
        "import buttress.cli\n"
        "assert gc.isenabled() and gc.get_freeze_count() == 0\n"
        "import buttress.backup.cli\n"
        "def main(args=None):\n"
        "    print(gc.isenabled(), gc.get_freeze_count() > 10000, "
        "'buttress.backup.service' in sys.modules)\n"
        "    return 3\n"
        "buttress.cli.main = main\n"
        "sys.argv = ['buttress', '-c', 'x.yaml', 'backup', 'list']\n"
        "from buttress._entry import run\n"
        "run()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout.split() == ["True", "True", "True"]


def test_the_command_is_found_after_global_options() -> None:
    from buttress._entry import _command

    assert _command(["-c", "backup.yaml", "--debug", "backup", "run", "db"]) == ("backup", "run")
    assert _command(["--data-dir", "backup", "token", "list"]) == ("token", "list")
    assert _command(["backup", "run", "--help"]) == ("", "")
    assert _command(["--config", "a.yaml"]) == ("", "")
    assert _command(["serve"]) == ("serve", "")
    assert _command([]) == ("", "")


@pytest.mark.parametrize(
    ("module", "args", "extra"),
    [
        ("pyrage", ["backup", "keygen", "key.txt"], "backup"),
        ("boto3", ["backup", "keygen", "key.txt"], None),  # keygen does not need boto3
    ],
)
def test_a_missing_optional_dependency_names_its_extra(
    tmp_path: Path, module: str, args: list[str], extra: str | None
) -> None:
    """A command whose optional dependency is not installed says which extra installs it and
    exits 2; it is never an internal error."""
    blocked = tmp_path / "blocked"
    (blocked / module).mkdir(parents=True)
    (blocked / module / "__init__.py").write_text(
        f'raise ModuleNotFoundError("No module named {module!r}", name={module!r})\n'
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(blocked), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "buttress", "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert "internal error" not in done.stderr
    if extra is None:
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode == 2, done.stderr
    assert f"pip install 'buttress[{extra}]'" in done.stderr
    assert f"optional dependency {module!r}" in done.stderr


def test_a_missing_module_of_buttress_itself_stays_an_internal_error() -> None:
    """Only optional dependencies are named as extras; anything else is a bug, said as such."""
    from buttress.errors import MissingDependencyError

    assert MissingDependencyError.from_import(ModuleNotFoundError(name="buttress.nope")) is None
    found = MissingDependencyError.from_import(ModuleNotFoundError(name="botocore.session"))
    assert found is not None
    assert found.extra == "s3"
    assert found.exit_code == 2
