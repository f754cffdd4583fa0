"""The study's metrics, computed from the world while an episode runs.

Definitions (per episode; "returns" are the substrate's own reward, never shaped):
- per_capita_return: mean of the players' returns.
- gini: Gini coefficient of the players' returns, sum|x_i - x_j| / (2 n^2 mean);
  0 when all are equal, NaN when the mean is <= 0 and they differ.
- apples_eaten: `edible_consumed` events per player.
- zaps_fired: beams fired (hit or miss), from the Zapper's cooldown timer (popbased's
  ZapCounter observer); zap_hits / zapped: `zap` events by source / target.
- useful_zaps: zap hits on a player who ate an apple within the last
  `useful_zap_window` steps (this step included): punishment that lands on harvesters.
- apples: live apples on the map, read from the world (WORLD.APPLES) every step.
- depleted / depletion_step: whether, and at which step, the last apple went (the study's
  "fully depleted"). Regrowth needs a live apple within radius 2 (p = 0 at no live
  neighbours, on every map and regrowth factor), so an empty map stays empty, with one
  exception: the neighbour count regrowth reads is two steps old (rules 4.3), so in the
  step right after the last apple went, an apple that was already waiting can still regrow,
  and the map lives on. Rare on the stock maps, not on the high-regrowth variants: of 384
  patch deaths under greedy players on the fast env, 3 came back at regrowth=1 and 43 at
  regrowth=10 (p is capped at 1). Such an episode counts as depleted all the same.
- patches / patch_deaths: the map's apple patches (the connected groups of apple cells,
  linked within the regrowth radius 2: `popbased.env.fast.ceiling.patches`) and how many of
  them died: their live apples reached 0 at the start or after some step (a patch dies for
  good as the map does, with the same one-step exception; a patch that came back that way
  still counts as dead, once). Counted from each patch's live apples, read from the world every
  step (Melting Pot: WORLD.APPLES_LIVE, each apple's flag; the fast env: its world); None,
  like `depleted`, without them.
- proxy_depleted / proxy_depletion_step: the study's proxy, the first step at which no
  player had gained reward for `proxy_window` (50) steps.
- series: every `series_every` steps, the per-capita return so far, the Gini of the
  returns so far and the apples on the map (the study's curves over time).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np


def gini(values: Sequence[float] | np.ndarray) -> float:
    """Gini coefficient of `values` (0 = equal; 1 - 1/n = one player has everything)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan")
    if np.all(x == x[0]):
        return 0.0
    mean = x.mean()
    if mean <= 0:
        return float("nan")
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2.0 * x.size ** 2 * mean))


class EpisodeTracker:
    """Accumulates one episode's metrics from per-step arrays and events."""

    def __init__(self, num_players: int, *, series_every: int = 100, useful_zap_window: int = 20,
                 proxy_window: int = 50, counts_zaps_fired: bool = True):
        self.num_players = num_players
        self.series_every = series_every
        self.useful_zap_window = useful_zap_window
        self.proxy_window = proxy_window
        self.counts_zaps_fired = counts_zaps_fired
        self.reset(None)

    def reset(self, apples: float | None, patch_apples: Sequence[float] | None = None) -> None:
        """A new episode; apples: live apples at the start (None: no world count);
        patch_apples [patches]: the live apples of each patch (None: not counted)."""
        n = self.num_players
        self.step_count = 0
        self.returns = np.zeros(n)
        self.shaped = {}
        self.apples_eaten = np.zeros(n, dtype=np.int64)
        self.zaps_fired = np.zeros(n, dtype=np.int64)
        self.zap_hits = np.zeros(n, dtype=np.int64)
        self.zapped = np.zeros(n, dtype=np.int64)
        self.useful_zaps = np.zeros(n, dtype=np.int64)
        self._last_ate = np.full(n, -10**9, dtype=np.int64)
        self._last_reward_step = 0
        self.proxy_step: int | None = None
        self.apples_initial = apples
        self.apples = apples
        self.apples_min = apples
        self.depletion_step: int | None = 0 if apples == 0 else None
        self.patch_dead = None if patch_apples is None else np.asarray(patch_apples) == 0
        self.series: dict[str, list] = {"step": [], "per_capita_return": [], "gini": [], "apples": []}

    def update(self, rewards: np.ndarray, eaten_by: Sequence[int], zaps: Sequence[tuple[int, int]],
               zaps_fired: np.ndarray | None = None, apples: float | None = None,
               components: dict[str, np.ndarray] | None = None,
               patch_apples: Sequence[float] | None = None) -> None:
        """One step: rewards [n]; eaten_by / zaps (source, target) as 0-based players;
        apples / patch_apples: the live apples on the map / of each patch after the step."""
        self.step_count += 1
        t = self.step_count
        self.returns += rewards
        for name, value in (components or {}).items():
            self.shaped[name] = self.shaped.get(name, 0.0) + value
        for player in eaten_by:
            self.apples_eaten[player] += 1
            self._last_ate[player] = t
        for source, target in zaps:
            self.zap_hits[source] += 1
            self.zapped[target] += 1
            if t - self._last_ate[target] < self.useful_zap_window:
                self.useful_zaps[source] += 1
        if zaps_fired is not None:
            self.zaps_fired += zaps_fired.astype(np.int64)
        if np.any(rewards > 0):
            self._last_reward_step = t
        elif self.proxy_step is None and t - self._last_reward_step >= self.proxy_window:
            self.proxy_step = t
        if apples is not None:
            self.apples = apples
            self.apples_min = apples if self.apples_min is None else min(self.apples_min, apples)
            if apples == 0 and self.depletion_step is None:
                self.depletion_step = t
        if patch_apples is not None and self.patch_dead is not None:
            self.patch_dead |= np.asarray(patch_apples) == 0
        if t % self.series_every == 0:
            self._record_series()

    def _record_series(self) -> None:
        self.series["step"].append(self.step_count)
        self.series["per_capita_return"].append(float(self.returns.mean()))
        self.series["gini"].append(gini(self.returns))
        self.series["apples"].append(None if self.apples is None else float(self.apples))

    def summary(self) -> dict[str, Any]:
        """The finished episode as plain Python values (JSON-ready)."""
        if not self.series["step"] or self.series["step"][-1] != self.step_count:
            self._record_series()
        has_world = self.apples_initial is not None
        out: dict[str, Any] = {
            "steps": self.step_count,
            "returns": self.returns.tolist(),
            "per_capita_return": float(self.returns.mean()),
            "gini": gini(self.returns),
            "apples_eaten": self.apples_eaten.tolist(),
            "zap_hits": self.zap_hits.tolist(),
            "zapped": self.zapped.tolist(),
            "useful_zaps": self.useful_zaps.tolist(),
            "zaps_fired": self.zaps_fired.tolist() if self.counts_zaps_fired else None,
            "apples_initial": self.apples_initial,
            "apples_final": self.apples,
            "apples_min": self.apples_min,
            "depleted": (self.depletion_step is not None) if has_world else None,
            "depletion_step": self.depletion_step,
            "patches": None if self.patch_dead is None else int(self.patch_dead.size),
            "patch_deaths": None if self.patch_dead is None else int(self.patch_dead.sum()),
            "proxy_depleted": self.proxy_step is not None,
            "proxy_depletion_step": self.proxy_step,
            "series": self.series,
        }
        for name, value in self.shaped.items():
            out[f"{name}_return"] = np.asarray(value).tolist()
        return out


def aggregate(episodes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean / std over episodes of the headline metrics (what `substrates run` prints)."""
    if not episodes:
        return {"episodes": 0}

    def stats(values: list[float]) -> dict[str, float]:
        v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
        if v.size == 0:
            return {"mean": float("nan"), "std": float("nan")}
        return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0}

    out: dict[str, Any] = {"episodes": len(episodes)}
    out["per_capita_return"] = stats([e["per_capita_return"] for e in episodes])
    out["gini"] = stats([e["gini"] for e in episodes])
    out["steps"] = stats([e["steps"] for e in episodes])
    out["apples_eaten_per_capita"] = stats([float(np.mean(e["apples_eaten"])) for e in episodes])
    out["zap_hits_per_capita"] = stats([float(np.mean(e["zap_hits"])) for e in episodes])
    out["useful_zaps_per_capita"] = stats([float(np.mean(e["useful_zaps"])) for e in episodes])
    if all(e["zaps_fired"] is not None for e in episodes):
        out["zaps_fired_per_capita"] = stats([float(np.mean(e["zaps_fired"])) for e in episodes])
    if all(e["depleted"] is not None for e in episodes):
        out["depleted_fraction"] = float(np.mean([e["depleted"] for e in episodes]))
        steps = [e["depletion_step"] for e in episodes if e["depletion_step"] is not None]
        out["depletion_step"] = stats([float(s) for s in steps]) if steps else None
    out["proxy_depleted_fraction"] = float(np.mean([e["proxy_depleted"] for e in episodes]))
    return out
