"""The fast env against real Melting Pot where outcomes are random: who wins a contested
cell, how often wait-apples regrow, and whole random-play episodes.

contention: two players (players=2, open map) are steered by the same script in both
engines: face each other on row 7, leave one free cell between them, both step
FORWARD into it (a contest), then both FORWARD again while adjacent (a swap attempt).
Melting Pot's outcomes are counted; the fast env replays every one of Melting Pot's
contest states many times. Expected: each wins half the contests, never both; swaps
never happen.

regrowth: every wait-apple in group k at a step's start regrows in that step with
p[min(k, 3)] x factor (capped at 1). Counted per k in real random play and in the fast
env's own random play, with Clopper-Pearson 95% intervals and exact binomial tests.

episodes: random play, N episodes per side, two-sample Welch t and Mann-Whitney U tests
per metric, Fisher's exact test for the depletion fraction.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from scipy import stats

from popbased.env.fast import capture
from popbased.env.fast.env import FastBatchedEnv
from popbased.env.fast.maps import build_map
from popbased.env.fast.world import World
from popbased.substrates.params import CommonsParams

EAST, WEST = 1, 3


class Duel:
    """The scripted two-player contest policy (works on any Snapshot-like state)."""

    def __init__(self, names):
        self.a = {n: names.index(n) for n in ("NOOP", "FORWARD", "BACKWARD", "TURN_RIGHT")}
        self.last = None

    def __call__(self, n, s) -> np.ndarray:
        a = self.a
        acts = [a["NOOP"], a["NOOP"]]
        left, right = (0, 1) if s.pos[0, 1] < s.pos[1, 1] else (1, 0)
        turning = False
        for p, want in ((left, EAST), (right, WEST)):
            if s.orient[p] != want:
                acts[p], turning = a["TURN_RIGHT"], True
        if turning or s.pos[0, 0] != s.pos[1, 0] or not s.alive.all():
            self.last = None
            return np.array(acts)
        x0, x1 = s.pos[left, 1], s.pos[right, 1]
        gap = x1 - x0 - 1
        kind = None
        if gap >= 3:
            acts = [a["FORWARD"], a["FORWARD"]]
        elif gap == 2:
            acts[right if (x0 + x1) / 2 > 11.5 else left] = a["FORWARD"]
        elif gap == 1:
            kind, acts = "contest", [a["FORWARD"], a["FORWARD"]]
        elif self.last == "contest":
            kind, acts = "swap", [a["FORWARD"], a["FORWARD"]]
        else:
            acts = [a["BACKWARD"], a["BACKWARD"]]
        self.last = kind
        return np.array(acts)


def _outcome(before, after) -> str:
    moved = before.pos[:, 1] != after.pos[:, 1]
    return {(True, False): "p0", (False, True): "p1", (True, True): "both"}.get(
        (bool(moved[0]), bool(moved[1])), "neither")


def contention(steps: int = 1000, seed: int = 0, replays: int = 40) -> dict:
    params = CommonsParams(map="open", players=2, no_zap=True)
    game = build_map(params)
    spec = capture.validation_spec(params)
    duel = Duel(spec.action_names)
    recorded = capture.record(params, game, steps, seed, policy=duel)
    replay = Duel(spec.action_names)
    kinds = []
    for before, after in zip(recorded[:-1], recorded[1:]):
        replay(0, before.state)
        kinds.append(replay.last)
    real = {"contest": {}, "swap": {}}
    states = []
    for kind, (before, after) in zip(kinds, zip(recorded[:-1], recorded[1:])):
        if kind in real:
            out = _outcome(before.state, after.state)
            real[kind][out] = real[kind].get(out, 0) + 1
            if kind == "contest":
                states.append((before, after.actions))
    fast = {"contest": {}}
    if states:
        world = World(game, len(states) * replays, spec.action_table, seed=seed)
        for i, (before, _) in enumerate(states):
            for r in range(replays):
                capture.load(world, i * replays + r, before.state)
        actions = np.repeat(np.stack([a for _, a in states]), replays, 0)
        x_before = world.unflat(world.pos)[1].clone()
        world.step(torch.from_numpy(actions.astype(np.int64)))
        moved = (world.unflat(world.pos)[1] != x_before).numpy()
        for m in moved:
            out = {(True, False): "p0", (False, True): "p1", (True, True): "both"}.get(
                (bool(m[0]), bool(m[1])), "neither")
            fast["contest"][out] = fast["contest"].get(out, 0) + 1

    def test(counts):
        k, n = counts.get("p0", 0), counts.get("p0", 0) + counts.get("p1", 0)
        if n == 0:
            return None
        t = stats.binomtest(k, n, 0.5)
        ci = t.proportion_ci(0.95)
        return {"p0_wins": k, "decided": n, "p0_fraction": k / n, "ci95": [ci.low, ci.high],
                "binomial_p_value_vs_half": t.pvalue}

    table = [[real["contest"].get("p0", 0), real["contest"].get("p1", 0)],
             [fast["contest"].get("p0", 0), fast["contest"].get("p1", 0)]]
    fisher = stats.fisher_exact(table).pvalue if min(map(sum, table)) > 0 else None
    return {"melting_pot": real, "fast": fast, "melting_pot_test": test(real["contest"]),
            "fast_test": test(fast["contest"]), "fisher_p_value_mp_vs_fast": fisher,
            "replays_per_state": replays}


def _regrowth_counts(pairs) -> np.ndarray:
    """[13, 2] (eligible apple-steps, sprouts) per group k from (state, next state) pairs."""
    out = np.zeros((13, 2), np.int64)
    for s0, s1 in pairs:
        eligible = s0 >= 0
        sprout = eligible & ((s1 == capture.LIVE) | (s1 == capture.WAIT))
        np.add.at(out[:, 0], s0[eligible], 1)
        np.add.at(out[:, 1], s0[sprout], 1)
    return out


def regrowth(params: CommonsParams, steps: int, seeds, fast_worlds: int = 64, seed: int = 0) -> dict:
    game = build_map(params)
    spec = capture.validation_spec(params)
    pairs, lagged = [], []
    for s in seeds:
        rec = capture.record(params, game, steps, s)
        pairs += [(a.state.apple_state, b.state.apple_state) for a, b in zip(rec[:-1], rec[1:])]
        lagged += [(a.state.apple_state, a.state.count, b.state.apple_state)
                   for a, b in zip(rec[:-1], rec[1:])]
    real = _regrowth_counts(pairs)
    world = World(game, fast_worlds, spec.action_table, seed=seed)
    world.reset()
    gen = np.random.default_rng(seed)
    fast = np.zeros((13, 2), np.int64)
    A = world.A
    for _ in range(steps):
        live0, group0 = world.live[:, :A].clone(), world.group[:, :A].long()
        world.step(torch.from_numpy(gen.integers(0, len(spec.action_names), (fast_worlds, world.P))))
        eligible = ~live0 & (group0 >= 0)
        sprout = eligible & (world.live[:, :A] | (world.group[:, :A] == -1))
        fast[:, 0] += np.bincount(group0[eligible].numpy(), minlength=13)[:13]
        fast[:, 1] += np.bincount(group0[sprout].numpy(), minlength=13)[:13]
    rows = []
    for k in range(13):
        p = float(game.regrowth[min(k, 3)])
        row = {"group": k, "p": p}
        for side, counts in (("melting_pot", real), ("fast", fast)):
            n, x = int(counts[k, 0]), int(counts[k, 1])
            if n:
                t = stats.binomtest(x, n, p) if 0 < p < 1 else None
                ci = stats.binomtest(x, n).proportion_ci(0.95)
                row[side] = {"eligible": n, "regrew": x, "frequency": x / n, "ci95": [ci.low, ci.high],
                             "p_value": t.pvalue if t else (1.0 if x == round(p * n) else 0.0)}
        rows.append(row)
    return {"factor": params.regrowth, "probabilities": game.regrowth.tolist(), "groups": rows,
            "lag": lag_test(lagged, game.regrowth)}


def lag_test(lagged, probabilities) -> dict:
    """Rules 9.1 on real Melting Pot: among wait-apples whose group (the count two steps
    back) and current count give different probabilities, which one the regrowth follows."""
    p = np.asarray(probabilities)
    n = x = 0
    p_group, p_count, outcomes = [], [], []
    for s0, c0, s1 in lagged:
        eligible = s0 >= 0
        pg, pc = p[np.minimum(s0, 3)], p[np.minimum(np.maximum(c0, 0), 3)]
        differ = eligible & (pg != pc)
        sprout = (s1 == capture.LIVE) | (s1 == capture.WAIT)
        n += int(differ.sum())
        x += int((differ & sprout).sum())
        p_group += pg[differ].tolist()
        p_count += pc[differ].tolist()
        outcomes += sprout[differ].tolist()
    if not n:
        return {"apple_steps": 0}
    pg, pc, y = np.array(p_group), np.array(p_count), np.array(outcomes, float)

    def loglik(ps):
        ps = np.clip(ps, 1e-12, 1 - 1e-12)
        return float(np.sum(y * np.log(ps) + (1 - y) * np.log(1 - ps)))

    def fit(ps):  # the sprout count against its Poisson-binomial mean (normal approximation)
        mean, var = float(ps.sum()), float((ps * (1 - ps)).sum())
        z = (x - mean) / np.sqrt(var) if var > 0 else (0.0 if x == mean else float("inf"))
        return {"expected": mean, "z": z, "p_value": float(2 * stats.norm.sf(abs(z))),
                "log_likelihood": loglik(ps)}

    return {"apple_steps": n, "regrew": x, "lagged_group_rule": fit(pg), "current_count_rule": fit(pc),
            "log_likelihood_ratio_lagged_vs_current": loglik(pg) - loglik(pc)}


def fast_random_play(spec, episodes: int, max_steps: int | None, seed: int, device="cpu") -> list[dict]:
    """The first episode of each of `episodes` fast worlds under uniform random actions."""
    env = FastBatchedEnv(spec, episodes, seed=seed, device=device, max_episode_steps=max_steps)
    env.reset()
    gen = torch.Generator(device=env.device)
    gen.manual_seed(seed)
    first: dict[int, dict] = {}
    while len(first) < episodes:
        actions = torch.randint(0, env.num_actions, (env.num_seats,), generator=gen, device=env.device)
        for e in env.step_tensors(actions).episodes:
            first.setdefault(e["env"], e)
    return [first[e] for e in range(episodes)]


EPISODE_METRICS = {
    "per_capita_return": lambda e: e["per_capita_return"],
    "steps": lambda e: e["steps"],
    "zaps_fired_per_capita": lambda e: float(np.mean(e["zaps_fired"])),
    "zap_hits_per_capita": lambda e: float(np.mean(e["zap_hits"])),
    "apples_final": lambda e: e["apples_final"],
    "gini": lambda e: e["gini"],
}


def detectable_effect(n1: int, n2: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """The standardised difference (Cohen's d) a two-sided two-sample t test of n1 and n2
    episodes finds with `power` at level `alpha` (noncentral t)."""
    if n1 < 2 or n2 < 2:
        return float("nan")
    df = n1 + n2 - 2
    crit = stats.t.ppf(1 - alpha / 2, df)
    scale = np.sqrt(n1 * n2 / (n1 + n2))
    lo, hi = 0.0, 10.0
    for _ in range(60):
        d = (lo + hi) / 2
        nc = d * scale
        achieved = stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc)
        lo, hi = (d, hi) if achieved < power else (lo, d)
    return hi


def compare_episodes(real: list[dict], fast: list[dict]) -> dict:
    d = detectable_effect(len(real), len(fast))
    out = {"episodes": {"melting_pot": len(real), "fast": len(fast)}, "metrics": {},
           "power": {"detectable_effect_sd": d, "alpha": 0.05, "power": 0.8,
                     "note": "the difference (in pooled standard deviations) the t test finds "
                             "80% of the time at the 5% level; detectable_difference per metric"}}
    for name, get in EPISODE_METRICS.items():
        a = np.array([get(e) for e in real], float)
        b = np.array([get(e) for e in fast], float)
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        row = {"melting_pot_mean": float(a.mean()), "fast_mean": float(b.mean()),
               "melting_pot_sd": float(a.std(ddof=1)) if a.size > 1 else 0.0,
               "fast_sd": float(b.std(ddof=1)) if b.size > 1 else 0.0}
        if a.size > 1 and b.size > 1 and (a.std() > 0 or b.std() > 0):
            row["welch_t_p_value"] = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
            row["mann_whitney_p_value"] = float(stats.mannwhitneyu(a, b).pvalue)
            pooled = np.sqrt((row["melting_pot_sd"] ** 2 + row["fast_sd"] ** 2) / 2)
            row["detectable_difference"] = float(d * pooled)
        out["metrics"][name] = row
    dep = [[sum(e["depleted"] for e in real), sum(not e["depleted"] for e in real)],
           [sum(e["depleted"] for e in fast), sum(not e["depleted"] for e in fast)]]
    out["depleted"] = {"melting_pot_fraction": dep[0][0] / len(real), "fast_fraction": dep[1][0] / len(fast),
                       "fisher_p_value": float(stats.fisher_exact(dep).pvalue)}
    steps_a = [e["depletion_step"] for e in real if e["depletion_step"] is not None]
    steps_b = [e["depletion_step"] for e in fast if e["depletion_step"] is not None]
    if len(steps_a) > 1 and len(steps_b) > 1:
        out["depletion_step"] = {"melting_pot_mean": float(np.mean(steps_a)), "fast_mean": float(np.mean(steps_b)),
                                 "mann_whitney_p_value": float(stats.mannwhitneyu(steps_a, steps_b).pvalue)}
    def on_rule(e):  # rules 6: ends at 1099, 1199, ..., 4999 or 5000
        n = e["steps"]
        return n == 5000 or (n >= 1099 and (n + 1) % 100 == 0)

    out["lengths_on_rule"] = {side: {"full_episodes": len(full), "on_rule": sum(map(on_rule, full))}
                              for side, eps in (("melting_pot", real), ("fast", fast))
                              for full in [[e for e in eps if not e.get("truncated")]]}
    series = {}
    for side, eps in (("melting_pot", real), ("fast", fast)):
        by_step: dict[int, list] = {}
        for e in eps:
            for s, apples in zip(e["series"]["step"], e["series"]["apples"]):
                if s % 100 == 0:
                    by_step.setdefault(s, []).append(apples)
        series[side] = by_step
    rows = []
    for s in sorted(set(series["melting_pot"]) & set(series["fast"])):
        a, b = np.array(series["melting_pot"][s]), np.array(series["fast"][s])
        row = {"step": s, "melting_pot_mean": float(a.mean()), "fast_mean": float(b.mean()),
               "n": [int(a.size), int(b.size)]}
        if a.size > 1 and b.size > 1 and (a.std() > 0 or b.std() > 0):
            row["welch_t_p_value"] = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
        rows.append(row)
    out["apples_over_time"] = rows
    return out


def params_dict(params: CommonsParams) -> dict:
    return dataclasses.asdict(params)
