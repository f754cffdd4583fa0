"""Did the fitness a champion was chosen by predict its score on Melting Pot? (`popbased
experiment selection RESULTS`)

A PBT or random-search run picks its champion by a training fitness measured on the fast env
(its per-capita return, or welfare, in the last generation's episodes); the report scores that
champion on real Melting Pot. If the fitness were a good measurement, runs whose champions had
a higher fitness would score higher. Across an experiment's runs (every arm with exported
champions), this reads each champion's fitness and objectives from its export (policy.json)
beside its scores from the summary, and gives Spearman's rank correlation (scipy) of:
- the fitness against the normalised score (or the score where the experiment has no reference);
- each objective the fitness is built from (return, sustainability = 1 - the fraction of its
  episodes depleted, equality = 1 - Gini) against the matching Melting Pot measure (score,
  1 - the fraction of episodes depleted by the world count, the run's score again for equality).
Within runs, where their lineages are kept: whether the fitness ranks members the same way
from one generation to the next (popbased.experiment.repeatability).
Across runs, not within one: a run's other members were not scored on Melting Pot, so this
says whether the measurement tracks what is scored, not whether each run picked its best member.
Nothing is replayed."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from popbased.errors import BadInput

PAIRS = (("fitness", "normalised"), ("return", "score"), ("sustainability", "kept_world"),
         ("equality", "score"))
"""(training measure, Melting Pot measure) pairs correlated across runs."""


def _champions(folder: Path) -> Path:
    for place in (folder / "state" / "champions", folder / "champions"):
        if place.is_dir():
            return place
    raise BadInput(f"{folder}: no champions/ or state/champions/ inside (an experiment's results "
                   f"folder or run folder with exported PBT champions)")


def rows(folder: str | Path) -> list[dict[str, Any]]:
    """One row per (arm, seed) with an exported champion and a Melting Pot score."""
    folder = Path(folder)
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except FileNotFoundError:
        raise BadInput(f"{folder}: no summary.json (`popbased experiment run` writes it)") from None
    out = []
    for arm_folder in sorted(_champions(folder).iterdir()):
        runs = summary.get("arms", {}).get(arm_folder.name, {}).get("runs", {})
        for seed_folder in sorted(arm_folder.glob("seed-*")):
            seed = seed_folder.name.removeprefix("seed-")
            exported = sorted(seed_folder.glob("*/policy.json"))
            if seed not in runs or not exported:
                continue
            policy, run = json.loads(exported[0].read_text()), runs[seed]
            out.append({"arm": arm_folder.name, "seed": int(seed), "member": policy.get("member"),
                        "fitness": policy.get("fitness"), **(policy.get("objectives") or {}),
                        "score": run.get("score"), "normalised": run.get("normalised"),
                        "kept_world": 1 - run["depletion"]["world"] if run.get("depletion") else None})
    return out


def spearman(xs: list[float], ys: list[float]) -> dict[str, Any] | None:
    """Spearman's rho and its two-sided p over the pairs where both are numbers (None under 3)."""
    from scipy.stats import spearmanr

    pairs = [(x, y) for x, y in zip(xs, ys) if _number(x) and _number(y)]
    if len(pairs) < 3:
        return None
    if len({p[0] for p in pairs}) < 2 or len({p[1] for p in pairs}) < 2:
        return {"rho": None, "p": None, "runs": len(pairs), "constant": True}  # rho undefined
    result = spearmanr([p[0] for p in pairs], [p[1] for p in pairs])
    rho, p = float(result.statistic), float(result.pvalue)
    return {"rho": None if math.isnan(rho) else rho, "p": None if math.isnan(p) else p, "runs": len(pairs)}


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not math.isnan(v)


def selection(folder: str | Path) -> dict[str, Any]:
    """The rows and, across all of them and per arm, the correlations of PAIRS."""
    found = rows(folder)
    if not found:
        raise BadInput(f"{folder}: no run has both an exported champion and a Melting Pot score yet")
    if all(r["normalised"] is None for r in found):
        pairs = tuple((a, "score" if b == "normalised" else b) for a, b in PAIRS)
    else:
        pairs = PAIRS

    def table(chosen):
        return {f"{a} vs {b}": spearman([r.get(a) for r in chosen], [r.get(b) for r in chosen])
                for a, b in pairs}

    arms = sorted({r["arm"] for r in found})
    from popbased.experiment.repeatability import repeatability  # the runs' lineages

    return {"folder": Path(folder).name,
            "metric": "Spearman's rank correlation across runs of a champion's training measure "
                      "(fast env, its last generation) and its Melting Pot measure (the summary's)",
            "rows": found, "all": table(found),
            "arms": {a: table([r for r in found if r["arm"] == a]) for a in arms},
            "repeatability": repeatability(folder)}
