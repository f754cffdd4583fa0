"""Do policies transfer between the fast commons_harvest and Melting Pot? (the fast env's
proof 5)

    scripts/bench_transfer [--steps 200000] [--episodes 30] [--out bench/transfer.json]

Trains one policy on the fast env and one on Melting Pot (same PPO settings, same agent-step
budget, self-play, `popbased train`'s code), then plays each, and random play, in every
seat on both engines over the same number of full episodes (`popbased evaluate`'s code).
For each policy it reports the per-capita return on each engine with its 95% bootstrap CI,
whether the real-Melting-Pot mean lies inside the fast-env CI, and a Welch t-test and a
Mann-Whitney U test of the two samples (H0: the same mean / distribution). Writes JSON and
a figure.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import click
import numpy as np

from popbased.evaluation.policies import resolve_all
from popbased.evaluation.run import evaluate
from popbased.evaluation.tables import bootstrap_ci
from popbased.rollout.cluster import ensure_ray
from popbased.run.train import train
from popbased.selfplay import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def _train(substrate: str, steps: int, env: str, out: Path, seed: int) -> tuple[str, float]:
    config = TrainConfig(substrate, {}, steps=steps, seed=seed, out=str(out), env=env)
    t0 = time.perf_counter()
    report = train(config)
    return report["checkpoints"]["m0"], time.perf_counter() - t0


def _compare(real: list[float], fast: list[float]) -> dict:
    from scipy import stats  # deferred: heavy, only to compare

    real_a, fast_a = np.asarray(real, float), np.asarray(fast, float)
    r_ci, f_ci = bootstrap_ci(real_a), bootstrap_ci(fast_a)
    welch = stats.ttest_ind(real_a, fast_a, equal_var=False)
    mwu = stats.mannwhitneyu(real_a, fast_a, alternative="two-sided")
    return {"meltingpot": {"mean": float(real_a.mean()), "ci": list(r_ci), "episodes": len(real)},
            "fast": {"mean": float(fast_a.mean()), "ci": list(f_ci), "episodes": len(fast)},
            "meltingpot_mean_in_fast_ci": bool(f_ci[0] <= real_a.mean() <= f_ci[1]),
            "welch_t": {"statistic": float(welch.statistic), "p": float(welch.pvalue)},
            "mann_whitney_u": {"statistic": float(mwu.statistic), "p": float(mwu.pvalue)}}


def _figure(results: dict, path: Path) -> None:
    import matplotlib  # deferred: heavy, only to draw

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, (engine, colour) in enumerate((("meltingpot", "#0072B2"), ("fast", "#E69F00"))):
        means = [results[n][engine]["mean"] for n in names]
        low = [results[n][engine]["mean"] - results[n][engine]["ci"][0] for n in names]
        high = [results[n][engine]["ci"][1] - results[n][engine]["mean"] for n in names]
        x = np.arange(len(names)) + (k - 0.5) * 0.35
        ax.bar(x, means, 0.35, yerr=[low, high], capsize=4, color=colour,
               label="Melting Pot" if engine == "meltingpot" else "fast env")
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylabel("per-capita return per episode")
    ax.set_title("the same policies on both engines (mean, 95% bootstrap CI)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@click.command()
@click.option("--substrate", default="open", show_default=True)
@click.option("--steps", default=200_000, show_default=True, type=click.IntRange(min=1000),
              help="Agent-steps each policy trains.")
@click.option("--episodes", default=30, show_default=True, type=click.IntRange(min=2),
              help="Full episodes per policy and engine.")
@click.option("--max-steps", default=None, type=click.IntRange(min=1),
              help="Cut episodes (default: the substrate's own ending).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--work", default=None, help="Folder for the checkpoints (default: runs/transfer-TIME).")
@click.option("--out", default=str(ROOT / "bench/transfer.json"), show_default=True)
def main(substrate, steps, episodes, max_steps, seed, work, out):
    work = Path(work or f"runs/transfer-{time.strftime('%Y%m%d-%H%M%S')}")
    ray_info = ensure_ray()
    trained = {}
    for env in ("fast", "meltingpot"):
        path, seconds = _train(substrate, steps, env, work / env, seed)
        trained[f"trained on {env}"] = {"checkpoint": path, "train_s": round(seconds, 1)}
        click.echo(f"trained on {env}: {steps:,} agent-steps in {seconds:.0f} s -> {path}", err=True)
    refs = resolve_all(["random"] + [t["checkpoint"] for t in trained.values()], None)
    labels = ["random"] + list(trained)
    returns: dict[str, dict[str, list[float]]] = {label: {} for label in labels}
    timing = {}
    for env in ("meltingpot", "fast"):
        t0 = time.perf_counter()
        played = evaluate(refs, substrate, [{}], episodes=episodes, seed=seed + 1000, max_steps=max_steps,
                          env=env)
        timing[env] = round(time.perf_counter() - t0, 1)
        for label, result in zip(labels, played):
            returns[label][env] = [e["per_capita_return"] for e in result["episodes"]]
    results = {label: _compare(r["meltingpot"], r["fast"]) for label, r in returns.items()}
    for label, info in trained.items():
        results[label].update(info)
    figure = Path(out).with_suffix(".png")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    _figure(results, figure)
    report = {"substrate": substrate, "train_agent_steps": steps, "episodes": episodes,
              "max_steps": max_steps, "seed": seed, "results": results,
              "evaluation_s": timing, "figure": str(figure), "returns": returns,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "ray_cpus": ray_info["cpus"]},
              "criterion": "a policy transfers when its Melting Pot mean lies in its fast-env 95% "
                           "bootstrap CI; Welch t and Mann-Whitney U test the two samples"}
    Path(out).write_text(json.dumps(report, indent=1) + "\n")
    for label, r in results.items():
        click.echo(f"{label}: Melting Pot {r['meltingpot']['mean']:.1f} {np.round(r['meltingpot']['ci'], 1)}, "
                   f"fast {r['fast']['mean']:.1f} {np.round(r['fast']['ci'], 1)}; in CI: "
                   f"{r['meltingpot_mean_in_fast_ci']}; Welch p={r['welch_t']['p']:.3f}, "
                   f"Mann-Whitney p={r['mann_whitney_u']['p']:.3f}")


if __name__ == "__main__":
    main()
