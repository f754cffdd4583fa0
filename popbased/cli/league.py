"""`popbased league launch | resume | status`: leagues of populations meeting each other."""

from __future__ import annotations

import time
from pathlib import Path

import click

from popbased.cli import options
from popbased.cli.status import show as show_status, status as status_command
from popbased.cli.tracking import MOVE


@click.group()
def league() -> None:
    """Leagues of populations, each the others' background.

    Every population evolves by PBT while playing against the others (and their past
    snapshots); a payoff table per generation ranks them.
    """


def _start(opts: dict, generations: int, resume: bool, ray_address, as_json: bool,
           tracking_uri: str | None, force: bool = False, move_to_store: bool = False) -> None:
    from popbased.cli.tables import show_table
    from popbased.league import report
    from popbased.runs import launch as launching
    from popbased.textio import num

    prepared = launching.prepare_league(opts, generations, resume=resume, tracking_uri=tracking_uri,
                                     ray_address=ray_address, force=force,
                                     move_to_store=move_to_store)
    spec, out = prepared.spec, opts["out"]

    def on_generation(console, summary):
        show_table(console, report.payoff_table(summary.rows, summary.scores,
                                                 f"payoff, generation {summary.generation}"))
        for line in report.generation_lines(summary, generations):
            console.print(line, markup=False, highlight=False)

    ran = options.run_prepared(prepared, out, f"league {spec.name}", "league folder", as_json, on_generation)
    if ran is None:
        return
    result, results = ran
    for pop, (member, fitness) in report.best_per_population(result["members"]).items():
        results.print(f"best of {pop}: {member} (fitness {num(fitness)}) -> "
                      f"{out}/gen-{result['generation']:04d}/{member}.pt", highlight=False)


@league.command()
@click.argument("league_file", metavar="LEAGUE.toml", type=click.Path(dir_okay=False))
@click.option("--generations", default=5, show_default=True, type=click.IntRange(min=1),
              help="Generations to complete.")
@click.option("--steps-per-generation", type=click.IntRange(min=1), default=None,
              help="Agent-steps per member per generation (default: the file's).")
@click.option("--episode-steps", type=click.IntRange(min=1), default=None,
              help="Steps of every league episode (the file's episode_steps, which this "
                   "overrides; a length, not a cut: seats change hands between episodes, so a "
                   "multiple of --rollout-length).")
@options.out_option("League folder (default: runs/league-NAME-TIME).", default=None)
@options.FORCE
@options.TRACKING
@options.training
def launch(league_file, generations, steps_per_generation, episode_steps, out, force, tracking_uri,
           seed, device, workers, envs_per_worker, rollout_length, lstm, env, ray_address, as_json):
    """Start the league that LEAGUE.toml describes.

    LEAGUE.toml is a league file, e.g. populations/leagues/commons.toml.

    `popbased status FOLDER` shows where it stands, `popbased resume FOLDER` continues it,
    `popbased export champion FOLDER` exports each population's best.

    \b
    Examples:
      popbased league launch populations/leagues/commons.toml --generations 2 -o runs/commons
      popbased league launch populations/leagues/commons.toml --device cuda --workers 8
      popbased resume runs/commons --generations 10
    """
    from popbased.league.spec import load

    out = out or f"runs/league-{load(league_file).name}-{time.strftime('%Y%m%d-%H%M%S')}"
    opts = {"league": str(Path(league_file).resolve()), "out": out, "seed": seed, "device": device,
            "workers": workers, "envs_per_worker": envs_per_worker, "rollout_length": rollout_length, "lstm": lstm,
            "env": env,
            "steps_per_generation": steps_per_generation, "episode_steps": episode_steps}
    _start(opts, generations, False, ray_address, as_json, tracking_uri, force=force)


@league.command(hidden=True)
@options.resuming
@MOVE
def resume(folder, generations, workers, device, ray_address, tracking_uri, as_json, move_to_store):
    """The same as `popbased resume FOLDER` (kept for scripts): continue a stopped league
    from its last completed generation."""
    from popbased.runs import state as files

    folder = Path(folder)
    resume_run(folder, files.read_options(folder, "league"), generations, options.changed(workers, device), tracking_uri,
               ray_address, as_json, move_to_store=move_to_store)


def resume_run(folder: Path, opts: dict, generations: int | None, changes: dict, tracking_uri,
               ray_address, as_json: bool, move_to_store: bool = False) -> None:
    """`league resume` / `popbased resume FOLDER` for a league: its options.json, with `changes`."""
    from popbased.run.plan import resume_options

    opts, total = resume_options(folder, opts, generations, changes)
    _start(opts, total, True, ray_address, as_json, tracking_uri, move_to_store=move_to_store)


@league.command("status", help=status_command.help, short_help="Where a run stands (the same as "
                "`popbased status`).")
@click.argument("folder", shell_complete=options.complete_run)
@click.option("--json", "as_json", is_flag=True, help="Print the status (or the audit) as JSON.")
@click.option("--check", is_flag=True,
              help="Audit the folder: every committed record once, nothing else (exit 1 if not).")
@click.option("--tracking-uri", default=None,
              help="MLflow store to look FOLDER up in when it is an MLflow run id.")
def status(folder, as_json, check, tracking_uri):
    show_status(folder, check, as_json, tracking_uri)
