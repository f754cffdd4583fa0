"""Learning curves: per-capita return (unshaped harvest) against agent-steps and against
wall-clock minutes, with the random baseline, for training through each engine for the same
minutes on the same machine (one after the other); then every trained policy, and random
play, evaluated on real Melting Pot (episodes with a 95% bootstrap CI).

    python -m popbased.bench.learning --env fast,meltingpot --minutes 60 --out bench/learning
    python -m popbased.bench.learning --env fast --envs-per-worker 10,40,160 --minutes 10  # batches
    python -m popbased.bench.learning --metrics runs/x/metrics.jsonl --out bench/learning  # plot only
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click
import numpy as np

from popbased.evaluation.policies import resolve
from popbased.evaluation.run import evaluate
from popbased.evaluation.tables import bootstrap_ci
from popbased.ppo.config import PPOConfig
from popbased.rollout.cluster import ensure_ray
from popbased.run.train import train
from popbased.selfplay import TrainConfig

RANDOM_BASELINE = 33.0  # commons_harvest__open, six random episodes (README, DESIGN.md)


def curve(metrics_path: str | Path, window: int = 30) -> dict:
    """Per-episode points (agent-steps at the end of the round, per-capita return, depleted)
    and a moving average over `window` episodes."""
    steps, returns, depleted, gini, minutes = [], [], [], [], []
    with open(metrics_path) as f:
        for line in f:
            row = json.loads(line)
            for e in row.get("episode_summaries", []):
                steps.append(row["agent_steps"])
                minutes.append(row["elapsed_s"] / 60)
                returns.append(e["per_capita_return"])
                gini.append(e["gini"])
                depleted.append(bool(e["depleted"]))
    r = np.asarray(returns, dtype=float)
    smooth = [float(r[max(0, i - window + 1):i + 1].mean()) for i in range(len(r))]
    return {"agent_steps": steps, "minutes": minutes, "per_capita_return": returns,
            "smoothed": smooth, "gini": gini, "depleted": depleted, "window": window}


def summarize(points: dict, baseline: float = RANDOM_BASELINE) -> dict:
    smooth = points["smoothed"]
    if not smooth:
        return {"episodes": 0}
    best = int(np.argmax(smooth))
    above = next((i for i, v in enumerate(smooth) if v > 1.25 * baseline
                  and i >= points["window"] - 1), None)
    last = slice(-points["window"], None)
    return {
        "episodes": len(smooth),
        "final_agent_steps": points["agent_steps"][-1],
        "final_minutes": round(points["minutes"][-1], 1),
        "final_per_capita_return": round(float(np.mean(points["per_capita_return"][last])), 2),
        "final_depleted_fraction": round(float(np.mean(points["depleted"][last])), 2),
        "final_gini": round(float(np.mean(points["gini"][last])), 3),
        "best_smoothed_per_capita_return": round(smooth[best], 2),
        "best_at_agent_steps": points["agent_steps"][best],
        "best_at_minutes": round(points["minutes"][best], 1),
        "first_above_1.25x_random": None if above is None else {
            "agent_steps": points["agent_steps"][above],
            "minutes": round(points["minutes"][above], 1)},
        "random_baseline": baseline,
    }


def plot(runs: dict[str, dict], path: str | Path, baseline: float = RANDOM_BASELINE) -> None:
    """Return against agent-steps (left) and wall-clock minutes (right); depletion below."""
    import matplotlib  # deferred: heavy, only to draw

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 7), sharex="col",
                             gridspec_kw={"height_ratios": [3, 1]})
    for column, (key, scale, label) in enumerate((("agent_steps", 1e6, "agent-steps (millions)"),
                                                   ("minutes", 1, "wall-clock minutes"))):
        ax, ax2 = axes[0, column], axes[1, column]
        for name, points in runs.items():
            x = np.asarray(points[key], dtype=float) / scale
            line, = ax.plot(x, points["smoothed"], label=name)
            ax.scatter(x, points["per_capita_return"], s=4, alpha=0.25, color=line.get_color())
            dep = np.asarray(points["depleted"], dtype=float)
            w = points["window"]
            ax2.plot(x, [dep[max(0, i - w + 1):i + 1].mean() for i in range(len(dep))],
                     color=line.get_color())
        ax.axhline(baseline, color="grey", linestyle="--", label=f"random play (~{baseline:.0f})")
        ax.set_ylabel("per-capita return (apples, unshaped)")
        ax.legend()
        ax2.set_ylabel("fully depleted")
        ax2.set_xlabel(label)
    fig.suptitle("commons_harvest__open: self-play PPO, training episodes "
                 f"(mean of the last {next(iter(runs.values()))['window'] if runs else 0})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def train_for(env: str, minutes: float, steps: int, out: Path, seed: int, ppo: dict,
              shaping: dict | None, envs_per_worker: int | None = None) -> dict:
    """Self-play on commons_harvest__open through `env` until `minutes` (or `steps`);
    `envs_per_worker` None: the engine's default round shape."""
    config = TrainConfig("commons_harvest__open", steps=steps, seed=seed, out=str(out), env=env,
                         ppo=PPOConfig(**ppo), shaping=shaping, envs_per_worker=envs_per_worker)
    started = time.perf_counter()
    report = train(config, lambda r: time.perf_counter() - started >= minutes * 60)
    batch = config.workers * config.envs_per_worker * config.rollout_length * 7
    return {"env": env, "batch_agent_steps": batch, "envs_per_worker": config.envs_per_worker,
            "agent_steps": report["agent_steps"], "wall_s": report["elapsed_s"],
            "agent_steps_per_s": report["agent_steps_per_s"],
            "checkpoint": report["checkpoints"]["m0"], "metrics": str(out / "metrics.jsonl")}


def evaluate_on_meltingpot(checkpoints: dict[str, str], episodes: int, seed: int) -> dict:
    """Each policy (and random play) in every seat of real commons_harvest__open."""
    ensure_ray()
    refs = [resolve(path) for path in checkpoints.values()] + [resolve("random")]
    labels = list(checkpoints) + ["random"]
    rows = evaluate(refs, "commons_harvest__open", [{}], episodes=episodes, seed=seed,
                    max_steps=None, env="meltingpot")
    out = {}
    for label, row in zip(labels, rows):
        values = np.array([e["per_capita_return"] for e in row["episodes"]], dtype=float)
        low, high = bootstrap_ci(values)
        out[label] = {"episodes": len(values), "per_capita_return": float(values.mean()),
                      "ci95": [low, high],
                      "depleted_fraction": float(np.mean([bool(e["depleted"]) for e in row["episodes"]])),
                      "gini": float(np.mean([e["gini"] for e in row["episodes"]]))}
    return out


def _pairs(items: tuple[str, ...]) -> dict:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = float(value) if any(c in value for c in ".e") else int(value)
    return out


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, help=__doc__)
@click.option("--env", "envs", default="fast,meltingpot", show_default=True,
              help="Engines to train through, one after the other, comma-separated.")
@click.option("--minutes", type=float, default=60.0, show_default=True,
              help="Wall-clock minutes of training per engine.")
@click.option("--steps", type=int, default=10**12, help="Stop earlier at this many agent-steps.")
@click.option("--ppo", multiple=True, metavar="KEY=VALUE")
@click.option("--shaping", multiple=True, metavar="COMPONENT=WEIGHT")
@click.option("--envs-per-worker", "envs_per_worker", default="",
              help="Comma-separated: one run per value and engine (batch = workers x this x "
                   "rollout length x 7 players); default: each engine's own round shape.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--episodes", type=int, default=15, show_default=True,
              help="Evaluation episodes per policy on real Melting Pot (0: none).")
@click.option("--metrics", multiple=True, metavar="[LABEL=]PATH",
              help="Plot existing metrics.jsonl files instead of training (repeatable).")
@click.option("--out", default="bench/learning", show_default=True)
def main(envs, minutes, steps, ppo, shaping, envs_per_worker, seed, episodes, metrics, out) -> None:
    os.makedirs(out, exist_ok=True)
    sources, trained = {}, {}
    for item in metrics:
        label, _, path = item.rpartition("=")
        sources[label or Path(path).parent.name] = path
    if not sources:
        shapes = [int(n) for n in envs_per_worker.split(",") if n.strip()] or [None]
        for env in envs.split(","):
            for n in shapes:
                label = f"trained on {env}" + ("" if n is None else f", {n} envs per worker")
                print(f"{label}: {minutes:g} minutes ...", flush=True)
                folder = Path(out) / (f"run-{env}" + ("" if n is None else f"-envs{n}"))
                trained[label] = train_for(env, minutes, steps, folder, seed, _pairs(ppo),
                                           _pairs(shaping) or None, n)
                sources[label] = trained[label]["metrics"]
                print(f"  {trained[label]['agent_steps']:,} agent-steps "
                      f"({trained[label]['agent_steps_per_s']:,.0f}/s), batch "
                      f"{trained[label]['batch_agent_steps']:,}", flush=True)
    runs = {label: curve(path) for label, path in sources.items()}
    report = {"sources": sources, "training": trained,
              "summary": {label: summarize(points) for label, points in runs.items()}}
    if trained and episodes:
        print(f"evaluating on real Melting Pot, {episodes} episodes each ...", flush=True)
        report["evaluation_on_meltingpot"] = evaluate_on_meltingpot(
            {label: t["checkpoint"] for label, t in trained.items()}, episodes, seed)
    plot(runs, Path(out) / "curve.png")
    with open(Path(out) / "learning.json", "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps({k: report[k] for k in ("summary", "evaluation_on_meltingpot") if k in report},
                     indent=2))


if __name__ == "__main__":
    main()
