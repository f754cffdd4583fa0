"""`popbased pbt`: population-based training of one population (self-play within it)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import click
from rich.console import Console

from popbased.cli import options
from popbased.errors import BadInput
from popbased.population import report as text
from popbased.population.lineage import LineageLog
from popbased.population.run import check_out, run, train_config
from popbased.population.spec import load
from popbased.ppo.config import NetConfig
from popbased.progress import TrainDisplay
from popbased.rollout.cluster import check_reachable, ensure_ray
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
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last completed generation.")
@click.option("--max-episode-steps", type=click.IntRange(min=1), default=None,
              help="Cut episodes after this many steps (default: the substrate's own end).")
@options.TRACKING
@options.training
def pbt(population, generations, steps_per_generation, out, resume, tracking_uri, seed, device, workers,
        envs_per_worker, rollout_length, max_episode_steps, lstm, ray_address, as_json):
    """Evolve the population in POPULATION (a populations/*.toml file) by PBT."""
    spec = load(population)
    if steps_per_generation:
        spec = dataclasses.replace(spec, steps_per_generation=steps_per_generation)
    if resume and not out:
        raise BadInput("--resume needs --out DIR (the run folder to continue)")
    out = out or f"runs/pbt-{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    config = train_config(spec, generations, workers=workers, envs_per_worker=envs_per_worker,
                          rollout_length=rollout_length, max_episode_steps=max_episode_steps,
                          device=device, seed=seed, net=NetConfig(lstm=lstm), out=out,
                          ray_address=ray_address)
    validate(config)
    check_out(spec, Path(out), resume, generations)
    if ray_address:
        check_reachable(ray_address)
    uri = store.resolve_uri(tracking_uri or store.stored_uri(Path(out)))
    store.check(uri)
    console = Console(stderr=True)
    Path(out).mkdir(parents=True, exist_ok=True)
    tracking = PbtTracking(uri, Path(out), spec, {
        "generations": generations, "seed": seed, "device": device, "workers": workers,
        "envs_per_worker": envs_per_worker, "rollout_length": rollout_length, "lstm": lstm,
        "max_episode_steps": max_episode_steps})

    def on_generation(summary):
        tracking.generation(summary)
        console.print(text.generation_line(summary, generations), markup=False, highlight=False)

    with TrainDisplay(config.steps, f"pbt {spec.name}", console) as display:
        ensure_ray(ray_address)
        options.stop_on_sigterm()  # the run stops; completed generations are kept
        result = run(spec, config, generations, resume=resume, on_round=display.update,
                     on_generation=on_generation)
    tracking.close(interrupted=bool(result.get("interrupted")))
    options.tracking_line(console, tracking.store, f"pbt-{spec.name}")
    if not options.summary(console, result, as_json, f"--out {out} --resume", f"run folder {out}"):
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
