"""`popbased export champion`: champions as self-contained policies, registered in MLflow."""

from __future__ import annotations

from pathlib import Path

import click

from popbased.cli import options
from popbased.errors import BadInput

CHAMPION = "popbased.export.champion"  # imports torch: its choices are read from its source
FORMATS = options.module_constant(CHAMPION, "FORMATS")
BY = options.module_constant(CHAMPION, "BY")


@click.group()
def export() -> None:
    """Export champions as policies that run without popbased.

    The best members of leagues and PBT runs, with what they need to play.
    """


@export.command()
@click.argument("league", shell_complete=options.complete_run)
@click.option("--population", default=None, help="Only this population (default: every one).")
@click.option("--by", default="fitness", show_default=True, type=click.Choice(BY),
              help="fitness (the population's own, as PBT ranked it) or league-score (the member's "
                   "focal return vs the cells it played; leagues only).")
@click.option("--format", "fmt", default="onnx", show_default=True, type=click.Choice(FORMATS),
              help="onnx: run by onnxruntime; mlflow: a pt2 torch.export program; TorchScript is "
                   "deprecated by PyTorch. Each folder is also an MLflow model that "
                   "mlflow.pyfunc.load_model runs without popbased.")
@options.out_option("Folder; each champion goes to OUT/POPULATION/.", old=("--output",),
                    required=True)
@click.option("--force", is_flag=True, help="Replace existing OUT/POPULATION folders.")
@click.option("--tracking-uri", default=None,
              help="MLflow store for the registry (default: the run's own, else MLFLOW_TRACKING_URI, "
                   "else ./mlflow.db).")
@click.option("--no-register", is_flag=True, help="Write the folders only; skip the MLflow registry.")
def champion(league, population, by, fmt, out, force, tracking_uri, no_register):
    """Export each population's champion; register it in MLflow.

    LEAGUE is a league or PBT run folder, a league name under ./runs, or an MLflow run id.
    Each champion is written with its preprocessing and action masking, observation spec,
    action set, hyperparameters and lineage, checked to choose the same actions as the
    original on real frames (also through mlflow.pyfunc), and registered in MLflow as
    `LEAGUE-POP` with the alias `champion`: an MLflow model with a signature and an input
    example, logged as a model of the member's run.

    \b
    Examples:
      popbased export champion runs/quick -o runs/champions
      popbased export champion commons --population no_zap --by league-score -o champions
      popbased export champion runs/commons --format mlflow --no-register -o champions-pt2
    """
    from popbased.export import champion as exporter
    from popbased.export import registry
    from popbased.runs import refs
    from popbased.textio import num

    run = refs.league(league, tracking_uri)
    chosen = exporter.pick(run, population, by)
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise BadInput(f"-o {out}: exists and is not a folder")
    targets = [folder / m.population for m in chosen]
    taken = [t for t in targets if t.exists()]
    if taken and not force:
        raise BadInput(f"-o {out}: {taken[0]} exists; add --force to replace it")
    uri = None if no_register else registry.tracking_uri(run, tracking_uri)
    for member, target in zip(chosen, targets):
        info = exporter.export_member(run, member, fmt, target, by)
        check = info["verification"]
        score = "" if member.fitness is None else f", fitness {num(member.fitness)}"
        click.echo(f"{member.id}{score} -> {target} ({fmt}); verified on {check['samples']} real views: "
                   f"{check['same_actions']}/{check['samples']} same actions, max |logp diff| "
                   f"{check['max_logp_diff']:.1e}; through mlflow.pyfunc {check['pyfunc']['same_actions']}/"
                   f"{check['samples']}")
        if uri is not None:
            reg = registry.register(run, member, target, info, uri)
            click.echo(f"  registered {reg['name']} version {reg['version']} as @{reg['alias']} "
                       f"({reg['uri']}) in {uri}: mlflow.pyfunc.load_model({reg['uri']!r}) runs it")
