"""A budget trend (`popbased experiment trend LABEL=RESULTS:ARM ...`): arms of experiments
that trained the same way at different agent-steps per run, read as series (e.g. `evolved` at
4M and 8M, `random search` at 4M and 8M), each point an arm's IQM across its seeds with its
95% stratified-bootstrap CI, and at every budget two or more series share, P(X > Y) between
them. Nothing is replayed: the runs' scores come from the summaries (popbased.experiment.
compare.load), and every experiment must have been evaluated alike (compare.ALIKE) so that its
scores compare; the budgets are what may differ.

The score is per-capita return per 1,000 steps on real Melting Pot; the normalised score is
each experiment's own (its random play and reference, on the same episode seeds), drawn when
every point has it."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Sequence

from popbased.errors import BadInput
from popbased.experiment import stats
from popbased.experiment.compare import ALIKE, agent_steps_per_run, load

METRIC = ("score: per-capita return per 1,000 steps on real Melting Pot, each run's mean over "
          "its evaluation episodes")


def _series(spec: str) -> tuple[str, str]:
    label, sep, ref = spec.partition("=")
    if not sep or not label.strip() or not ref:
        raise BadInput(f"{spec!r}: expected LABEL=RESULTS:ARM, e.g. "
                       f"evolved=results/social-budget:evolve_social_8m")
    return label.strip(), ref


def _iqm(values: Sequence[float], reps: dict) -> dict[str, float]:
    return stats.aggregate({"x": list(values)}, **reps.get("aggregate", {}))["x"]["iqm"].as_dict()


def trend(specs: Sequence[str], reps: dict | None = None) -> dict[str, Any]:
    """The series named by `specs` (LABEL=RESULTS:ARM, any order), their points by budget and
    P(X > Y) at each shared budget (the score; X before Y in the order the series were named)."""
    reps = reps or {}
    refs = [_series(s) for s in specs]
    if len(refs) < 2:
        raise BadInput("a trend needs at least two points (LABEL=RESULTS:ARM ...), e.g. the same "
                       "arm at two budgets")
    loaded = [(label, ref, *load(ref)) for label, ref in refs]
    _, first_ref, first, _, _ = loaded[0]
    seen: dict[str, set] = {}
    per_run = [agent_steps_per_run(summary, arm) for _, _, summary, arm, _ in loaded]  # agent-steps per run
    for (label, ref, summary, arm, _), budget in zip(loaded, per_run):  # checked before any statistics
        differ = [k for k in ALIKE if summary.get(k) != first.get(k)]
        if differ:
            shown = "; ".join(f"{k}: {first.get(k)!r} vs {summary.get(k)!r}" for k in differ)
            raise BadInput(f"{first_ref} and {ref} were not evaluated alike ({shown}); allowed: "
                           f"arms of experiments with the same {', '.join(ALIKE)}")
        if budget in seen.setdefault(label, set()):
            raise BadInput(f"{label}={ref}: series {label!r} already has a point at {budget:,} "
                           f"agent-steps per run; one point per budget in a series")
        seen[label].add(budget)
    series: dict[str, list[dict]] = {}
    for (label, ref, summary, arm, path), budget in zip(loaded, per_run):
        runs = summary["arms"][arm]["runs"]
        scores = [r["score"] for r in runs.values()]
        normalised = [r.get("normalised") for r in runs.values()]
        known = bool(normalised) and all(v is not None for v in normalised)
        series.setdefault(label, []).append({
            "ref": ref, "summary": str(path), "experiment": summary.get("experiment"), "arm": arm,
            "agent_steps": budget, "seeds": [int(s) for s in runs], "scores": scores,
            "score_iqm": _iqm(scores, reps),
            "normalised": normalised if known else None,
            "normalised_iqm": _iqm(normalised, reps) if known else None})
    for points in series.values():
        points.sort(key=lambda p: p["agent_steps"])
    compared = []
    budgets = sorted({p["agent_steps"] for points in series.values() for p in points})
    for budget in budgets:
        here = {label: p for label, points in series.items() for p in points if p["agent_steps"] == budget}
        for x, y in itertools.combinations(here, 2):
            scores = {x: here[x]["scores"], y: here[y]["scores"]}
            poi = stats.probability_of_improvement(scores, [(x, y)], **reps.get("poi", {}))[(x, y)]
            compared.append({"agent_steps": budget, "x": x, "y": y,
                             "probability_of_improvement": poi.as_dict()})
    return {"metric": METRIC, "evaluated_alike": {k: first.get(k) for k in ALIKE},
            "series": series, "compared": compared,
            "note": "each point: an arm's IQM across its seeds (independent training runs), 95% "
                    "stratified-bootstrap CI; P(X > Y) between series at the same budget"}


def figure(made: dict[str, Any], path: str | Path) -> Path:
    """The trend drawn: each series' IQM (normalised where every point has it, else the score)
    against agent-steps per run, with its CI."""
    import matplotlib  # deferred: heavy, only to draw

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from popbased.evaluation.plots import OKABE_ITO

    points = [p for s in made["series"].values() for p in s]
    key = "normalised_iqm" if all(p["normalised_iqm"] for p in points) else "score_iqm"
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    labels = list(made["series"])
    for i, label in enumerate(labels):
        series = made["series"][label]
        x = [p["agent_steps"] / 1e6 * (1 + 0.02 * (i - (len(labels) - 1) / 2)) for p in series]
        y = [p[key]["point"] for p in series]
        err = [[p[key]["point"] - p[key]["low"] for p in series], [p[key]["high"] - p[key]["point"] for p in series]]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, color=OKABE_ITO[i % len(OKABE_ITO)], label=label)
    ax.set_xscale("log", base=2)
    ticks = sorted({p["agent_steps"] / 1e6 for p in points})
    ax.set_xticks(ticks, [f"{t:g}M" for t in ticks])
    ax.minorticks_off()
    ax.axhline(0, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="agent-steps per run", ylabel=("normalised score (0 = random, 1 = reference)"
                                                 if key == "normalised_iqm" else "score per 1,000 steps"),
           title="IQM across seeds, 95% CI")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
