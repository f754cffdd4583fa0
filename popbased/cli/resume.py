"""`popbased resume FOLDER`: continue a stopped PBT run or league from its last completed
generation, with the options it was launched with (its options.json). The one way to resume:
`pbt --resume` and `league resume` are the same, kept for scripts and unshown in --help."""

from __future__ import annotations

from pathlib import Path

import click

from popbased.cli import options
from popbased.cli.tracking import MOVE
from popbased.errors import BadInput


@click.command()
@options.resuming
@MOVE
def resume(folder, generations, workers, device, ray_address, tracking_uri, as_json, move_to_store):
    """Continue a stopped PBT run or league.

    FOLDER's run goes on from its last completed generation with the options it was launched
    with (its options.json; --workers and --device may change), tracked in the MLflow store it
    was tracked in (--tracking-uri URI --move-to-store moves it there).

    \b
    Examples:
      popbased resume runs/quick
      popbased resume runs/commons --generations 10 --device cuda
    """
    from popbased.cli.league import resume_run as resume_league
    from popbased.cli.pbt import resume_run as resume_pbt
    from popbased.runs.state import read_options

    folder = Path(folder)
    opts = read_options(folder, "PBT or league run")
    changes = options.changed(workers, device)
    if "league" in opts:
        resume_league(folder, opts, generations, changes, tracking_uri, ray_address, as_json,
                      move_to_store=move_to_store)
    elif "population" in opts:
        resume_pbt(folder, opts, generations, changes, tracking_uri, ray_address, as_json,
                   move_to_store=move_to_store)
    else:
        raise BadInput(f"{folder / 'options.json'}: names neither a league nor a population file")
