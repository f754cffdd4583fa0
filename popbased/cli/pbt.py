"""`popbased pbt`: population-based training of one population (self-play within it)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import click
from rich.console import Console

from popbased import errors
from popbased.cli import options
from popbased.errors import BadInput
from popbased.population import report as text
from popbased.population.lineage import LineageLog
from popbased.population.run import check_out, read_state, run, train_config
from popbased.population.spec import load
from popbased.ppo.config import NetConfig
from popbased.cli.progress import TrainDisplay
from popbased.rollout.cluster import check_reachable, ensure_ray
from popbased.selfplay import uses_ray
from popbased.runs import state as files
from popbased.selfplay import validate
from popbased.tracking import store
from popbased.tracking.pbt import PbtTracking


@click.command()
@click.argument("population", type=click.Path(dir_okay=False))
@click.option("--generations", default=10, show_default=True, type=click.IntRange(min=1),
              help="Generations to complete (with --resume: in total).")
@click.option("--steps-per-generation", type=click.IntRange(min=1), default=None,
              help="Agent-steps each member trains per generation (default: the file's).")
@click.option("--out", default=None, help="Run folder (default: runs/pbt-NAME-TIME).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last completed "
              "generation (or: popbased resume FOLDER).")
@options.config_option("max_episode_steps", type=click.IntRange(min=1))
@options.TRACKING
@options.training
def pbt(population, generations, steps_per_generation, out, resume, tracking_uri, seed, device, workers,
        envs_per_worker, rollout_length, max_episode_steps, lstm, env, ray_address, as_json):
    """Evolve the population in POPULATION (a populations/*.toml file) by PBT."""
    if resume and not out:
        raise BadInput("--resume needs --out DIR (the run folder to continue)")
    opts = {"population": str(Path(population).resolve()), "generations": generations,
            "steps_per_generation": steps_per_generation, "seed": seed, "device": device,
            "workers": workers, "envs_per_worker": envs_per_worker, "rollout_length": rollout_length,
            "lstm": lstm, "max_episode_steps": max_episode_steps, "env": env}
    start(population, out, resume, opts, tracking_uri, ray_address, as_json)


def start(population: str, out: str | None, resume: bool, opts: dict, tracking_uri, ray_address,
          as_json: bool) -> None:
    """Launches or resumes the PBT run of POPULATION in `out` with `opts` (options.json)."""
    spec = load(population)
    if opts.get("steps_per_generation"):
        spec = dataclasses.replace(spec, steps_per_generation=opts["steps_per_generation"])
    out = out or f"runs/pbt-{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    generations = opts["generations"]
    config = train_config(spec, generations, workers=opts["workers"],
                          envs_per_worker=opts["envs_per_worker"], rollout_length=opts["rollout_length"],
                          max_episode_steps=opts["max_episode_steps"], device=opts["device"],
                          seed=opts["seed"], net=NetConfig(lstm=opts["lstm"]), out=out,
                          ray_address=ray_address, env=opts.get("env") or "meltingpot")
    validate(config)
    check_out(spec, Path(out), resume, generations)
    if ray_address:
        check_reachable(ray_address)
    uri = store.resolve_uri(tracking_uri or store.stored_uri(Path(out)))
    store.check(uri)
    console = Console(stderr=True)
    if not as_json:
        options.env_line(console, config)
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "options.json").write_text(json.dumps({**opts, "out": out}, indent=1))
    errors.log_into(out)
    tracking = PbtTracking(uri, Path(out), spec, {k: v for k, v in opts.items()
                                                  if k not in ("population", "steps_per_generation")})
    if resume:  # a generation committed but not yet logged when the run was killed
        tracking.catch_up(files.lines(Path(out), "generations.jsonl"), read_state(Path(out))["generation"])

    def on_generation(summary):
        tracking.generation(summary)
        console.print(text.generation_line(summary, generations), markup=False, highlight=False)

    try:
        with TrainDisplay(config.steps, f"pbt {spec.name}", console) as display:
            if uses_ray(config):
                ensure_ray(ray_address)
            options.stop_on_sigterm()  # the run stops; completed generations are kept
            result = run(spec, config, generations, resume=resume, on_round=display.update,
                         on_generation=on_generation)
    except Exception as err:  # completed generations stay committed and resumable
        tracking.close(error=f"{type(err).__name__}: {err}")
        raise
    tracking.close(interrupted=bool(result.get("interrupted")))
    options.tracking_line(console, tracking.store, f"pbt-{spec.name}")
    if not options.summary(console, result, as_json, f"`popbased resume {out}`", f"run folder {out}"):
        return
    best = result.get("best")
    if best:
        record = result["members"][best]
        console.print(f"best member {best} (fitness {text.num(record['fitness'])}), lineage:", highlight=False)
        for line in text.lineage_lines(LineageLog(Path(out) / "lineage.jsonl"), best):
            console.print(f"  {line}", markup=False, highlight=False)
        params = "".join(f" -p {k}={v}" for k, v in spec.params.items())
        console.print(f"play it: popbased substrates run {spec.substrate}{params} --policy "
                      f"{out}/gen-{result['generation']:04d}/{best}.pt", highlight=False)


def resume_run(folder: Path, opts: dict, generations: int | None, changes: dict, tracking_uri,
               ray_address, as_json: bool) -> None:
    """`popbased resume FOLDER` for a PBT run: its options.json, with `changes`."""
    done = read_state(folder)["generation"]
    opts = {**opts, **changes, "generations": generations or done + 1}
    start(opts["population"], str(folder), True, opts, tracking_uri, ray_address, as_json)
