"""`popbased export champion`: champions as self-contained policies, registered in MLflow."""

from __future__ import annotations

from pathlib import Path

import click

from popbased.runs import refs
from popbased.errors import BadInput
from popbased.export.champion import FORMATS
from popbased.textio import num


@click.group()
def export() -> None:
    """Policies out of leagues and PBT runs, loadable without popbased."""


@export.command()
@click.argument("league", shell_complete=refs.complete_league)
@click.option("--population", default=None, help="Only this population (default: every one).")
@click.option("--by", default="fitness", show_default=True,
              help="fitness (the population's own, as PBT ranked it) or league-score (the member's "
                   "focal return vs the cells it played; leagues only).")
@click.option("--format", "fmt", default="onnx", show_default=True,
              help=f"One of {', '.join(FORMATS)} (onnx: run by onnxruntime; mlflow: a pt2 torch.export "
                   f"program; TorchScript is deprecated by PyTorch). Each folder is also an MLflow model "
                   f"that mlflow.pyfunc.load_model runs without popbased.")
@click.option("-o", "--output", required=True, help="Folder; each champion goes to OUTPUT/POPULATION/.")
@click.option("--force", is_flag=True, help="Replace existing OUTPUT/POPULATION folders.")
@click.option("--tracking-uri", default=None,
              help="MLflow store for the registry (default: the run's own, else MLFLOW_TRACKING_URI, "
                   "else ./mlflow.db).")
@click.option("--no-register", is_flag=True, help="Write the folders only; skip the MLflow registry.")
def champion(league, population, by, fmt, output, force, tracking_uri, no_register):
    """Export the champion of each population of LEAGUE (a run folder, a league name under
    ./runs, or an MLflow run id): the network with its preprocessing and action masking,
    its observation spec, action set, hyperparameters and lineage, checked to choose the
    same actions as the original on real frames (also through mlflow.pyfunc), and registered
    in MLflow as `LEAGUE-POP` with the alias `champion`: an MLflow model with a signature and
    an input example, logged as a model of the member's run."""
    from popbased.export import champion as exporter
    from popbased.export import registry

    if fmt not in FORMATS:
        raise BadInput(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    run = refs.league(league, tracking_uri)
    chosen = exporter.pick(run, population, by)
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise BadInput(f"-o {output}: exists and is not a folder")
    targets = [out / m.population for m in chosen]
    taken = [t for t in targets if t.exists()]
    if taken and not force:
        raise BadInput(f"-o {output}: {taken[0]} exists; add --force to replace it")
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
