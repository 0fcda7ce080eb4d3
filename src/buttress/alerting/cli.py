"""``buttress alerts``: generate the Prometheus rules, Alertmanager configuration and Grafana
dashboards of ``alerting:``, check them and run their generated tests."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from buttress.platform.cli import state

if TYPE_CHECKING:
    from buttress.config import ButtressConfig

app = typer.Typer(
    help=(
        "Generate, check and test the alerting output of the `alerting:` section: Prometheus "
        "rule files (SLO burn-rate alerts, presets), alertmanager.yml, Grafana dashboards, a "
        "prometheus.yml scrape snippet, and unit tests for them. Typical use: `buttress alerts "
        "generate --out monitoring/`, then `buttress alerts check --out monitoring/` and "
        "`buttress alerts test --out monitoring/`. The checks need the Debian packages "
        "prometheus (promtool) and prometheus-alertmanager (amtool)."
    ),
    no_args_is_help=True,
)


class Format(enum.StrEnum):
    text = "text"
    json = "json"


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="buttress.yaml to read (default: the global --config, $BUTTRESS_CONFIG, "
        "./buttress.yaml).",
    ),
]
FormatOption = Annotated[
    Format, typer.Option("--format", help="text for people, json for programs.")
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="A directory written by `buttress alerts generate` (default: generate into a "
        "temporary directory from the configuration, check that, and delete it).",
    ),
]


def _check_promql(config: ButtressConfig) -> None:
    """The SLOs' PromQL through promtool, each problem at its buttress.yaml line (exit 2)."""
    from buttress.config import Problem, validate

    def promql(config: ButtressConfig, /, *, check_files: bool) -> list[Problem]:
        from buttress.alerting.slo_check import promql_problems

        return [Problem(path, message) for path, message in promql_problems(config.alerting)]

    validate(config, checks=[promql])


def _config(ctx: typer.Context, config: Path | None) -> ButtressConfig:
    st = state(ctx)
    if config is not None:
        st.config_path = config
        st._config = None
    return st.config


def _fail_missing(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


@app.command()
def generate(
    ctx: typer.Context,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="The directory to write (created when missing)."),
    ],
    config: ConfigOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Overwrite files at the generated paths that this command did not write "
            "(or that were edited since).",
        ),
    ] = False,
    fmt: FormatOption = Format.text,
) -> None:
    """Write every file of the `alerting:` section into DIR: per SLO its rule file
    (slo/NAME.rules.yml) and promtool tests (slo/tests/), the presets' rules,
    alertmanager.yml, dashboards, and prometheus.yml (a scrape job for buttress's /metrics
    and the rule_files that load the rules).

    The whole directory is replaced at once (written beside it, then renamed), so a reader
    never sees half of it. Files of yours that are not at a generated path are kept; a file
    at a generated path that this command did not write is an error unless --force. The
    SLOs' PromQL is parsed by promtool first: a query it rejects is an error at its line, and
    nothing is written.
    Exit 0 when written, 1 when refused, 2 for a configuration error.
    """
    from buttress.alerting import slo_output as output
    from buttress.alerting import tools
    from buttress.alerting.generate import generate as generate_all

    loaded = _config(ctx, config)
    try:  # a query Prometheus would reject is refused here, at its line, not written
        _check_promql(loaded)
    except tools.ToolMissingError as exc:
        typer.echo(f"warning: the SLOs' PromQL is not checked: {exc}", err=True)
    files = generate_all(loaded)
    try:
        written = output.write(out, files, force=force)
    except output.RefusedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if fmt is Format.json:
        typer.echo(
            json.dumps(
                {
                    "out": str(out),
                    "files": [{"path": f.path, "kind": f.kind} for f in files],
                    "removed": written.removed,
                    "kept": written.kept,
                },
                indent=2,
            )
        )
        return
    for file in files:
        typer.echo(f"wrote {out / file.path} ({file.kind})")
    for path in written.removed:
        typer.echo(f"removed {out / path} (no longer generated)")
    typer.echo(
        f"{len(files)} files in {out}"
        + (f", {len(written.kept)} of yours kept" if written.kept else "")
    )


@app.command()
def check(
    ctx: typer.Context,
    rule_files: Annotated[
        list[Path] | None,
        typer.Argument(help="Your own Prometheus rule files, checked with the generated ones."),
    ] = None,
    out: OutOption = None,
    config: ConfigOption = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Check the generated files with the real tools: the SLOs' PromQL (each problem at its
    buttress.yaml line), `promtool check rules --lint=all --lint-fatal` on every rule file and
    on RULE_FILES, `amtool check-config` on alertmanager.yml.

    Exit 0 when all pass, 1 when a check fails or a tool is missing (the message names the
    Debian package), 2 for a configuration error.
    """
    from buttress.alerting import slo_output as output
    from buttress.alerting import tools

    loaded = _config(ctx, config)
    try:
        _check_promql(loaded)
        with output.files_of(out, loaded) as found:
            results = output.check(found, [*(rule_files or [])])
    except tools.ToolMissingError as exc:
        raise _fail_missing(exc) from None
    except output.RefusedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _report(results, fmt)


@app.command("test")
def run_tests(
    ctx: typer.Context,
    out: OutOption = None,
    config: ConfigOption = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Run the generated tests: `promtool test rules` on every SLO's test file (synthetic
    series: a fast burn pages in time, half the budget's burn and zero traffic never alert,
    each tier's window pair fires), and `amtool config routes test` for every routing
    assertion of the Alertmanager tests.

    Exit 0 when all pass, 1 when one fails or a tool is missing, 2 for a configuration error.
    """
    from buttress.alerting import slo_output as output
    from buttress.alerting import tools

    loaded = _config(ctx, config)
    try:
        with output.files_of(out, loaded) as found:
            results = output.test(found)
    except tools.ToolMissingError as exc:
        raise _fail_missing(exc) from None
    except output.RefusedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _report(results, fmt)


def _report(results: list[Any], fmt: Format) -> None:
    ok = all(r.ok for r in results)
    if fmt is Format.json:
        typer.echo(json.dumps({"ok": ok, "results": [r.as_dict() for r in results]}, indent=2))
    else:
        for r in results:
            typer.echo(f"{'ok  ' if r.ok else 'FAIL'} {r.what}")
            if not r.ok and r.output:
                for line in r.output.splitlines():
                    typer.echo(f"     {line}")
        passed = sum(1 for r in results if r.ok)
        typer.echo(f"{passed} of {len(results)} passed" if results else "nothing to run")
    if not ok:
        raise typer.Exit(1)
