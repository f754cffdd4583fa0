"""`popbased train`: one population by self-play (PPO, Ray rollout workers)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import click

from popbased import substrates as registry
from popbased.cli import options, progress
from popbased.textio import json_safe, write_atomic
from popbased.ppo.config import NetConfig, PPOConfig, from_mapping
from popbased.cli.progress import TrainDisplay, shaping_line
from popbased.rollout.cluster import check_reachable, ensure_ray
from popbased.runs.claim import claim
from popbased.selfplay import uses_ray
from popbased.run.train import train as run_training
from popbased.selfplay import TrainConfig, validate

_PPO_KEYS = ", ".join(PPOConfig.__dataclass_fields__)


def _numbers(pairs: tuple[str, ...], what: str) -> dict:
    out = {}
    for key, value in registry.parse_assignments(pairs).items():
        text = str(value).strip()
        if text.lower() in ("none", "null"):
            out[key] = None
            continue
        for cast in (int, float):
            try:
                out[key] = cast(text)
                break
            except ValueError:
                continue
        else:
            out[key] = {"true": True, "false": False}.get(text.lower(), text)
    return out


@click.command()
@click.argument("substrate")
@click.option("--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
              help="Variant parameter (repeatable), e.g. -p regrowth=0.5.")
@options.config_option("steps", type=click.IntRange(min=1))
@options.config_option("members", type=click.IntRange(min=1))
@click.option("--ppo", "ppo_pairs", multiple=True, metavar="KEY=VALUE",
              help=f"PPO hyperparameter (repeatable): {_PPO_KEYS}.")
@click.option("--shaping", "shaping_pairs", multiple=True, metavar="COMPONENT=WEIGHT",
              help="Reward-shaping weight (repeatable), added to the defaults (reward=1, "
                   "farmer=1 on farmer variants) or overriding one, e.g. --shaping zapped=-0.1; "
                   "0 drops a component (reward=0: no harvest reward).")
@click.option("--out", default=None, help="Checkpoint folder (default: runs/train-SUBSTRATE-TIME).")
@click.option("--force", is_flag=True, help="If --out holds another run, move it aside to "
              "OUT.old-TIME and start afresh.")
@options.config_option("overlap")
@options.training
def train(substrate, params, steps, members, device, seed, workers, envs_per_worker,
          rollout_length, lstm, env, ppo_pairs, shaping_pairs, out, force, ray_address, overlap, as_json):
    """Train a population on SUBSTRATE by self-play and write its checkpoints."""
    parsed = registry.parse_assignments(params)
    registry.resolve(substrate, parsed)  # bad names/values fail before Ray starts
    ppo = from_mapping(PPOConfig, _numbers(ppo_pairs, "--ppo"), "--ppo")
    shaping = _numbers(shaping_pairs, "--shaping") or None
    out = out or f"runs/train-{substrate}-{time.strftime('%Y%m%d-%H%M%S')}"
    config = TrainConfig(substrate, parsed, steps=steps, members=members, workers=workers,
                         envs_per_worker=envs_per_worker, rollout_length=rollout_length,
                         device=device, seed=seed, overlap=overlap, ppo=ppo,
                         net=NetConfig(lstm=lstm), shaping=shaping, out=out, ray_address=ray_address,
                         env=env)
    spec, _, weights = validate(config)
    claim(out, "train", force=force)  # before anything is written or started
    if ray_address:
        check_reachable(ray_address)
    console = progress.console(stderr=True)  # progress and diagnostics; results: stdout
    if not as_json:
        options.env_line(console, config)
    console.print(shaping_line(weights, shaping), highlight=False, soft_wrap=True)
    write_atomic(Path(out) / "options.json", json.dumps(json_safe(_options(config, weights)),
                                                        indent=1).encode())
    with TrainDisplay(steps, substrate, console,
                      first=progress.first_episode(config, spec)) as display:
        if uses_ray(config):
            ensure_ray(ray_address)
        options.stop_on_sigterm()  # training writes its checkpoints, then stops
        report = run_training(config, display.update)
    report = {**report, "shaping": weights}
    if as_json:
        click.echo(json.dumps(json_safe(report), indent=2, default=str))
        return
    if report.get("interrupted"):
        console.print("[yellow]interrupted: checkpoints of the last finished round written[/]")
    results = progress.console()
    results.print(f"trained {report['agent_steps']:,} agent-steps in {report.get('elapsed_s', 0):.0f} s "
                  f"({report.get('agent_steps_per_s', 0):,.0f}/s); checkpoints:", highlight=False)
    for member, path in report["checkpoints"].items():
        results.print(f"  {member}: {path}", highlight=False)
    results.print(f"play one: popbased substrates run {substrate} --policy "
                  f"{next(iter(report['checkpoints'].values()))}", highlight=False)


def _options(config: TrainConfig, weights: dict[str, float]) -> dict:
    """The run's options.json: what it was launched with, and the reward weights it trains
    with (`shaping`: the defaults overridden by `shaping_given`, the --shaping weights)."""
    return {"command": "train", "substrate": config.substrate,
            "params": {k: str(v) for k, v in config.params.items()}, "steps": config.steps,
            "members": config.members, "seed": config.seed, "device": config.device,
            "env": config.env, "workers": config.workers, "envs_per_worker": config.envs_per_worker,
            "rollout_length": config.rollout_length, "lstm": config.net.lstm,
            "overlap": config.overlap, "ppo": dataclasses.asdict(config.ppo),
            "shaping": weights, "shaping_given": dict(config.shaping or {})}
