"""The scripted references on real Melting Pot, beside random play and the map's ceiling.

    scripts/bench_scripted [--episodes 30] [--out bench/scripted_reference.json]
    scripts/bench_scripted --from EVALUATION_FOLDER   # figures from an evaluation already run
    scripts/bench_scripted --from MP_FOLDER --fast-from FAST_FOLDER   # and the fast env's beside

Plays `popbased evaluate run scripted:sustainable scripted:greedy random --substrate open
--episodes N` (every seat the same policy; full episodes: Melting Pot's own random length,
1,099-5,000 steps) and writes, per policy: per-capita return, per-capita return per 1,000
steps (each episode's return over its own length, averaged over episodes), their 95%
bootstrap CIs, depletion both ways (the world count: the last apple gone; the study's proxy: no
reward for 50 steps) and episode lengths; with the map's sustainable ceiling
(popbased.env.fast.ceiling) and whether the sustainable reference reaches the bar issue 30
sets for it (what our best learned policy does, about 80 per capita per 1,000 steps).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from pathlib import Path

import click
import numpy as np
import pandas as pd

from popbased.env.fast.ceiling import ceiling
from popbased.env.fast.maps import build_map
from popbased.env.fast.world import END_PROBABILITY, INTERVAL, MAX_STEPS, MIN_STEPS
from popbased.evaluation import job as jobs
from popbased.evaluation.tables import bootstrap_ci
from popbased.substrates import resolve

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ("scripted:sustainable", "scripted:greedy", "random")
BAR = 80.0
"""Per capita per 1,000 steps: plain PPO with reward=1, last_apples=-3 on real Melting Pot
(issue 30), the best learned policy; the sustainable reference must reach it to be the "1"."""


def mean_length() -> float:
    """Melting Pot's mean episode length on the commons_harvest maps (rules section 6)."""
    lengths = np.arange(MIN_STEPS + INTERVAL - 1, MAX_STEPS, INTERVAL)
    p = END_PROBABILITY * (1 - END_PROBABILITY) ** np.arange(len(lengths))
    return float((lengths * p).sum() + MAX_STEPS * (1 - p.sum()))


def ceiling_figures(substrate: str) -> dict:
    spec = resolve(substrate)
    game = build_map(spec.params)
    players = spec.num_players
    tight, bound = ceiling(game), ceiling(game, cycle=False)
    kept = sum(len(p.skeleton) for p in tight)
    surplus = game.num_apples - kept
    length = mean_length()
    rate, rate_bound = sum(p.rate for p in tight), sum(p.rate for p in bound)
    return {
        "patches": [{"apples": len(p.apples), "kept_live": len(p.skeleton),
                     "apples_per_step": round(p.rate, 5), "bound_apples_per_step": round(b.rate, 5)}
                    for p, b in zip(tight, bound)],
        "apples_per_step": round(rate, 4),
        "bound_apples_per_step": round(rate_bound, 4),
        "per_capita_per_1000_steps": round(1000 * rate / players, 1),
        "bound_per_capita_per_1000_steps": round(1000 * rate_bound / players, 1),
        "initial_surplus_apples": surplus,
        "mean_episode_length": round(length, 1),
        "per_capita_per_1000_steps_with_surplus_at_mean_length": round(
            1000 * (rate + surplus / length) / players, 1),
        "assumptions": "steady state; every waiting apple regrows at p[min(live neighbours, 3)], the "
                       "count's two-step lag ignored; per_capita: one waiting step after each eat "
                       "(p / (1 + p) per apple), bound: p per apple; the surplus (apples beyond the "
                       "skeleton at the start) harvested once per episode",
    }


def _stats(values: np.ndarray) -> dict:
    low, high = bootstrap_ci(values)
    return {"mean": round(float(values.mean()), 2), "ci95": [round(low, 2), round(high, 2)],
            "std": round(float(values.std(ddof=1)), 2) if len(values) > 1 else None}


def figures(folder: Path) -> dict:
    """Per-policy figures from an evaluation folder (episodes.parquet, evaluation.json)."""
    info = json.loads((folder / "evaluation.json").read_text())
    episodes = pd.read_parquet(folder / "episodes.parquet")
    out = {}
    for policy, rows in episodes.groupby("policy", sort=False):
        per_capita = rows["per_capita_return"].to_numpy(float)
        steps = rows["steps"].to_numpy(float)
        out[policy] = {
            "episodes": len(rows),
            "per_capita_return": _stats(per_capita),
            "per_capita_per_1000_steps": _stats(1000 * per_capita / steps),
            "per_capita_per_1000_steps_pooled": round(float(1000 * per_capita.sum() / steps.sum()), 2),
            "episode_steps": {"mean": round(float(steps.mean()), 1), "min": int(steps.min()),
                              "max": int(steps.max())},
            "depleted_world_fraction": round(float(rows["depleted"].mean()), 3),
            "depleted_proxy_fraction": round(float(rows["proxy_depleted"].mean()), 3),
            "apples_min_mean": round(float(rows["apples_min"].mean()), 1),
        }
    return {"info": info, "policies": out}


@click.command()
@click.option("--episodes", "-n", default=30, show_default=True, type=click.IntRange(min=1))
@click.option("--substrate", default="open", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--from", "source", default=None,
              help="An evaluation folder already played (its figures only).")
@click.option("--fast-from", "fast_source", default=None,
              help="The same evaluation played on the fast env (`--env fast`): its figures beside.")
@click.option("--out", "-o", default=str(ROOT / "bench" / "scripted_reference.json"), show_default=True)
def main(episodes: int, substrate: str, seed: int, source: str | None, fast_source: str | None,
         out: str) -> None:
    if source is None:
        work = Path(tempfile.mkdtemp(prefix="popbased-scripted-"))
        job = jobs.prepare(list(POLICIES), substrate, {}, {}, episodes=episodes, output=str(work / "eval"),
                           seed=seed, tracking_uri=f"sqlite:///{work / 'mlflow.db'}")
        job.run()
        source = str(work / "eval")
    found = figures(Path(source))
    info = found["info"]
    command = (f"popbased evaluate run {' '.join(info['policy_refs'])} --substrate {info['substrate']} "
               f"--episodes {info['episodes']} --seed {info['seed']} -o OUT")
    result = {
        "command": command,
        "engine": info["env"],
        "substrate": info["substrate"],
        "episodes_per_policy": info["episodes"],
        "seed": info["seed"],
        "episode_length": "Melting Pot's own (random, 1,099-5,000 steps; none cut)"
                          if info["max_steps"] is None else f"cut at {info['max_steps']} steps",
        "seconds": round(info["seconds"], 1),
        "policies": found["policies"],
        "ceiling": ceiling_figures(info["substrate"]),
        "bar": {"per_capita_per_1000_steps": BAR,
                "what": "plain PPO, reward=1, last_apples=-3, on real Melting Pot (issue 30)"},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    if fast_source:
        fast = figures(Path(fast_source))
        result["fast_env"] = {
            "engine": fast["info"]["env"], "episodes_per_policy": fast["info"]["episodes"],
            "policies": {k: {"per_capita_per_1000_steps": v["per_capita_per_1000_steps"],
                             "depleted_world_fraction": v["depleted_world_fraction"],
                             "depleted_proxy_fraction": v["depleted_proxy_fraction"]}
                         for k, v in fast["policies"].items()}}
    sustainable = found["policies"].get("scripted:sustainable")
    if sustainable:
        reached = sustainable["per_capita_per_1000_steps"]["mean"] >= BAR
        result["verdict"] = (
            "the sustainable reference reaches the bar: it is the '1' of the normalised score" if reached else
            "the sustainable reference falls short of the bar: normalise by the computed ceiling instead")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=1) + "\n")
    for policy, r in found["policies"].items():
        k = r["per_capita_per_1000_steps"]
        click.echo(f"{policy}: {r['per_capita_return']['mean']:.1f} per capita, {k['mean']:.1f} "
                   f"{k['ci95']} per 1,000 steps; depleted {r['depleted_world_fraction']:.0%} (world), "
                   f"{r['depleted_proxy_fraction']:.0%} (proxy)")
    c = result["ceiling"]
    click.echo(f"ceiling: {c['per_capita_per_1000_steps']} per capita per 1,000 steps (bound "
               f"{c['bound_per_capita_per_1000_steps']}); {result.get('verdict', '')}")


if __name__ == "__main__":
    main()
