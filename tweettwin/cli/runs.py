"""`tweettwin runs`: the local run registry (list, show one run, a model's lineage)."""

from __future__ import annotations

import json
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from tweettwin.cli import cli, current_workspace

_STATUS_STYLE = {"completed": "green", "failed": "red", "interrupted": "yellow", "running": "cyan"}


def _duration(start: str | None, end: str | None) -> str:
    if not start:
        return ""
    try:
        a = datetime.fromisoformat(start)
        b = datetime.fromisoformat(end) if end else datetime.now(a.tzinfo)
    except ValueError:
        return ""
    s = int((b - a).total_seconds())
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _headline(summary: dict) -> str:
    for key in ("eval/loss", "val_loss", "eval_loss", "validation/loss", "train/loss", "loss"):
        if key in summary:
            return f"{key} {summary[key]:.4g}"
    return ", ".join(f"{k} {v:.4g}" for k, v in list(summary.items())[:2])


@cli.group(name="runs", invoke_without_command=True)
@click.option("--kind", help="Only runs of this kind (prepare, train, eval, fetch, make).")
@click.option("--status", type=click.Choice(["running", "completed", "failed", "interrupted"]))
@click.option("-n", "--limit", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--json", "json_", is_flag=True, help="Print the runs as JSON on stdout.")
@click.pass_context
def runs_list(ctx: click.Context, kind, status, limit, json_) -> None:
    """List recorded runs, newest first (see also: runs show ID, runs lineage MODEL_DIR)."""
    if ctx.invoked_subcommand is not None:
        return
    from tweettwin.tracking import list_runs

    runs = list_runs(kind=kind, status=status, limit=limit, workspace=current_workspace())
    if json_:
        click.echo(json.dumps([r.to_dict() for r in runs], default=str))
        return
    console = Console(stderr=True)
    if not runs:
        console.print("No runs recorded yet in this workspace.")
        return
    named = any(r.name for r in runs)
    table = Table(title="tweettwin runs", title_justify="left")
    columns = [
        "ID",
        "Kind",
        *(["Name"] if named else []),
        "Status",
        "Started (UTC)",
        "Time",
        "Metrics",
    ]
    for col in columns:
        table.add_column(col, no_wrap=col != "Metrics" and col != "Name")
    for r in runs:
        style = _STATUS_STYLE.get(r.status, "")
        table.add_row(
            r.id,
            r.kind,
            *([r.name or ""] if named else []),
            f"[{style}]{r.status}[/]",
            r.started_at.replace("T", " ")[:16],
            _duration(r.started_at, r.ended_at),
            _headline(r.summary),
        )
    console.print(table)


@runs_list.command(name="show")
@click.argument("run_id")
@click.option("--json", "json_", is_flag=True, help="Print the run as JSON on stdout.")
def runs_show(run_id: str, json_: bool) -> None:
    """Print a run's config, metrics and lineage, and write its loss curve (PNG)."""
    from tweettwin.tracking import get_run, plot_metrics

    run = get_run(run_id, workspace=current_workspace())
    plot = plot_metrics(run)
    if json_:
        click.echo(
            json.dumps({**run.to_dict(), "loss_curve": str(plot) if plot else None}, default=str)
        )
        return
    console = Console(stderr=True)
    style = _STATUS_STYLE.get(run.status, "")
    console.print(
        f"[bold]{run.kind} run {run.id}[/] [{style}]{run.status}[/]"
        f"  {run.started_at} → {run.ended_at or '…'}  ({_duration(run.started_at, run.ended_at)})"
    )
    if run.error:
        console.print(f"[red]error:[/] {run.error}")
    for title, data in (
        ("Config", {**run.config, **run.params}),
        ("Final metrics", run.summary),
        ("Lineage", run.lineage),
        ("Outputs", run.outputs),
    ):
        if data:
            console.print(_kv_table(title, data))
    for title, rows in (("Inputs", run.inputs), ("Artifacts", run.artifacts)):
        if rows:
            table = Table(title=title, title_justify="left")
            for col in rows[0]:
                table.add_column(col)
            for row in rows:
                table.add_row(*(str(v) for v in row.values()))
            console.print(table)
    console.print(f"Run folder: {run.run_dir}")
    if plot:
        console.print("Loss curve:")
        click.echo(str(plot))


def _kv_table(title: str, data: dict) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for k, v in data.items():
        table.add_row(str(k), v if isinstance(v, str) else json.dumps(v, default=str))
    return table


@runs_list.command(name="lineage")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.option("--no-verify", is_flag=True, help="Do not re-hash the input files.")
@click.option("--json", "json_", is_flag=True, help="Print the lineage as JSON on stdout.")
def runs_lineage(model_dir: str, no_verify: bool, json_: bool) -> None:
    """Walk a model folder back to its base model, dataset and exact input files."""
    from tweettwin.tracking import lineage

    lin = lineage(model_dir, verify=not no_verify, workspace=current_workspace())
    if json_:
        click.echo(json.dumps(lin))
        return
    m, b, d = lin["model"], lin["base_model"], lin["dataset"]
    tree = Tree(f"[bold]model[/] {m['path']}\n  weights {m['sha256']}  run {m['run_id'] or '—'}")
    tree.add(f"[bold]base model[/] {b['id'] or '?'}\n  weights {b['sha256'] or '?'}")
    ds = tree.add(
        f"[bold]dataset[/] {d['content_hash'] or '?'}  run {d['run_id'] or '—'}"
        + (f"\n  {d['path']}" if d.get("path") else "")
    )
    marks = {
        "ok": "[green]✓ unchanged[/]",
        "changed": "[red]✗ changed since[/]",
        "missing": "[yellow]? not found here[/]",
        "unchecked": "",
    }
    for i in lin["inputs"]:
        where = i.get("location") or i["path"]
        ds.add(f"{where}  {marks.get(i['status'], i['status'])}\n  {i['sha256']}")
    Console(stderr=True).print(tree)
