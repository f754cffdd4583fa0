"""Is a run's fitness a stable measurement? (part of `popbased experiment selection`)

PBT copies a member when its fitness ranks it below another's. If the fitness measured real
differences, two members that both kept their weights through a PBT step would mostly keep
their order in the next generation too (they train on, so some changes are real). This reads
each run's lineage (every PBT step's fitness per member) and gives, per arm:
- `same_order`: over every pair of members that both kept their weights at one step and were
  measured again at the next, the share whose fitness order held (0.5: a coin; ties left out).
  The lowest-ranked member at each step is left out in every arm, PBT or not: truncation
  copies into it, so PBT's pairs never hold it, and random search's must not either for the two
  to be read alike. Pairs are within one population (a league's lineage holds several);
- `copies` out of `steps`: the PBT steps that copied a donor (its weights and genes, or with
  `[pbt] inherit = "genes"` its genes only), of all the members' steps; only members that kept
  both weights and genes make pairs.
- `two_generations`: would ranking by the mean of a member's last two generations predict the
  next order better? Over the pairs that kept their weights through both of those steps (the
  lowest at the second left out), the share whose next order the last generation's fitness
  predicted (`last`) and the share the two generations' mean predicted (`mean_of_two`), on the
  same pairs (ties either way left out).
Where the pairs' order holds about half the time, the copies follow noise, or standings that
do not last.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path
from typing import Any

from popbased.population.lineage import LineageLog

STEPS = ("keep", "exploit", "adopt")
"""The events that close a member's generation with its fitness (explore follows an exploit)."""


def _lineages(folder: Path) -> Path | None:
    for place in (folder / "state" / "lineage", folder / "lineage"):
        if place.is_dir():
            return place
    return None


def _population(member: str) -> str:
    """A league member's population ('open/m0' -> 'open'); '' in a PBT run."""
    return member.rpartition("/")[0]


def run(path: Path) -> dict[str, int]:
    """One run's pairs (and how many kept their order), copies and steps."""
    fitness: dict[int, dict[str, float]] = defaultdict(dict)
    kept: dict[int, set[str]] = defaultdict(set)
    copies = steps = 0
    for e in LineageLog(path).events:
        if e.kind not in STEPS:
            continue
        steps += 1
        copies += e.kind in ("exploit", "adopt")
        if e.fitness is not None:
            fitness[e.generation][e.member] = e.fitness
        if e.kind == "keep":
            kept[e.generation].add(e.member)
    pairs = same = window = last = mean = 0
    for g in sorted(fitness):
        before_that, now, later = fitness.get(g - 1, {}), fitness[g], fitness.get(g + 1, {})
        for population in {_population(m) for m in now}:
            ranked = sorted((m for m in now if _population(m) == population), key=now.get)
            both = sorted(m for m in ranked[1:] if m in kept[g] and m in later)  # not the lowest
            for x, y in itertools.combinations(both, 2):
                before, after = now[x] - now[y], later[x] - later[y]
                if before and after:
                    pairs += 1
                    same += (before > 0) == (after > 0)
                if not (x in kept[g - 1] and y in kept[g - 1] and x in before_that and y in before_that):
                    continue
                two = before + before_that[x] - before_that[y]
                if before and two and after:
                    window += 1
                    last += (before > 0) == (after > 0)
                    mean += (two > 0) == (after > 0)
    return {"pairs": pairs, "same_order": same, "copies": copies, "steps": steps,
            "window_pairs": window, "window_last": last, "window_mean": mean}


def repeatability(folder: str | Path) -> dict[str, dict[str, Any]]:
    """Per arm with kept lineages: {runs, pairs, same_order (a share, None without pairs),
    copies, steps}; {} where the folder keeps none."""
    place = _lineages(Path(folder))
    if place is None:
        return {}
    out = {}
    for arm in sorted(p for p in place.iterdir() if p.is_dir()):
        counts = [run(f) for f in sorted(arm.glob("seed-*.jsonl"))]
        if not counts:
            continue
        total = {k: sum(c[k] for c in counts) for k in counts[0]}
        n = total["window_pairs"]
        out[arm.name] = {"runs": len(counts), "pairs": total["pairs"],
                         "same_order": total["same_order"] / total["pairs"] if total["pairs"] else None,
                         "copies": total["copies"], "steps": total["steps"],
                         "two_generations": {"pairs": n,
                                             "last": total["window_last"] / n if n else None,
                                             "mean_of_two": total["window_mean"] / n if n else None}}
    return out
