"""`popbased pbt`: population-based training of one population (self-play within it)."""

from __future__ import annotations

from pathlib import Path

import click

from popbased.cli import options
from popbased.cli.tracking import MOVE
from popbased.errors import BadInput


@click.command()
@click.argument("population", type=click.Path(dir_okay=False))
@click.option("--generations", default=10, show_default=True, type=click.IntRange(min=1),
              help="Generations to complete.")
@click.option("--steps-per-generation", type=click.IntRange(min=1), default=None,
              help="Agent-steps each member trains per generation (default: the file's).")
@options.out_option("Run folder (default: runs/pbt-NAME-TIME).", default=None)
@click.option("--resume", is_flag=True, hidden=True,
              help="The same as `popbased resume OUT` (kept for scripts).")
@options.FORCE
@options.config_option("max_episode_steps", type=click.IntRange(min=1))
@options.TRACKING
@MOVE
@options.training
def pbt(population, generations, steps_per_generation, out, resume, force, tracking_uri, move_to_store,
        seed, device, workers, envs_per_worker, rollout_length, max_episode_steps, lstm, env, ray_address,
        as_json):
    """Evolve a population (a populations/*.toml file) by PBT.

    Each generation every member trains --steps-per-generation agent-steps, then the worst
    copy the best and mutate their genes (hyperparameters, shaping weights). The run folder
    keeps checkpoints, lineage and the MLflow records; `popbased resume FOLDER` continues it.

    \b
    Examples:
      popbased pbt populations/open.toml --generations 2 -o runs/quick
      popbased pbt populations/no_zap.toml --steps-per-generation 500000 --device cuda
      popbased resume runs/quick --generations 4
    """
    if resume and not out:
        raise BadInput("--resume needs --out DIR (the run folder to continue; or: "
                       "popbased resume DIR)")
    opts = {"population": str(Path(population).resolve()), "generations": generations,
            "steps_per_generation": steps_per_generation, "seed": seed, "device": device,
            "workers": workers, "envs_per_worker": envs_per_worker, "rollout_length": rollout_length,
            "lstm": lstm, "max_episode_steps": max_episode_steps, "env": env}
    start(population, out, resume, opts, tracking_uri, ray_address, as_json, force=force,
          move_to_store=move_to_store)


def start(population: str, out: str | None, resume: bool, opts: dict, tracking_uri, ray_address,
          as_json: bool, force: bool = False, move_to_store: bool = False) -> None:
    """Launches or resumes the PBT run of POPULATION in `out` with `opts` (options.json); with
    `force`, another run in `out` is moved aside first; with `move_to_store`, a resumed run's
    MLflow runs move to `tracking_uri`."""
    from popbased.population import report as text
    from popbased.population.lineage import LineageLog
    from popbased.runs import launch

    prepared = launch.prepare_pbt(population, opts, out=out, resume=resume,
                                  tracking_uri=tracking_uri, ray_address=ray_address, force=force,
                                  move_to_store=move_to_store)
    spec, out, generations = prepared.spec, str(prepared.out), prepared.generations

    def on_generation(console, summary):
        console.print(text.generation_line(summary, generations), markup=False, highlight=False)

    ran = options.run_prepared(prepared, out, f"pbt {spec.name}", "run folder", as_json, on_generation)
    if ran is None:
        return
    result, results = ran
    best = result.get("best")
    if best:
        record = result["members"][best]
        results.print(f"best member {best} (fitness {text.num(record['fitness'])}), lineage:", highlight=False)
        for line in text.lineage_lines(LineageLog(Path(out) / "lineage.jsonl"), best):
            results.print(f"  {line}", markup=False, highlight=False)
        params = "".join(f" -p {k}={v}" for k, v in spec.params.items())
        results.print(f"play it: popbased substrates run {spec.substrate}{params} --policy "
                      f"{out}/gen-{result['generation']:04d}/{best}.pt", highlight=False)


def resume_run(folder: Path, opts: dict, generations: int | None, changes: dict, tracking_uri,
               ray_address, as_json: bool, move_to_store: bool = False) -> None:
    """`popbased resume FOLDER` for a PBT run: its options.json, with `changes`."""
    from popbased.run.plan import resume_options

    opts, total = resume_options(folder, opts, generations, changes)
    start(opts["population"], str(folder), True, {**opts, "generations": total}, tracking_uri,
          ray_address, as_json, move_to_store=move_to_store)
