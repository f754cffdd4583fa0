"""Learning curve: per-capita return (unshaped harvest) against agent-steps, with the
random baseline, from a training run's metrics.jsonl; optionally runs the training first.

    python -m popbased.bench.learning --steps 3000000 --out bench/learning   # train, then plot
    python -m popbased.bench.learning --metrics runs/x/metrics.jsonl --out bench/learning
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

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
        "first_above_1.25x_random": None if above is None else {
            "agent_steps": points["agent_steps"][above],
            "minutes": round(points["minutes"][above], 1)},
        "random_baseline": baseline,
    }


def plot(runs: dict[str, dict], path: str | Path, baseline: float = RANDOM_BASELINE) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(8, 7), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1]})
    for label, points in runs.items():
        x = np.asarray(points["agent_steps"]) / 1e6
        line, = ax.plot(x, points["smoothed"], label=label)
        ax.scatter(x, points["per_capita_return"], s=4, alpha=0.25, color=line.get_color())
        dep = np.asarray(points["depleted"], dtype=float)
        w = points["window"]
        ax2.plot(x, [dep[max(0, i - w + 1):i + 1].mean() for i in range(len(dep))],
                 color=line.get_color())
    ax.axhline(baseline, color="grey", linestyle="--", label=f"random play (~{baseline:.0f})")
    ax.set_ylabel("per-capita return (apples, unshaped)")
    ax.set_title("commons_harvest__open: self-play PPO")
    ax.legend()
    ax2.set_ylabel("fully depleted")
    ax2.set_xlabel("agent-steps (millions)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench_learning", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics", action="append", default=[], metavar="[LABEL=]PATH",
                        help="existing metrics.jsonl (repeatable); without it, train first")
    parser.add_argument("--steps", type=int, default=3_000_000)
    parser.add_argument("--ppo", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--shaping", action="append", default=[], metavar="COMPONENT=WEIGHT")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="bench/learning")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    sources = {}
    for item in args.metrics:
        label, _, path = item.rpartition("=")
        sources[label or Path(path).parent.name] = path
    if not sources:
        from click.testing import CliRunner  # the real entry point, as a user runs it

        from popbased.cli import cli

        run_dir = Path(args.out) / "run"
        cmd = ["train", "commons_harvest__open", "--steps", str(args.steps), "--seed",
               str(args.seed), "--out", str(run_dir)]
        for p in args.ppo:
            cmd += ["--ppo", p]
        for s in args.shaping:
            cmd += ["--shaping", s]
        result = CliRunner().invoke(cli, cmd, catch_exceptions=False)
        if result.exit_code:
            raise SystemExit(result.output)
        sources["self-play"] = str(run_dir / "metrics.jsonl")
    runs = {label: curve(path) for label, path in sources.items()}
    report = {label: summarize(points) for label, points in runs.items()}
    plot(runs, Path(args.out) / "curve.png")
    with open(Path(args.out) / "learning.json", "w") as f:
        json.dump({"sources": sources, "summary": report}, f, indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
