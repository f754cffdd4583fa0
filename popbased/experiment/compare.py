"""Arms of two experiments compared (`popbased experiment compare A:ARM B:ARM`): an arm is
run in one experiment, a fix for it often in a later one (fresh seeds, so that the seeds a
choice was made on are not the ones it is tested on). Across the two, the runs are still
independent training runs scored the same way, so the same statistics apply: each arm's IQM
across its seeds and P(X > Y), from the two reports' summary.json (nothing is replayed).

Comparable means evaluated alike: the same substrate, episode count, episode seeds, episode
cap and reference, and the same training budget per run; anything else is one line of bad
input naming what differs. `across_budgets` lets the budgets differ (a budget trend: the same
arm trained longer); both budgets are then part of the comparison. The score compared is per-capita return per 1,000 steps on real
Melting Pot (each run's own mean over its episodes); the normalised score is shown beside it,
each arm normalised by its own experiment's random and reference evaluations (two measurements
of the same two policies on the same episode seeds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from popbased.errors import BadInput
from popbased.experiment import stats

ALIKE = ("substrate", "episodes", "eval_seed", "max_episode_steps", "reference_policy")
"""What two experiments must share for their runs' scores to compare (besides the budget)."""


def load(ref: str) -> tuple[dict[str, Any], str, Path]:
    """`RESULTS:ARM` (a results folder or its summary.json, then the arm's name as its report
    names it, e.g. `pbt` or `pbt (population)`) -> (the summary, the arm, the file)."""
    where, sep, arm = ref.rpartition(":")
    if not sep or not where or not arm:
        raise BadInput(f"{ref!r}: expected RESULTS:ARM, e.g. results/pbt-vs-random-search:pbt")
    path = Path(where)
    path = path / "summary.json" if path.is_dir() else path
    try:
        summary = json.loads(path.read_text())
    except FileNotFoundError:
        raise BadInput(f"{ref!r}: {path} does not exist (an experiment's results folder holds "
                       f"summary.json; `popbased experiment run` writes it)") from None
    except (OSError, ValueError) as err:
        raise BadInput(f"{ref!r}: {path} is not an experiment's summary ({err})") from None
    arms = summary.get("arms") if isinstance(summary, dict) else None
    if not isinstance(arms, dict):
        raise BadInput(f"{ref!r}: {path} is not an experiment's summary (no arms)")
    if arm not in arms:
        raise BadInput(f"{ref!r}: no arm {arm!r} in {path}; allowed: {', '.join(arms)}")
    if not arms[arm].get("runs"):
        raise BadInput(f"{ref!r}: arm {arm!r} has no finished run in {path}")
    return summary, arm, path


def agent_steps_per_run(summary: dict, arm: str) -> Any:
    return summary["arms"][arm].get("agent_steps", summary.get("agent_steps"))


def compare(x_ref: str, y_ref: str, reps: dict | None = None,
            across_budgets: bool = False) -> dict[str, Any]:
    """X's and Y's runs, each arm's IQM (score and normalised) and P(X > Y) on the score."""
    reps = reps or {}
    (sx, ax, px), (sy, ay, py) = load(x_ref), load(y_ref)
    bx, by = agent_steps_per_run(sx, ax), agent_steps_per_run(sy, ay)
    differ = [k for k in ALIKE if sx.get(k) != sy.get(k)]
    if bx != by and not across_budgets:
        differ.append("agent_steps")
    if differ:
        shown = "; ".join(f"{k}: {sx.get(k) if k != 'agent_steps' else bx!r} vs "
                          f"{sy.get(k) if k != 'agent_steps' else by!r}" for k in differ)
        allowed = "" if across_budgets else " and agent_steps per run (--across-budgets: any)"
        raise BadInput(f"{x_ref} and {y_ref} were not evaluated alike ({shown}); allowed: arms of "
                       f"experiments with the same {', '.join(ALIKE)}{allowed}")
    labels = (f"{sx['experiment']}:{ax}", f"{sy['experiment']}:{ay}")
    if labels[0] == labels[1]:
        raise BadInput(f"{x_ref} and {y_ref} are the same arm; give two")
    runs = {labels[0]: sx["arms"][ax]["runs"], labels[1]: sy["arms"][ay]["runs"]}
    scores = {k: [r["score"] for r in v.values()] for k, v in runs.items()}
    normalised = {k: [r.get("normalised") for r in v.values()] for k, v in runs.items()}
    arms = {}
    for (label, summary, arm, path) in ((labels[0], sx, ax, px), (labels[1], sy, ay, py)):
        iqm = stats.aggregate({label: scores[label]}, **reps.get("aggregate", {}))[label]["iqm"]
        values = normalised[label]
        norm = (stats.aggregate({label: values}, **reps.get("aggregate", {}))[label]["iqm"].as_dict()
                if values and all(v is not None for v in values) else None)
        arms[label] = {"summary": str(path), "arm": arm, "seeds": [int(s) for s in runs[label]],
                       "agent_steps": agent_steps_per_run(summary, arm),
                       "scores": scores[label], "score_iqm": iqm.as_dict(), "normalised_iqm": norm,
                       "definition": summary["arms"][arm].get("definition"),
                       "baselines": {k: v.get("score") for k, v in (summary.get("baselines") or {}).items()}}
    poi = stats.probability_of_improvement(scores, [labels], **reps.get("poi", {}))[labels]
    shared = sorted(set(arms[labels[0]]["seeds"]) & set(arms[labels[1]]["seeds"]))
    return {"x": labels[0], "y": labels[1], "metric": "score: per-capita return per 1,000 steps on "
            "real Melting Pot, each run's mean over its evaluation episodes",
            "evaluated_alike": {k: sx.get(k) for k in ALIKE} | (
                {} if bx != by else {"agent_steps": bx}),
            "arms": arms, "probability_of_improvement": poi.as_dict(),
            "note": "independent runs of two experiments; seeds both used: "
                    f"{shared if shared else 'none'}"}
