"""The study's episode metrics for B worlds at once, with `popbased.env.metrics`' definitions.

`EpisodeTracker` keeps one episode in numpy; this keeps B of them as torch tensors on
the env's device and writes the same summary dict (same keys, types and arithmetic)
for each world whose episode ends. See popbased/env/metrics.py for the definitions.

Patch deaths are kept as one [B, patches] bool on the device (`patch_dead`, or-ed with "this
patch has no live apple" each step from the env's per-patch counts): no host sync per step.

Host syncs: `update` reads nothing from the device when given `record` (whether any world
records its series this step; the env reads `record_due()` with the world step's one read);
`summaries` reads the ended worlds' metrics (only on steps where an episode ended).
"""

from __future__ import annotations

from typing import Any

import torch

from popbased.env.fast.world import blend

NONE = -1


def gini_rows(x: torch.Tensor) -> torch.Tensor:
    """Gini coefficient of each row of x [B, n] (float64), as metrics.gini."""
    n = x.shape[1]
    mean = x.mean(1)
    diff = (x[:, :, None] - x[:, None, :]).abs().sum((1, 2))
    out = diff / (2.0 * n * n * mean)
    out = torch.where(mean <= 0, torch.full_like(out, float("nan")), out)
    return torch.where((x == x[:, :1]).all(1), torch.zeros_like(out), out)


class BatchTracker:
    def __init__(self, num_worlds: int, players: int, device, *, series_every: int = 100,
                 useful_zap_window: int = 20, proxy_window: int = 50, max_steps: int = 5000,
                 shaped: tuple[str, ...] = (), patches: int | None = None):
        self.B, self.P, self.device = num_worlds, players, torch.device(device)
        self.series_every = series_every
        self.useful_zap_window = useful_zap_window
        self.proxy_window = proxy_window
        self.shaped_names = shaped
        self.max_series = max_steps // series_every + 2
        B, P, dev = num_worlds, players, self.device
        f64, i32 = torch.float64, torch.int32
        self.step_count = torch.zeros(B, dtype=i32, device=dev)
        self.returns = torch.zeros(B, P, dtype=f64, device=dev)
        self.shaped = {n: torch.zeros(B, P, dtype=f64, device=dev) for n in shaped}
        self.counts = {n: torch.zeros(B, P, dtype=i32, device=dev)
                       for n in ("apples_eaten", "zaps_fired", "zap_hits", "zapped", "useful_zaps")}
        self.last_ate = torch.zeros(B, P, dtype=i32, device=dev)
        self.last_reward = torch.zeros(B, dtype=i32, device=dev)
        self.proxy_step = torch.zeros(B, dtype=i32, device=dev)
        self.apples_initial = torch.zeros(B, dtype=f64, device=dev)
        self.apples = torch.zeros(B, dtype=f64, device=dev)
        self.apples_min = torch.zeros(B, dtype=f64, device=dev)
        self.depletion_step = torch.zeros(B, dtype=i32, device=dev)
        self.series = torch.zeros(B, self.max_series, 4, dtype=f64, device=dev)
        self.series_len = torch.zeros(B, dtype=torch.int64, device=dev)
        self.patches = patches
        """The map's apple patches (None: not counted, the summaries' patch fields are None)."""
        self.patch_dead = torch.zeros(B, patches or 0, dtype=torch.bool, device=dev)

    def reset(self, mask: torch.Tensor, apples: torch.Tensor,
              patch_apples: torch.Tensor | None = None) -> None:
        """New episodes in the worlds of mask [B] bool; apples [B]: live apples at the start;
        patch_apples [B, patches]: the live apples of each patch (when `patches` is set)."""
        m, mc = mask, mask[:, None]
        self.step_count.masked_fill_(m, 0)
        self.returns.masked_fill_(mc, 0.0)
        for t in self.shaped.values():
            t.masked_fill_(mc, 0.0)
        for t in self.counts.values():
            t.masked_fill_(mc, 0)
        self.last_ate.masked_fill_(mc, -10**9)
        self.last_reward.masked_fill_(m, 0)
        self.proxy_step.masked_fill_(m, NONE)
        a = apples.to(torch.float64)
        for t in (self.apples_initial, self.apples, self.apples_min):
            t[:] = torch.where(m, a, t)
        self.depletion_step[:] = torch.where(m, torch.where(a == 0, 0, NONE).to(torch.int32),
                                             self.depletion_step)
        self.series_len.masked_fill_(m, 0)
        if self.patches is not None:
            self.patch_dead[:] = torch.where(mc, patch_apples == 0, self.patch_dead)

    def update(self, reward: torch.Tensor, eaten: torch.Tensor, hits: torch.Tensor,
               fired: torch.Tensor | None, apples: torch.Tensor,
               shaped: dict[str, torch.Tensor] | None = None,
               patch_apples: torch.Tensor | None = None, record: bool | None = None) -> None:
        """One step of every world: reward / eaten / fired [B, P], hits [B, P, 3] (target
        of each beam line or -1), apples [B] on the map after the step, patch_apples
        [B, patches] those of each patch (when `patches` is set). `record`: the value of
        `record_due()` before this update (None: read here, a host sync)."""
        self.step_count += 1
        t = self.step_count
        self.returns += reward.to(torch.float64)
        for name, value in (shaped or {}).items():
            self.shaped[name] += value.to(torch.float64)
        c = self.counts
        c["apples_eaten"] += eaten.to(torch.int32)
        self.last_ate[:] = blend(eaten > 0, t[:, None], self.last_ate)
        hit = hits >= 0
        c["zap_hits"] += hit.sum(-1, dtype=torch.int32)
        target = blend(hit, hits, self.P).view(self.B, -1)
        got = torch.zeros(self.B, self.P + 1, dtype=torch.int32, device=self.device)
        got.scatter_add_(1, target, torch.ones_like(target, dtype=torch.int32))
        c["zapped"] += got[:, :self.P]
        recent = torch.cat([(t[:, None] - self.last_ate) < self.useful_zap_window,
                            torch.zeros(self.B, 1, dtype=torch.bool, device=self.device)], 1)
        useful = torch.gather(recent, 1, target).view(hits.shape)
        c["useful_zaps"] += useful.sum(-1, dtype=torch.int32)
        if fired is not None:
            c["zaps_fired"] += fired.to(torch.int32)
        rewarded = (reward > 0).any(1)
        self.last_reward[:] = torch.where(rewarded, t, self.last_reward)
        starve = ~rewarded & (self.proxy_step == NONE) & (t - self.last_reward >= self.proxy_window)
        self.proxy_step[:] = torch.where(starve, t, self.proxy_step)
        a = apples.to(torch.float64)
        self.apples[:] = a
        self.apples_min[:] = torch.minimum(self.apples_min, a)
        self.depletion_step[:] = torch.where((a == 0) & (self.depletion_step == NONE), t,
                                             self.depletion_step)
        if self.patches is not None:
            self.patch_dead |= patch_apples == 0
        if record is None:
            record = bool((t % self.series_every == 0).any())
        if record:
            self._record(t % self.series_every == 0)

    def record_due(self) -> torch.Tensor:
        """[] bool on the device: whether the next `update` records some world's series."""
        return ((self.step_count + 1) % self.series_every == 0).any()

    def _record(self, mask: torch.Tensor) -> None:
        row = torch.stack([self.step_count.to(torch.float64), self.returns.mean(1),
                           gini_rows(self.returns), self.apples], 1)
        slot = self.series_len.clamp(max=self.max_series - 1)
        b = torch.arange(self.B, device=self.device)
        self.series[b, slot] = torch.where(mask[:, None], row, self.series[b, slot])
        self.series_len += mask.long()

    def summaries(self, mask: torch.Tensor, counts_zaps_fired: bool = True,
                  worlds: list[int] | None = None) -> list[dict[str, Any]]:
        """The finished episodes of the worlds in mask, as metrics.EpisodeTracker.summary();
        `worlds`: those worlds' indices when the caller has them on the host (None: read)."""
        if worlds is None:
            worlds = torch.nonzero(mask).flatten().tolist()
        if not worlds:
            return []
        last = self.series[torch.arange(self.B, device=self.device), (self.series_len - 1).clamp(min=0), 0]
        need = mask & ((self.series_len == 0) | (last != self.step_count.to(torch.float64)))
        self._record(need)  # a no-op where need is all False
        cpu = {k: v.cpu() for k, v in {
            "steps": self.step_count, "returns": self.returns, "proxy": self.proxy_step,
            "initial": self.apples_initial, "apples": self.apples, "min": self.apples_min,
            "depletion": self.depletion_step, "series": self.series, "series_len": self.series_len,
            "patch_deaths": self.patch_dead.sum(1),
            **{f"count_{k}": v for k, v in self.counts.items()},
            **{f"shaped_{k}": v for k, v in self.shaped.items()}}.items()}
        out = []
        for b in worlds:
            returns = cpu["returns"][b]
            n = int(cpu["series_len"][b])
            series = cpu["series"][b, :n]
            depletion = int(cpu["depletion"][b])
            proxy = int(cpu["proxy"][b])
            summary = {
                "steps": int(cpu["steps"][b]),
                "returns": returns.tolist(),
                "per_capita_return": float(returns.mean()),
                "gini": float(gini_rows(returns[None])[0]),
                "apples_eaten": cpu["count_apples_eaten"][b].tolist(),
                "zap_hits": cpu["count_zap_hits"][b].tolist(),
                "zapped": cpu["count_zapped"][b].tolist(),
                "useful_zaps": cpu["count_useful_zaps"][b].tolist(),
                "zaps_fired": cpu["count_zaps_fired"][b].tolist() if counts_zaps_fired else None,
                "apples_initial": float(cpu["initial"][b]),
                "apples_final": float(cpu["apples"][b]),
                "apples_min": float(cpu["min"][b]),
                "depleted": depletion != NONE,
                "depletion_step": None if depletion == NONE else depletion,
                "patches": self.patches,
                "patch_deaths": None if self.patches is None else int(cpu["patch_deaths"][b]),
                "proxy_depleted": proxy != NONE,
                "proxy_depletion_step": None if proxy == NONE else proxy,
                "series": {"step": [int(s) for s in series[:, 0].tolist()],
                           "per_capita_return": series[:, 1].tolist(),
                           "gini": series[:, 2].tolist(), "apples": series[:, 3].tolist()},
            }
            for name in self.shaped_names:
                summary[f"{name}_return"] = cpu[f"shaped_{name}"][b].tolist()
            out.append((b, summary))
        return out
