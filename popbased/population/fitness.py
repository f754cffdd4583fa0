"""Fitness: what PBT ranks members by, from what they did since their last PBT step.

Objectives, each a list of samples per member:
- `return`: the member's unshaped harvest per 1,000 agent-steps (one sample per seat per
  fragment it played). Seats are reshuffled every fragment, so an episode's return mixes
  several members; the per-step rate over the member's own seat-steps is its exact share.
  1,000 steps is the length of a commons_harvest episode, so the numbers read like
  per-capita episode returns.
- `sustainability`: 1 - depleted (one sample per episode that ended with the member seated;
  the world's own apple count decides depletion).
- `equality`: 1 - Gini of the episode's returns (same episodes).

With `unit="episode"` ([pbt] samples = "episode", world seating: every episode one member's),
one sample of each objective per episode the member played instead (an episode begun before
PBT copied a donor into the member is left out: its first part was the old weights'): its
seats' return per 1,000 steps over the episode, and `welfare` (below) of that episode as a
fourth objective;
independent samples, so the exploit's Welch test means what it says (per-fragment samples
are not: the seats of a world and the fragments of an episode move together).

`scores` turns them into one fitness per member; `pareto` ranks by Pareto fronts over the
three (EvoTorch's pareto_utility: better front first, then less crowded); `welfare` is one
number valuing all three: return x equality x (1 + sustainability) / 2, i.e. the harvest,
discounted by its Gini, and halved when every episode ends with the orchard dead.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch

OBJECTIVES = ("return", "sustainability", "equality")
RATE_STEPS = 1000


UNITS = ("fragment", "episode")


class FitnessTracker:
    def __init__(self, members: Iterable[str], components: Sequence[str], extra: Sequence[str] = (),
                 unit: str = "fragment", uid: Callable[[str], Any] | None = None):
        """extra: further objectives whose samples the caller adds (the league's `league`);
        unit: what one sample is (module docstring); uid: a member's current learner uid, to
        leave out the episodes that began before PBT copied a donor into it (their match
        carries the uid they began with)."""
        if unit not in UNITS:
            raise ValueError(f"unit={unit!r}; allowed: {', '.join(UNITS)}")
        self.reward_index = list(components).index("reward")
        self.unit, self.uid = unit, uid
        self.objectives = OBJECTIVES + (("welfare",) if unit == "episode" else ()) + tuple(extra)
        self.samples: dict[str, dict[str, list[float]]] = {m: self._empty() for m in members}

    def _empty(self) -> dict[str, list[float]]:
        return {k: [] for k in self.objectives}

    def add(self, fragment) -> None:
        """A gathered fragment (Session.round's); batches dropped as stale are skipped."""
        dropped = set(fragment.dropped)
        if self.unit == "episode":
            for episode in fragment.episodes:
                self._add_episode(episode, dropped)
            return
        for m, batch in fragment.batches.items():
            if m in dropped or m not in self.samples:
                continue
            rate = batch.rewards[..., self.reward_index].mean(axis=0) * RATE_STEPS
            self.samples[m]["return"].extend(float(r) for r in rate)
        for episode in fragment.episodes:
            for m in set(episode["members"]) - dropped:
                if m not in self.samples:  # a frozen snapshot or a scripted player
                    continue
                if episode.get("depleted") is not None:
                    self.samples[m]["sustainability"].append(1.0 - float(episode["depleted"]))
                self.samples[m]["equality"].append(1.0 - float(episode["gini"]))

    def _add_episode(self, episode: Mapping, dropped: set) -> None:
        """One sample of each objective for each member that played the episode."""
        members = list(episode["members"])
        returns = np.asarray(episode["returns"], dtype=float)
        match = episode.get("match")
        for m in set(members) - dropped:
            if m not in self.samples:  # a frozen snapshot or a scripted player
                continue
            if (self.uid is not None and isinstance(match, (tuple, list)) and len(match) == 2
                    and match[1] != self.uid(m)):
                continue  # begun by weights PBT has since replaced: not this member's episode
            seats = [i for i, s in enumerate(members) if s == m]
            one = {"return": float(returns[seats].mean()) / max(1, episode["steps"]) * RATE_STEPS,
                   "equality": 1.0 - float(episode["gini"])}
            if episode.get("depleted") is not None:
                one["sustainability"] = 1.0 - float(episode["depleted"])
                one["welfare"] = welfare(one)
            for k, v in one.items():
                if math.isfinite(v):
                    self.samples[m][k].append(v)

    def reset(self, member: str) -> None:
        self.samples[member] = self._empty()

    def means(self, member: str) -> dict[str, float]:
        return {k: float(np.mean(v)) if v else math.nan for k, v in self.samples[member].items()}


def welfare(means: Mapping[str, float]) -> float:
    """return x equality x (1 + sustainability) / 2 (NaN when one of them has no samples)."""
    return means["return"] * means["equality"] * (1.0 + means["sustainability"]) / 2.0


def scores(means: Mapping[str, Mapping[str, float]], kind: str) -> dict[str, float]:
    """member -> fitness (higher is better; NaN where the member has no samples)."""
    if kind == "welfare":  # the mean of episodes' welfare where it was sampled per episode
        return {m: v["welfare"] if "welfare" in v else welfare(v) for m, v in means.items()}
    if kind != "pareto":
        return {m: v[kind] for m, v in means.items()}
    with warnings.catch_warnings():  # evotorch's torch.jit.script use warns on import
        warnings.simplefilter("ignore", DeprecationWarning)
        # deferred: EvoTorch is slow to import (it imports Ray), and only Pareto fitness needs it
        from evotorch.operators.functional import pareto_utility

    names = list(means)
    evals = torch.tensor([[means[m][k] for k in OBJECTIVES] for m in names], dtype=torch.float64)
    known = ~torch.isnan(evals).any(dim=1)
    out = {m: math.nan for m in names}
    if int(known.sum()) == 0:
        return out
    utility = pareto_utility(evals[known], objective_sense=["max"] * len(OBJECTIVES))
    for m, u in zip([n for n, k in zip(names, known) if k], utility.tolist()):
        out[m] = float(u)
    return out


def dominates(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """a is at least as good in every objective and better in one (means)."""
    pairs = [(a[k], b[k]) for k in OBJECTIVES]
    if any(math.isnan(x) or math.isnan(y) for x, y in pairs):
        return False
    return all(x >= y for x, y in pairs) and any(x > y for x, y in pairs)


def better(donor: Sequence[float], recipient: Sequence[float], confidence: float,
           min_samples: int) -> tuple[bool, str]:
    """Is the donor's mean meaningfully above the recipient's? One-sided Welch t-test."""
    if len(donor) < min_samples or len(recipient) < min_samples:
        return False, f"too few samples ({len(donor)} vs {len(recipient)}, need {min_samples})"
    gap = float(np.mean(donor) - np.mean(recipient))
    if not math.isfinite(gap):
        return False, f"no finite gap ({gap})"
    if gap <= 0:
        return False, f"not better (gap {gap:.3g})"
    if confidence <= 0:
        return True, f"gap {gap:.3g}"
    from scipy.stats import ttest_ind  # deferred: heavy, only for a confidence test

    p = float(ttest_ind(donor, recipient, equal_var=False, alternative="greater").pvalue)
    if math.isnan(p):  # both constant: the gap is exact
        return True, f"gap {gap:.3g} (no variance)"
    if p < 1 - confidence:
        return True, f"gap {gap:.3g}, p={p:.2g}"
    return False, f"gap {gap:.3g} not significant (p={p:.2g} >= {1 - confidence:.2g})"
