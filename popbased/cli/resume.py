"""`popbased resume FOLDER`: continue a stopped PBT run or league from its last completed
generation, with the options it was launched with (its options.json)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from popbased.cli import options
from popbased.cli.league import resume_run as resume_league
from popbased.cli.pbt import resume_run as resume_pbt
from popbased.errors import BadInput
from popbased.runs.state import STATE


@click.command()
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--generations", type=click.IntRange(min=1), default=None,
              help="Generations to complete in total (default: one more than done).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Rollout workers (default: as launched).")
@click.option("--device", default=None, help="Learner device (default: as launched).")
@click.option("--ray-address", default=None, help="Join this Ray cluster (default: RAY_ADDRESS, else local).")
@options.TRACKING
@click.option("--json", "as_json", is_flag=True, help="Print the final report as JSON.")
def resume(folder, generations, workers, device, ray_address, tracking_uri, as_json):
    """Continue the PBT run or league in FOLDER from its last completed generation."""
    folder = Path(folder)
    path = folder / "options.json"
    if not (folder / STATE).is_file() or not path.is_file():
        raise BadInput(f"{folder}: not a PBT or league run folder (no {STATE} / options.json)")
    try:
        opts = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise BadInput(f"{path}: not valid JSON ({err})") from None
    changes = {k: v for k, v in (("workers", workers), ("device", device)) if v}
    if "league" in opts:
        resume_league(folder, opts, generations, changes, tracking_uri, ray_address, as_json)
    elif "population" in opts:
        resume_pbt(folder, opts, generations, changes, tracking_uri, ray_address, as_json)
    else:
        raise BadInput(f"{path}: names neither a league nor a population file")
