"""`popbased evaluate run | sweep | report`: the study's experiments as commands."""

from __future__ import annotations

import time

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from popbased.cli import options
from popbased.errors import BadInput
from popbased.evaluation.grid import SWEEPS


@click.group()
def evaluate() -> None:
    """Play policies on substrates and sweeps, and report (tables, plots, MLflow)."""


def _common(command):
    for option in reversed([
        click.argument("policies", nargs=-1, metavar="POLICY..."),
        click.option("--substrate", default="open", show_default=True, help="Substrate or variant."),
        click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
                     help="Fixed variant parameter (repeatable), e.g. -p players=14."),
        click.option("--episodes", default=15, show_default=True, type=click.IntRange(min=1),
                     help="Episodes per policy and point (the study's 15)."),
        click.option("--max-steps", type=click.IntRange(min=1), default=None,
                     help="Cut episodes after this many steps (default: the substrate's own end)."),
        click.option("--seed", default=0, show_default=True, type=int,
                     help="Every point plays the same seeds."),
        click.option("--envs", type=click.IntRange(min=1), default=None,
                     help="Env processes per task (default: the cores Ray has, at most --episodes)."),
        click.option("-o", "--output", required=True, help="Results folder."),
        click.option("--force", is_flag=True, help="Replace an existing results folder."),
        click.option("--ray-address", default=None, help="An existing Ray cluster (default: a local Ray)."),
        options.TRACKING,
    ]):
        command = option(command)
    return command


@evaluate.command("run")
@_common
@click.option("--grid", "grid", multiple=True, metavar="KEY=V1,V2,...",
              help="A swept parameter (repeatable; points are every combination).")
def run_(policies, substrate, params, episodes, max_steps, seed, envs, output, force, ray_address,
         tracking_uri, grid):
    """Play each POLICY (random, a checkpoint, an export folder, LEAGUE/MEMBER) in every seat of
    SUBSTRATE for --episodes episodes per grid point; write the tables, figures and an MLflow
    record into the results folder."""
    from popbased.evaluation.grid import parse_axes

    _evaluate(policies, substrate, params, parse_axes(grid), episodes, max_steps, seed, envs, output,
              force, ray_address, tracking_uri, f"{substrate}")


@evaluate.command()
@click.argument("kind", metavar="regrowth|cooldown")
@_common
@click.option("--values", default=None, help="Comma-separated values instead of the study's grid.")
def sweep(kind, policies, substrate, params, episodes, max_steps, seed, envs, output, force, ray_address,
          tracking_uri, values):
    """The study's sweeps: regrowth (respawn rate x 10^-2 ... 10^2, half-decade steps) or
    cooldown (zap cooldown 1, 2, 10, 200, 2000), for each POLICY."""
    if kind not in SWEEPS:
        raise BadInput(f"sweep {kind!r}: choose regrowth or cooldown (or `evaluate run --grid KEY=V1,V2`)")
    key, default = SWEEPS[kind]
    listed = default if values is None else [v.strip() for v in values.split(",") if v.strip()]
    if not listed:
        raise BadInput("--values: no values (an empty grid)")
    _evaluate(policies, substrate, params, {key: listed}, episodes, max_steps, seed, envs, output, force,
              ray_address, tracking_uri, f"{substrate}: {kind} sweep")


def _evaluate(policies, substrate, params, axes, episodes, max_steps, seed, envs, output, force,
              ray_address, tracking_uri, title):
    from popbased.evaluation import grid, policies as refs, results
    from popbased.evaluation.run import evaluate as play
    from popbased.rollout.cluster import check_reachable, ensure_ray
    from popbased.substrates import parse_assignments
    from popbased.tracking import store

    fixed = parse_assignments(params)
    points = grid.points(substrate, axes, fixed)
    chosen = refs.resolve_all(policies, tracking_uri)
    out = results.check_out(output, force)
    if ray_address:
        check_reachable(ray_address)
    uri = store.resolve_uri(tracking_uri)
    store.check(uri)
    console = Console(stderr=True)
    ensure_ray(ray_address)
    total = len(chosen) * len(points)
    t0 = time.perf_counter()
    with Progress(TextColumn(f"evaluating ({episodes} episodes per point)"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("", total=total)
        played = play(chosen, substrate, points, episodes=episodes, seed=seed, max_steps=max_steps, envs=envs,
                      progress=lambda done, _: bar.update(task, completed=done))
    seconds = time.perf_counter() - t0
    info = {"title": title, "substrate": substrate, "policies": [p.label for p in chosen],
            "policy_refs": list(policies), "axes": axes, "fixed": fixed, "episodes": episodes,
            "seed": seed, "max_steps": max_steps, "seconds": seconds,
            "episodes_per_minute": 60 * episodes * total / seconds}
    made = results.write(out, info, played)
    run_id = results.track(out, info, made, uri)
    _print(console, made["summary"])
    console.print(f"{episodes * total} episodes in {seconds:.0f} s ({info['episodes_per_minute']:.1f} "
                  f"episodes/minute); tables, figures in {out}; MLflow run {run_id} (experiment "
                  f"evaluate-{substrate}) in {uri}", highlight=False)
    console.print(f"report: popbased evaluate report {out} -o {out}/report.html", highlight=False)


def _print(console: Console, summary) -> None:
    table = Table(title="per-capita return (95% bootstrap CI), Gini, % depleted (world / proxy)")
    for name in ("policy", "point", "episodes", "return", "CI", "Gini", "depleted", "proxy", "zaps"):
        table.add_column(name, justify="left" if name in ("policy", "point") else "right")
    for r in summary.to_dict("records"):
        table.add_row(r["policy"], r["point"], str(r["episodes"]), f"{r['per_capita_return']:.1f}",
                      f"{r['ci_low']:.1f}-{r['ci_high']:.1f}", f"{r['gini']:.2f}",
                      f"{100 * r['depleted_fraction']:.0f}%", f"{100 * r['proxy_depleted_fraction']:.0f}%",
                      f"{r['zaps_fired_per_capita']:.1f}")
    console.print(table)


@evaluate.command()
@click.argument("results_folder", metavar="RESULTS")
@click.option("-o", "--output", required=True, help="report.html (figures embedded) or report.md.")
@click.option("--force", is_flag=True, help="Overwrite the report if it exists.")
def report(results_folder, output, force):
    """One file with an evaluation's settings, summary table and figures."""
    from pathlib import Path

    from popbased.evaluation import report as reporter, results

    path = Path(output)
    if path.suffix.lower() not in (".html", ".htm", ".md", ".markdown"):
        raise BadInput(f"-o {output}: write a .html or .md report")
    if path.exists() and not force:
        raise BadInput(f"-o {output} exists; add --force to overwrite it")
    info, tables = results.read(results_folder)
    reporter.write(Path(results_folder), info, tables, path)
    click.echo(f"wrote {path}")
