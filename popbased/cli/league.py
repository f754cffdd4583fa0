"""`popbased league launch | resume | status`: leagues of populations meeting each other."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console

from popbased import errors
from popbased.cli import options
from popbased.cli.tables import show_table
from popbased.league import report
from popbased.runs import state as files
from popbased.league.run import check_out, run, train_config
from popbased.league.spec import load
from popbased.textio import num
from popbased.textio import json_safe
from popbased.ppo.config import NetConfig
from popbased.cli.progress import TrainDisplay
from popbased.rollout.cluster import check_reachable, ensure_ray
from popbased.selfplay import uses_ray
from popbased.tracking import store
from popbased.tracking.league import LeagueTracking

@click.group()
def league() -> None:
    """Leagues: several populations evolve at once, each focal and background for the others."""


def _start(spec, generations: int, resume: bool, opts: dict, ray_address, as_json: bool,
           tracking_uri: str | None) -> None:
    out = opts["out"]
    config = train_config(spec, generations, workers=opts["workers"],
                          envs_per_worker=opts["envs_per_worker"], rollout_length=opts["rollout_length"],
                          device=opts["device"], seed=opts["seed"], net=NetConfig(lstm=opts["lstm"]),
                          out=out, ray_address=ray_address, env=opts.get("env") or "meltingpot")
    check_out(spec, Path(out), resume, generations)
    if ray_address:
        check_reachable(ray_address)
    uri = store.resolve_uri(tracking_uri or store.stored_uri(Path(out)))
    store.check(uri)
    console = Console(stderr=True)
    if not as_json:
        options.env_line(console, config)
    files_out = Path(out)
    files_out.mkdir(parents=True, exist_ok=True)
    (files_out / "options.json").write_text(json.dumps(opts, indent=1))
    errors.log_into(files_out)
    tracking = LeagueTracking(uri, files_out, spec, opts)
    if resume:  # a generation committed but not yet logged when the run was killed
        tracking.catch_up(files.lines(files_out, "generations.jsonl"), files.read(files_out)["generation"])

    def on_generation(summary):
        tracking.generation(summary)
        show_table(console, report.payoff_table(summary.rows, summary.scores,
                                                 f"payoff, generation {summary.generation}"))
        for line in report.generation_lines(summary, generations):
            console.print(line, markup=False, highlight=False)

    try:
        with TrainDisplay(config.steps, f"league {spec.name}", console) as display:
            if uses_ray(config):
                ensure_ray(ray_address)
            options.stop_on_sigterm()  # completed generations are kept
            result = run(spec, config, generations, resume=resume, on_round=display.update,
                         on_generation=on_generation)
    except Exception as err:  # completed generations stay committed and resumable
        tracking.close(error=f"{type(err).__name__}: {err}")
        raise
    tracking.close(interrupted=bool(result.get("interrupted")))
    options.tracking_line(console, tracking.store, f"league-{spec.name}")
    if not options.summary(console, result, as_json, f"`popbased league resume {out}`",
                           f"league folder {out}"):
        return
    for pop, (member, fitness) in report.best_per_population(result["members"]).items():
        console.print(f"best of {pop}: {member} (fitness {num(fitness)}) -> "
                      f"{out}/gen-{result['generation']:04d}/{member}.pt", highlight=False)


@league.command()
@click.argument("league_file", metavar="LEAGUE.toml", type=click.Path(dir_okay=False))
@click.option("--generations", default=5, show_default=True, type=click.IntRange(min=1),
              help="Generations to complete.")
@click.option("--steps-per-generation", type=click.IntRange(min=1), default=None,
              help="Agent-steps per member per generation (default: the file's).")
@click.option("--episode-steps", type=click.IntRange(min=1), default=None,
              help="Episode length (default: the file's); a multiple of --rollout-length.")
@click.option("--out", default=None, help="League folder (default: runs/league-NAME-TIME).")
@options.TRACKING
@options.training
def launch(league_file, generations, steps_per_generation, episode_steps, out, tracking_uri, seed,
           device, workers, envs_per_worker, rollout_length, lstm, env, ray_address, as_json):
    """Start the league described in LEAGUE.toml (e.g. populations/leagues/commons.toml)."""
    spec = load(league_file)
    out = out or f"runs/league-{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    opts = {"league": str(Path(league_file).resolve()), "out": out, "seed": seed, "device": device,
            "workers": workers, "envs_per_worker": envs_per_worker, "rollout_length": rollout_length, "lstm": lstm,
            "env": env,
            "steps_per_generation": steps_per_generation, "episode_steps": episode_steps}
    _start(_overridden(spec, opts), generations, False, opts, ray_address, as_json, tracking_uri)


def _overridden(spec, opts: dict):
    changes = {k: opts[k] for k in ("steps_per_generation", "episode_steps") if opts.get(k)}
    return dataclasses.replace(spec, **changes)


def _options(folder: Path) -> dict:
    return files.read_options(folder, "league")


@league.command()
@options.resuming
def resume(folder, generations, workers, device, ray_address, tracking_uri, as_json):
    """Continue a stopped league from its last completed generation."""
    folder = Path(folder)
    resume_run(folder, _options(folder), generations, options.changed(workers, device), tracking_uri,
               ray_address, as_json)


def resume_run(folder: Path, opts: dict, generations: int | None, changes: dict, tracking_uri,
               ray_address, as_json: bool) -> None:
    """`league resume` / `popbased resume FOLDER` for a league: its options.json, with `changes`."""
    done = files.read(folder)["generation"]
    opts = {**opts, **changes, "out": str(folder)}
    spec = _overridden(load(opts["league"]), opts)
    _start(spec, generations or done + 1, True, opts, ray_address, as_json, tracking_uri)


@league.command()
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--check", is_flag=True,
              help="Audit the folder: every committed record once, nothing else (exit 1 if not).")
def status(folder, as_json, check):
    """Where a league stands: generation, members, league scores, the last payoff table."""
    folder = Path(folder)
    _options(folder)
    if check:
        from popbased.league.audit import audit

        problems = audit(folder)
        for line in problems or [f"{folder}: consistent (generation {files.read(folder)['generation']})"]:
            click.echo(line)
        if problems:
            sys.exit(1)
        return
    state = files.read(folder)
    payoffs = files.lines(folder, "payoff.jsonl")[:state["generation"]]
    last = payoffs[-1] if payoffs else None
    if as_json:
        click.echo(json.dumps(json_safe({"generation": state["generation"],
                                         "agent_steps": state["agent_steps"],
                                         "members": state["members"],
                                         "snapshots": [s["id"] for s in state["snapshots"]],
                                         "payoff": last}), indent=2))
        return
    console = Console()
    console.print(f"league {state['league']['name']} in {folder}: generation {state['generation']}, "
                  f"{state['agent_steps']:,} agent-steps; arena {state['league']['arena']}",
                  highlight=False)
    for pop, records in state["members"].items():
        line = ", ".join(f"{r['id']} fitness {num(r['fitness'])}" for r in records)
        console.print(f"  {pop}: {line}", highlight=False)
    if state["snapshots"]:
        console.print(f"  background pool: {', '.join(s['id'] for s in state['snapshots'])}")
    if last:
        show_table(console, report.payoff_table(last["rows"], last["scores"],
                                                 f"payoff, generation {last['generation']}"))
