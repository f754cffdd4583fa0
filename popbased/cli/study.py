"""`popbased study`: the safety study reproduced (train, export, evaluate on Melting Pot, report)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from popbased.cli import options
from popbased.errors import BadInput
from popbased.runs.claim import claim

DEFAULT_FILE = "populations/study/study.toml"


@click.group()
def study() -> None:
    """The study of populations/study/study.toml: train on the fast env, evaluate on Melting Pot."""


@study.command("run")
@click.option("--file", "study_file", default=DEFAULT_FILE, show_default=True,
              help="The study file (runs and evaluations).")
@click.option("--budget", type=click.IntRange(min=1), default=56_000_000, show_default=True,
              help="Agent-steps of training, all runs together (split evenly over the runs).")
@click.option("--generations", type=click.IntRange(min=1), default=None,
              help="PBT generations per population (default: the study file's).")
@click.option("--episodes", type=click.IntRange(min=1), default=None,
              help="Episodes per evaluation point (default: the study file's, the study's 15).")
@click.option("--only", default="", help="Comma-separated step names or prefixes "
              "(train, export, eval, train/open, eval/matrix, ...); default: every step.")
@click.option("--parallel", type=click.IntRange(min=1), default=1, show_default=True,
              help="Steps run at once (each its own process).")
@click.option("--out", default="runs/study", show_default=True,
              help="Study folder (a rerun continues the study in it).")
@click.option("--force", is_flag=True, help="If --out holds a study or another run, move it aside "
              "to OUT.old-TIME and start afresh.")
@click.option("--results", default="results/study", show_default=True,
              help="Where the report's summary and the champions' exports are copied.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="Learner device: auto, cpu, cuda.")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Cut evaluation episodes after this many steps (smoke runs only; the study's "
                   "numbers come from whole episodes).")
@options.TRACKING
def run(study_file, budget, generations, episodes, only, parallel, out, force, results, seed, device,
        max_steps, tracking_uri):
    """Train every run, export the champions, evaluate them on Melting Pot, write the report."""
    from popbased.study import main

    claim(out, "study", force=force)
    options.stop_on_sigterm()  # stop like Ctrl-C: the running steps save and stop too
    failed = main.run(study_file, budget=budget, generations=generations, episodes=episodes,
                      only=[s for s in only.split(",") if s], parallel=parallel, out=Path(out),
                      results=Path(results), seed=seed, device=device, tracking_uri=tracking_uri,
                      max_steps=max_steps)
    if failed:
        sys.exit(1)


@study.command("report")
@click.argument("out", default="runs/study")
@click.option("--file", "study_file", default=DEFAULT_FILE, show_default=True)
@click.option("--results", default="results/study", show_default=True)
def report(out, study_file, results):
    """(Re)write the report of the study folder OUT from what its steps wrote."""
    from popbased.study import main

    if not Path(out).is_dir():
        raise BadInput(f"{out}: no such study folder (run `scripts/study` first)")
    path = main.write_report(study_file, Path(out), Path(results))
    click.echo(f"report: {path}")
