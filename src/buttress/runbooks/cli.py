"""``buttress runbook``: list and show the configured runbooks, run them (or rehearse them
with ``--dry-run``), follow and answer their runs, resume or roll back a run that stopped.
Commands work on the catalog directly (no control plane needs to run); the actor is
``cli:<user>``.

Exit codes: 0 the run succeeded, 1 it failed, was rolled back or interrupted, 2 bad input (an
unknown runbook or parameter, a run that cannot be resumed).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from buttress.errors import NotFoundError, UsageError
from buttress.platform.cli import print_table, state

if TYPE_CHECKING:
    from buttress.runbooks.runs import Runbooks, RunView, StepEvent

app = typer.Typer(
    help=(
        "Runbooks: declared procedures buttress runs step by step, asking a person where a "
        "person must decide. List and show them, run them (--dry-run rehearses without "
        "changing anything), follow a run, confirm its waiting step, resume or roll back a run "
        "that stopped."
    ),
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
RunId = Annotated[int, typer.Argument(help="The run's number (see 'buttress runbook runs').")]
ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="A parameter as NAME=VALUE (repeat for more); see 'buttress runbook show NAME'.",
    ),
]


@contextmanager
def _service(ctx: typer.Context) -> Iterator[Runbooks]:
    from buttress.runbooks.runs import Runbooks, engine_factory

    st = state(ctx)
    with st.catalog() as catalog:
        yield Runbooks(st.config, catalog, engine_factory(st.config, catalog))


def _params(given: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in given or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--param {item!r}: write it as NAME=VALUE")
        params[name.strip()] = value
    return params


def _runbook(service: Runbooks, name: str) -> Any:
    try:
        return service.runbook(name)
    except NotFoundError as exc:  # a name the user typed: bad input (exit 2)
        raise UsageError(str(exc)) from None


@app.command("list")
def list_cmd(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The runbooks configured in buttress.yaml."""
    with _service(ctx) as service:
        rows = [
            {
                "name": r.name,
                "description": r.description,
                "role": str(getattr(r.role, "value", r.role)),
                "exclusive": bool(r.exclusive),
                "steps": len(r.steps),
            }
            for r in service.runbooks()
        ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    print_table(
        ("name", "role", "exclusive", "steps", "description"),
        (
            (
                r["name"],
                r["role"],
                "yes" if r["exclusive"] else "",
                str(r["steps"]),
                r["description"],
            )
            for r in rows
        ),
    )


@app.command()
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The runbook's name.")],
    as_json: JsonOption = False,
) -> None:
    """One runbook: its parameters and steps."""
    from buttress.runbooks.api import describe

    with _service(ctx) as service:
        data = describe(_runbook(service, name)).model_dump(mode="json")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"{data['name']}  (role {data['role']}{', exclusive' if data['exclusive'] else ''})")
    if data["description"]:
        typer.echo(data["description"])
    for param in data["params"]:
        default = "" if param["default"] is None else f" (default {param['default']})"
        choices = f" of {', '.join(param['choices'])}" if param["choices"] else ""
        typer.echo(f"param {param['name']}: {param['type']}{choices}{default}")
    rows: list[tuple[str, str, str]] = []

    def add(steps: list[dict[str, Any]], at: str) -> None:
        for i, step in enumerate(steps):
            path = f"{at}{i}"
            rows.append((path, step["name"], step["kind"]))
            add(step["rollback"], f"{path}.rollback.")

    add(data["steps"], "")
    add(data["rollback"], "rollback.")
    print_table(("#", "step", "kind"), rows)


def _printer(run_id: int, *, dry_run: bool = False) -> Any:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    marks = {"succeeded": "[green]ok[/]"}

    def listen(event: StepEvent) -> None:
        if dry_run and event.kind == "finished":  # the plan: what each step would run
            problems = f"  [red]problem: {event.error}[/]" if event.error else ""
            console.print(
                f"step {event.path} {event.name} ({event.step_kind}): {event.output}{problems}",
                markup=True,
            )
        elif dry_run and event.kind == "started":
            return
        elif event.kind == "started":
            console.print(f"[bold]step {event.path}[/] {event.name} ({event.step_kind}) ...")
        elif event.kind == "finished":
            mark = marks.get(event.status, f"[red]{event.status}[/]")
            error = f": {event.error}" if event.error else ""
            console.print(f"  {mark} step {event.path} {event.name}{error}")
        elif event.kind == "waiting" and not sys.stdin.isatty():
            console.print(
                f"  waiting for a confirmation of step {event.path} ({event.name}): "
                f"{event.prompt}\n  answer with 'buttress runbook confirm {run_id} --step "
                f"{event.path}' (or --refuse), from another terminal, the API or the dashboard"
            )
        elif event.kind == "answered" and event.answer is not None:
            said = "approved" if event.answer.approved else "refused"
            how = " (the default, nobody answered in time)" if event.answer.defaulted else ""
            console.print(f"  {said} by {event.answer.actor}{how}")
        elif event.kind == "run_finished":
            what = "dry run" if dry_run else "run"
            error = f": {event.error}" if event.error else ""
            console.print(f"{what} {run_id}: {event.status}{error}")

    return listen


def _asker(yes: bool) -> Any:
    if yes:
        return lambda _path, _name, _prompt: True
    if not sys.stdin.isatty():
        return None

    def ask(path: str, name: str, prompt: str) -> bool | None:
        return typer.confirm(f"step {path} ({name}): {prompt}", default=False)

    return ask


def _stopped(signum: int, _frame: object) -> None:
    """SIGTERM/SIGHUP: the running step's processes end with this one (as on Ctrl-C), and the
    run is left to show as interrupted (resumable)."""
    from buttress.runbooks._command import kill_running

    kill_running()
    raise KeyboardInterrupt(f"signal {signum}")


def _execute(service: Runbooks, run_id: int, yes: bool, *, dry_run: bool = False) -> None:
    import signal

    typer.echo(f"{'dry run' if dry_run else 'run'} {run_id} started", err=True)
    listener = _printer(run_id, dry_run=dry_run)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stopped)
    status = service.execute(run_id, listener=listener, ask=_asker(yes))
    if status != "succeeded":
        raise typer.Exit(1)


@app.command()
def run(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The runbook's name (see 'buttress runbook list').")],
    param: ParamOption = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Rehearse: resolve parameters, check commands, URLs and DSNs, show what would "
            "run; change nothing.",
        ),
    ] = False,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Approve every confirm step yourself (recorded)."),
    ] = False,
) -> None:
    """Run a runbook here, printing each step as it goes. A confirm step asks you at a
    terminal; otherwise (or if you answer from elsewhere) it waits for 'buttress runbook
    confirm'. Exits 0 when the run succeeded, 1 when it failed, was rolled back or
    interrupted, 2 on bad input (unknown runbook or parameter)."""
    with _service(ctx) as service:
        _runbook(service, name)
        run_id = service.start(name, _params(param), state(ctx).actor(), dry_run=dry_run)
        _execute(service, run_id, yes, dry_run=dry_run)


def _run_row(run: Any) -> tuple[str, ...]:
    return (
        str(run.id),
        run.runbook,
        run.mode + (" (dry run)" if run.dry_run else ""),
        run.status,
        run.actor,
        f"{run.started_at:%Y-%m-%d %H:%M:%S}",
        "" if run.resumed_from is None else str(run.resumed_from),
    )


@app.command()
def runs(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this runbook's runs.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Runs, newest first. A run whose process was killed shows as interrupted."""
    from buttress.runbooks.api import RunbookRunRead

    with _service(ctx) as service:
        rows = service.runs(name, limit=limit)
    if as_json:
        typer.echo(
            json.dumps(
                [RunbookRunRead.model_validate(r).model_dump(mode="json") for r in rows], indent=2
            )
        )
        return
    print_table(
        ("run", "runbook", "mode", "status", "actor", "started", "continues"), map(_run_row, rows)
    )


def _show_run(view: RunView, as_json: bool) -> None:
    from buttress.runbooks.api import run_detail

    data = run_detail(view).model_dump(mode="json")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(
        f"run {data['id']}  {data['runbook']}  {data['status']}  by {data['actor']}"
        + (f"  (continues run {data['resumed_from']})" if data["resumed_from"] else "")
    )
    if data["error"]:
        typer.echo(f"error: {data['error']}")
    print_table(
        ("step", "name", "kind", "status", "attempts", "confirmed by", "error"),
        (
            (
                s["path"],
                s["name"],
                s["kind"],
                s["status"] + (" (waiting)" if s["waiting"] else ""),
                str(s["attempts"]),
                s["confirmed_by"] or "",
                s["error"] or "",
            )
            for s in data["steps"]
        ),
    )


@app.command("run-status")
def run_status(ctx: typer.Context, run_id: RunId, as_json: JsonOption = False) -> None:
    """One run with its steps (status, attempts, confirmations, errors)."""
    with _service(ctx) as service:
        _show_run(service.get(run_id), as_json)


app.command("show-run", help="The same as run-status.")(run_status)


@app.command()
def confirm(
    ctx: typer.Context,
    run_id: RunId,
    step: Annotated[
        str | None, typer.Option(help="The waiting step's path or name (if several wait).")
    ] = None,
    refuse: Annotated[bool, typer.Option("--refuse", help="Refuse instead of approving.")] = False,
    comment: Annotated[str, typer.Option(help="Why (kept with the answer).")] = "",
) -> None:
    """Answer the confirm step a run waits at: approve it (or --refuse)."""
    with _service(ctx) as service:
        answered = service.confirm(run_id, step, not refuse, state(ctx).actor(), comment=comment)
    typer.echo(f"run {run_id} step {answered.path}: {'refused' if refuse else 'approved'}")


@app.command()
def resume(
    ctx: typer.Context,
    run_id: RunId,
    param: ParamOption = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Approve confirm steps yourself.")
    ] = False,
) -> None:
    """Continue a failed or interrupted run from the step it stopped at (a new run, with the
    values of the steps that had succeeded). Parameters named like secrets (password, token,
    key...) are not stored: give them again with --param."""
    with _service(ctx) as service:
        new = service.resume(run_id, state(ctx).actor(), params=_params(param))
        typer.echo(f"run {new} resumes run {run_id}", err=True)
        _execute(service, new, yes)


@app.command()
def rollback(
    ctx: typer.Context,
    run_id: RunId,
    param: ParamOption = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Approve confirm steps yourself.")
    ] = False,
) -> None:
    """Undo what a run did: the rollback steps of its steps that succeeded, newest first, then
    the runbook's own rollback steps (a new run)."""
    with _service(ctx) as service:
        new = service.rollback(run_id, state(ctx).actor(), params=_params(param))
        typer.echo(f"run {new} rolls back run {run_id}", err=True)
        status = service.execute(new, listener=_printer(new), ask=_asker(yes))
    if status not in ("succeeded", "rolled_back"):
        raise typer.Exit(1)
