"""`popbased substrates validate NAME`: real Melting Pot against the fast env.

Writes DIR/report.json and figures (views.png, regrowth.png, episodes.png):
  views        fast views of recorded real states vs our Melting Pot views, per cell kind;
  transitions  fast steps from recorded states vs Melting Pot's next states;
  contention   who wins a contested cell, swaps (scripted two-player duel);
  regrowth     regrowth frequency per group vs p x factor, factors 0.01 .. 100;
  episodes     random play, N episodes per side, two-sample tests.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Callable

import numpy as np

from popbased.env.fast import capture, checks, stat_checks
from popbased.env.fast.maps import build_map
from popbased.errors import BadInput
from popbased.play import random_play
from popbased.textio import json_safe
from popbased.substrates import resolve, resolve_params
from popbased.substrates.params import CommonsParams

FACTORS = (0.01, 0.1, 1.0, 10.0, 100.0)


def run(name: str, params: dict | None = None, *, episodes: int = 30, seed: int = 0,
        record_steps: int = 500, record_seeds: int = 3, max_steps: int | None = None,
        regrowth_steps: int = 500, factors=FACTORS, out_dir: str | None = None, force: bool = False,
        progress: Callable[[str], None] | None = None) -> dict:
    """Runs every check on substrate `name`; writes the report to out_dir when given."""
    say = progress or (lambda msg: None)
    commons = resolve_params(name, params)
    if not isinstance(commons, CommonsParams):
        raise BadInput(f"substrate {name!r}: the fast env covers the commons_harvest family only")
    if out_dir is not None:
        if os.path.exists(out_dir) and os.listdir(out_dir) and not force:
            raise BadInput(f"-o {out_dir}: the folder exists and is not empty (--force overwrites)")
        os.makedirs(out_dir, exist_ok=True)
    spec = resolve(name, params)
    game = build_map(commons)
    table = capture.validation_spec(commons).action_table
    report = {"substrate": name, "params": dataclasses.asdict(commons), "seed": seed}
    start = time.perf_counter()

    say("views and transitions")
    view_runs, transition_runs = [], []
    for s in range(record_seeds):
        rec = capture.record(commons, game, record_steps, seed * 1000 + s)
        view_runs.append(checks.views(game, table, rec))
        transition_runs.append(checks.transitions(game, table, rec))
    report["views"] = _merge_views(view_runs)
    report["transitions"] = _merge_transitions(transition_runs)

    say("contention")
    report["contention"] = stat_checks.contention(steps=1000, seed=seed)

    say("regrowth")
    report["regrowth"] = [stat_checks.regrowth(dataclasses.replace(commons, regrowth=f * commons.regrowth),
                                               regrowth_steps,
                                               [seed * 1000 + 7], seed=seed) for f in factors]

    say(f"episodes: {episodes} per side")
    real = random_play(name, params, episodes=episodes, max_steps=max_steps, seed=seed)["episodes"]
    fast = stat_checks.fast_random_play(spec, episodes, max_steps, seed)
    report["episodes"] = stat_checks.compare_episodes(real, fast)
    report["episodes"]["tests"] = ("two-sided Welch t and Mann-Whitney U per metric; Fisher's exact "
                                   "test for the depleted fraction; Welch t for apples at each 100 steps")
    report["seconds"] = time.perf_counter() - start
    report = json_safe(report)
    if out_dir is not None:
        with open(os.path.join(out_dir, "report.json"), "w") as f:
            json.dump(report, f, indent=2)
        figures(report, real, fast, out_dir)
    return report


def _merge_views(runs: list[dict]) -> dict:
    out = {"cells": {}, "mismatches": {}, "total_cells": 0, "total_mismatches": 0,
           "apples_in_view_mismatches": 0, "states": 0}
    for r in runs:
        for key in ("cells", "mismatches"):
            for kind, n in r[key].items():
                out[key][kind] = out[key].get(kind, 0) + n
        for key in ("total_cells", "total_mismatches", "apples_in_view_mismatches", "states"):
            out[key] += r[key]
    return out


def _merge_transitions(runs: list[dict]) -> dict:
    compared = sum(r["compared_steps"] for r in runs)
    agreement = {}
    for name in checks.FIELDS:
        agreed = sum((r["agreement"][name] or 0) * r["compared_steps"] for r in runs)
        agreement[name] = agreed / compared if compared else None
    events = {k: sum(r["events"][k] for r in runs) for k in runs[0]["events"]}
    return {"steps": sum(r["steps"] for r in runs), "contended_steps": sum(r["contended_steps"] for r in runs),
            "compared_steps": compared, "agreement": agreement, "events": events,
            "mismatched_step_count": sum(r["mismatched_step_count"] for r in runs),
            "mismatched_steps": [m for r in runs for m in r["mismatched_steps"]][:20]}


def figures(report: dict, real: list[dict], fast: list[dict], out_dir: str) -> None:
    import matplotlib  # deferred: heavy, only for the figures

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    views = report["views"]
    kinds = sorted(views["cells"])
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(kinds, [views["cells"][k] for k in kinds], color="#0072B2", label="cells compared")
    ax.bar(kinds, [views["mismatches"].get(k, 0) for k in kinds], color="#D55E00", label="mismatches")
    ax.set_yscale("log")
    ax.set_title(f"views: {views['total_mismatches']} mismatches in {views['total_cells']} cells")
    ax.tick_params(axis="x", rotation=60)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "views.png"), dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(report["regrowth"]), figsize=(3.2 * len(report["regrowth"]), 3.2),
                             squeeze=False)
    for ax, r in zip(axes[0], report["regrowth"]):
        for side, colour, dx in (("melting_pot", "#0072B2", -0.15), ("fast", "#E69F00", 0.15)):
            ks = [g["group"] for g in r["groups"] if side in g]
            freq = [g[side]["frequency"] for g in r["groups"] if side in g]
            lo = [g[side]["frequency"] - g[side]["ci95"][0] for g in r["groups"] if side in g]
            hi = [g[side]["ci95"][1] - g[side]["frequency"] for g in r["groups"] if side in g]
            ax.errorbar(np.array(ks) + dx, freq, yerr=[lo, hi], fmt="o", color=colour, label=side, ms=3)
        ax.plot(range(13), [g["p"] for g in r["groups"]], "k_", ms=10, label="p x factor")
        ax.set_title(f"factor {r['factor']:g}")
        ax.set_xlabel("group (lagged live neighbours)")
    axes[0][0].set_ylabel("regrowth frequency")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "regrowth.png"), dpi=120)
    plt.close(fig)

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    rows = report["episodes"]["apples_over_time"]
    steps = [r["step"] for r in rows]
    a1.plot(steps, [r["melting_pot_mean"] for r in rows], "o-", color="#0072B2", label="Melting Pot")
    a1.plot(steps, [r["fast_mean"] for r in rows], "s--", color="#E69F00", label="fast")
    a1.set_xlabel("step")
    a1.set_ylabel("apples on the map (mean)")
    a1.legend()
    a2.hist([[e["per_capita_return"] for e in real], [e["per_capita_return"] for e in fast]],
            label=["Melting Pot", "fast"], color=["#0072B2", "#E69F00"])
    a2.set_xlabel("per-capita return")
    a2.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "episodes.png"), dpi=120)
    plt.close(fig)
