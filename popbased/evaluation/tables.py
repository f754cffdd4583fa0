"""The tidy tables of an evaluation (CSV and Parquet, one row per observation):

    episodes   one row per episode: policy, point, swept parameters, seed index, steps,
               per-capita return, Gini, depleted (from the world), depletion step, the study's
               proxy (no reward increase for 50 steps) and its step, apples, the map's apple
               patches and how many died (patches, patch_deaths: see popbased.env.metrics), zaps
    players    one row per episode x player: return, apples eaten, zaps fired / hit / useful,
               times zapped
    series     one row per episode x recorded step (every 100): per-capita return so far,
               Gini so far, apples on the map
    summary    one row per policy x point: means, a 95% bootstrap CI of the per-capita return,
               fraction fully depleted (and by the proxy), time to depletion

In a matrix (`evaluate matrix`) the policy is the focal one, a point is "MODE vs
BACKGROUND", and episodes and summary also give the focal players' and the background
players' per-capita returns (summary: the focal one with its bootstrap CI).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

TABLES = ("episodes", "players", "series", "summary")
PLAYER_FIELDS = {"returns": "return", "apples_eaten": "apples_eaten", "zaps_fired": "zaps_fired",
                 "zap_hits": "zap_hits", "useful_zaps": "useful_zaps", "zapped": "zapped"}


def point_label(params: Mapping[str, str], axes: list[str]) -> str:
    return ", ".join(f"{k}={params[k]}" for k in axes) or "default"


def frames(results: list[dict[str, Any]], axes: list[str]) -> dict[str, Any]:
    import pandas as pd  # deferred: heavy; results.py imports this module for readers too

    episodes, players, series = [], [], []
    for r in results:
        base = {"policy": r["policy"], "point": point_label(r["params"], axes),
                **{k: _number(r["params"][k]) for k in axes}}
        if "mode" in r:  # a matrix match: focal policy in the first seats, background in the rest
            base.update(background=r["background"], mode=r["mode"], focal_seats=len(r["focal_seats"]),
                        point=f"{r['mode']} vs {r['background']}")
        for i, e in enumerate(r["episodes"]):
            row = dict(base, episode=i, steps=e["steps"], per_capita_return=e["per_capita_return"],
                       gini=e["gini"], depleted=e["depleted"], depletion_step=e["depletion_step"],
                       proxy_depleted=e["proxy_depleted"], proxy_depletion_step=e["proxy_depletion_step"],
                       apples_initial=e["apples_initial"], apples_min=e["apples_min"],
                       apples_final=e["apples_final"], patches=e.get("patches"),
                       patch_deaths=e.get("patch_deaths"))
            for field, name in PLAYER_FIELDS.items():
                values = e.get(field)
                row[f"{name}_per_capita"] = None if values is None else float(np.mean(values))
            if "mode" in r:
                focal = np.zeros(len(e["returns"]), bool)
                focal[r["focal_seats"]] = True
                returns = np.asarray(e["returns"], float)
                row.update(focal_return=float(returns[focal].mean()),
                           background_return=float(returns[~focal].mean()))
            episodes.append(row)
            for p in range(len(e["returns"])):
                players.append(dict(base, episode=i, player=p + 1, **{
                    name: (None if e.get(field) is None else float(e[field][p]))
                    for field, name in PLAYER_FIELDS.items()}))
            s = e["series"]
            for j, step in enumerate(s["step"]):
                series.append(dict(base, episode=i, step=step, per_capita_return=s["per_capita_return"][j],
                                   gini=s["gini"][j], apples=s["apples"][j]))
    out = {"episodes": pd.DataFrame(episodes), "players": pd.DataFrame(players),
           "series": pd.DataFrame(series)}
    out["summary"] = summary(out["episodes"], axes)
    return out


def _number(text: str):
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def bootstrap_ci(values: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean (NaN under two values)."""
    if len(values) < 2:
        return math.nan, math.nan
    if np.ptp(values) == 0:  # every episode the same: the interval is that value
        return float(values[0]), float(values[0])
    from scipy.stats import bootstrap  # deferred: heavy, only for intervals

    ci = bootstrap((values,), np.mean, n_resamples=2000, confidence_level=0.95, method="percentile",
                   random_state=np.random.default_rng(seed)).confidence_interval
    return float(ci.low), float(ci.high)


def summary(episodes, axes: list[str]):
    import pandas as pd  # deferred: heavy (see `frames`)

    rows = []
    for (policy, point), group in episodes.groupby(["policy", "point"], sort=False):
        returns = group["per_capita_return"].to_numpy(float)
        low, high = bootstrap_ci(returns)
        depleted = group["depleted"].dropna()
        steps = group["depletion_step"].dropna()
        row = {"policy": policy, "point": point, **{k: group[k].iloc[0] for k in axes},
               "episodes": len(group), "per_capita_return": float(returns.mean()),
               "ci_low": low, "ci_high": high, "gini": float(group["gini"].mean()),
               "depleted_fraction": float(depleted.astype(float).mean()) if len(depleted) else math.nan,
               "proxy_depleted_fraction": float(group["proxy_depleted"].astype(float).mean()),
               "depletion_step": float(steps.mean()) if len(steps) else math.nan}
        for name in ("apples_eaten", "zaps_fired", "zap_hits", "useful_zaps"):
            column = group[f"{name}_per_capita"].dropna()
            row[f"{name}_per_capita"] = float(column.mean()) if len(column) else math.nan
        if "focal_return" in group:  # matrix: who played whom, and each side's return
            focal = group["focal_return"].to_numpy(float)
            low, high = bootstrap_ci(focal)
            row.update(background=group["background"].iloc[0], mode=group["mode"].iloc[0],
                       focal_seats=int(group["focal_seats"].iloc[0]), focal_return=float(focal.mean()),
                       focal_ci_low=low, focal_ci_high=high,
                       background_return=float(group["background_return"].mean()))
        rows.append(row)
    return pd.DataFrame(rows)


def write(tables: Mapping[str, Any], folder: Path) -> list[Path]:
    written = []
    for name in TABLES:
        frame = tables[name]
        frame.to_csv(folder / f"{name}.csv", index=False)
        frame.to_parquet(folder / f"{name}.parquet", index=False)
        written += [folder / f"{name}.csv", folder / f"{name}.parquet"]
    return written


def read(folder: Path) -> dict[str, Any]:
    import pandas as pd  # deferred: heavy (see `frames`)

    return {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLES}
