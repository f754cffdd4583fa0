"""`popbased train`: one population by self-play (PPO, Ray rollout workers)."""

from __future__ import annotations

import json
import time

import click

from popbased.cli import options
from popbased.ppo.config import PPOConfig

_PPO_KEYS = ", ".join(PPOConfig.__dataclass_fields__)


def _numbers(pairs: tuple[str, ...], what: str) -> dict:
    from popbased import substrates as registry

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
@options.config_option("steps", "--total-steps", old=("--steps",), type=click.IntRange(min=1),
                       help="Agent-steps to train for, all members together: the run's total "
                            "budget (one agent-step is one player's step in one world; `pbt` and "
                            "`league launch` budget per generation instead: "
                            "--steps-per-generation).")
@options.config_option("members", type=click.IntRange(min=1))
@click.option("--ppo", "ppo_pairs", multiple=True, metavar="KEY=VALUE",
              help=f"PPO hyperparameter (repeatable): {_PPO_KEYS}.")
@click.option("--shaping", "shaping_pairs", multiple=True, metavar="COMPONENT=WEIGHT",
              help="Reward-shaping weight (repeatable), added to the defaults (reward=1, "
                   "farmer=1 on farmer variants) or overriding one, e.g. --shaping zapped=-0.1; "
                   "0 drops a component (reward=0: no harvest reward).")
@options.out_option("Checkpoint folder (default: runs/train-SUBSTRATE-TIME).", default=None)
@options.FORCE
@options.config_option("overlap")
@options.training
def train(substrate, params, steps, members, device, seed, workers, envs_per_worker,
          rollout_length, lstm, env, ppo_pairs, shaping_pairs, out, force, ray_address, overlap, as_json):
    """Train a population on SUBSTRATE by PPO self-play.

    Plain self-play without PBT or MLflow: the members share the seats and learn for
    --total-steps agent-steps; their checkpoints and metrics.jsonl go to --out.

    \b
    Examples:
      popbased train open --total-steps 200000 -o runs/train-quick
      popbased train open -p regrowth=0.5 --members 2 --shaping last_apples=-3
      popbased train open --env meltingpot --device cuda --total-steps 5000000
    """
    from popbased import substrates as registry
    from popbased.cli import progress
    from popbased.cli.progress import TrainDisplay, shaping_line
    from popbased.runs import launch
    from popbased.textio import json_safe

    parsed = registry.parse_assignments(params)
    opts = {"substrate": substrate, "params": parsed, "steps": steps, "members": members,
            "seed": seed, "device": device, "env": env, "workers": workers,
            "envs_per_worker": envs_per_worker, "rollout_length": rollout_length, "lstm": lstm,
            "overlap": overlap, "ppo": _numbers(ppo_pairs, "--ppo"),
            "shaping_given": _numbers(shaping_pairs, "--shaping"),
            "out": out or f"runs/train-{substrate}-{time.strftime('%Y%m%d-%H%M%S')}"}
    prepared = launch.prepare_train(opts, force=force, ray_address=ray_address)  # nothing written yet
    config, weights = prepared.config, prepared.plan.options["shaping"]
    console = progress.console(stderr=True)  # progress and diagnostics; results: stdout
    if not as_json:
        options.env_line(console, config)
    console.print(shaping_line(weights, config.shaping), highlight=False, soft_wrap=True)
    prepared.open()  # options.json: the plan written down
    first = progress.first_episode(config, registry.resolve(substrate, parsed))
    with TrainDisplay(steps, substrate, console, first=first) as display:
        # SIGTERM (schedulers) stops like Ctrl-C: training writes its checkpoints, then stops
        report = prepared.run(on_round=display.update, on_started=options.stop_on_sigterm)
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

