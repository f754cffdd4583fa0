"""`popbased study`: the safety study reproduced (train, export, evaluate on Melting Pot, report)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from popbased.cli import options
from popbased.errors import BadInput

DEFAULT_FILE = "populations/study/study.toml"


@click.group()
def study() -> None:
    """The safety study: train, export, evaluate, report.

    The study of populations/study/study.toml: train on the fast env, export the champions,
    evaluate them on Melting Pot, write the report.
    """


@study.command("run")
@click.option("--file", "study_file", default=DEFAULT_FILE, show_default=True,
              help="The study file (runs and evaluations).")
@options.option("--total-steps", "budget", old=("--budget",), type=click.IntRange(min=1),
                default=56_000_000, show_default=True,
                help="Agent-steps of training, all runs together: the study's total budget, "
                     "split evenly over the runs.")
@click.option("--generations", type=click.IntRange(min=1), default=None,
              help="PBT generations per population (default: the study file's).")
@options.episodes_option(None, "Episodes per evaluation point (default: the study file's, the "
                               "study's 15).")
@click.option("--only", default="", help="Comma-separated step names or prefixes "
              "(train, export, eval, train/open, eval/matrix, ...); default: every step.")
@click.option("--parallel", type=click.IntRange(min=1), default=1, show_default=True,
              help="Steps run at once (each its own process).")
@options.out_option("Study folder (a rerun continues the study in it).", default="runs/study",
                    show_default=True)
@click.option("--force", is_flag=True, help="If --out holds a study or another run, move it aside "
              "to OUT.old-TIME and start afresh.")
@click.option("--results", default="results/study", show_default=True,
              help="Where the report's summary and the champions' exports are copied.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, type=options.DEVICE,
              help="Learner device.")
@options.max_episode_steps_option("Cut evaluation episodes after this many steps (smoke runs "
                                  "only; the study's numbers come from whole episodes).",
                                  old=("--max-steps",))
@options.TRACKING
def run(study_file, budget, generations, episodes, only, parallel, out, force, results, seed, device,
        max_episode_steps, tracking_uri):
    """Train every run, export the champions, evaluate, report.

    The champions are evaluated on Melting Pot; a rerun continues the study in --out.
    """
    from popbased.runs.claim import claim
    from popbased.study import main

    claim(out, "study", force=force)
    options.stop_on_sigterm()  # stop like Ctrl-C: the running steps save and stop too
    failed = main.run(study_file, budget=budget, generations=generations, episodes=episodes,
                      only=[s for s in only.split(",") if s], parallel=parallel, out=Path(out),
                      results=Path(results), seed=seed, device=device, tracking_uri=tracking_uri,
                      max_steps=max_episode_steps)
    if failed:
        sys.exit(1)


@study.command("report")
@click.argument("out", default="runs/study")
@click.option("--file", "study_file", default=DEFAULT_FILE, show_default=True)
@click.option("--results", default="results/study", show_default=True)
def report(out, study_file, results):
    """(Re)write the report of the study folder OUT."""
    from popbased.study import main

    if not Path(out).is_dir():
        raise BadInput(f"{out}: no such study folder (run `scripts/study` first)")
    path = main.write_report(study_file, Path(out), Path(results))
    click.echo(f"report: {path}")
