"""The study's numbers from the evaluation folders: per run and point, the episodes' return,
depletion and Gini with 95% intervals (bootstrap for means and ratios, Wilson for shares)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from popbased.evaluation.tables import bootstrap_ci
from popbased.textio import json_safe
from popbased.study.plan import StudyPlan
from popbased.study.steps import champion


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    n: int

    def text(self, fmt: str = ".1f", percent: bool = False) -> str:
        if math.isnan(self.value):
            return "n/a"
        scale, unit = (100.0, "%") if percent else (1.0, "")
        return f"{self.value * scale:{fmt}}{unit}"

    def ci(self, fmt: str = ".1f", percent: bool = False) -> str:
        if math.isnan(self.low):
            return "n/a"
        scale, unit = (100.0, "%") if percent else (1.0, "")
        return f"[{self.low * scale:{fmt}}, {self.high * scale:{fmt}}]{unit}"

    def as_dict(self) -> dict[str, float]:
        return {"value": self.value, "ci_low": self.low, "ci_high": self.high, "n": self.n}


NONE = Estimate(math.nan, math.nan, math.nan, 0)


def mean(values) -> Estimate:
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if not len(values):
        return NONE
    low, high = bootstrap_ci(values)
    return Estimate(float(values.mean()), low, high, len(values))


def share(flags) -> Estimate:
    """Share of True among `flags`, with its Wilson 95% interval."""
    flags = [bool(f) for f in flags if f is not None and not (isinstance(f, float) and math.isnan(f))]
    if not flags:
        return NONE
    from scipy.stats import binomtest  # deferred: heavy, only for intervals

    k, n = sum(flags), len(flags)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return Estimate(k / n, float(ci.low), float(ci.high), n)


def ratio(a, b) -> Estimate:
    """mean(a) / mean(b), with a percentile bootstrap interval (independent resamples)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2 or b.mean() <= 0:
        return NONE
    from scipy.stats import bootstrap  # deferred: heavy, only for intervals

    ci = bootstrap((a, b), lambda x, y, axis=-1: x.mean(axis=axis) / y.mean(axis=axis),
                   n_resamples=2000, method="percentile", vectorized=True, paired=False,
                   random_state=np.random.default_rng(0)).confidence_interval
    low, high = float(ci.low), float(ci.high)
    if not (math.isfinite(low) and math.isfinite(high)):  # some resample of b averaged 0
        low = high = math.nan
    return Estimate(float(a.mean() / b.mean()), low, high, len(a) + len(b))


class Evaluations:
    """OUT/eval/KIND folders, their episodes labelled by the study's run names."""

    def __init__(self, plan: StudyPlan, out: Path):
        import pandas as pd  # deferred: heavy, only where evaluations are read

        self.plan, self.out = plan, out
        self.frames: dict[str, Any] = {}
        self.series: dict[str, Any] = {}
        self.info: dict[str, dict] = {}
        # a policy's ref is the path the study passed; match its tail (champions/NAME,
        # runs/NAME/m0.pt) so that a study folder read after a move still names its runs
        tails = {str(champion(Path(), r)): r.name for r in plan.runs}

        def run_of(ref: str) -> str | None:
            return next((name for tail, name in tails.items()
                         if ref == tail or ref.endswith("/" + tail)), None)

        for folder in sorted((out / "eval").glob("*")) if (out / "eval").is_dir() else ():
            if not (folder / "episodes.csv").is_file():
                continue
            info = json.loads((folder / "evaluation.json").read_text())
            names = {s["label"]: run_of(str(s.get("ref", ""))) or s["label"]
                     for s in info.get("sources", [])}
            episodes = pd.read_csv(folder / "episodes.csv")
            episodes["run"] = episodes["policy"].map(lambda p: names.get(p, p))
            if "background" in episodes:
                episodes["background_run"] = episodes["background"].map(lambda p: names.get(p, p))
            self.frames[folder.name], self.info[folder.name] = episodes, info
            if (folder / "series.csv").is_file():
                series = pd.read_csv(folder / "series.csv")
                series["run"] = series["policy"].map(lambda p: names.get(p, p))
                self.series[folder.name] = series

    def episodes(self, kind: str, run: str, point: str | None = None, **where):
        frame = self.frames.get(kind)
        if frame is None:
            return None
        pick = frame[frame["run"] == run]
        if point is not None:
            pick = pick[pick["point"].astype(str) == point]
        for key, value in where.items():
            pick = pick[pick[key] == value]
        return pick if len(pick) else None

    def points(self, kind: str) -> list[str]:
        frame = self.frames.get(kind)
        return [] if frame is None else list(dict.fromkeys(frame["point"].astype(str)))

    def measures(self, kind: str, run: str, point: str | None = None, **where) -> dict[str, Estimate]:
        eps = self.episodes(kind, run, point, **where)
        if eps is None:
            return {"return": NONE, "depleted": NONE, "proxy": NONE, "gini": NONE}
        column = "focal_return" if "focal_return" in eps else "per_capita_return"
        return {"return": mean(eps[column]), "depleted": share(eps["depleted"].tolist()),
                "proxy": share(eps["proxy_depleted"].tolist()), "gini": mean(eps["gini"])}

    def runs(self, kind: str) -> list[str]:
        frame = self.frames.get(kind)
        return [] if frame is None else list(dict.fromkeys(frame["run"]))

    def gini_at(self, kind: str, run: str, step: int, point: str | None = None) -> Estimate:
        """The Gini at `step` over the episodes that reached it."""
        series = self.series.get(kind)
        if series is None:
            return NONE
        pick = series[(series["run"] == run) & (series["step"] == step)]
        if point is not None and "point" in pick:
            pick = pick[pick["point"].astype(str) == point]
        return mean(pick["gini"]) if len(pick) else NONE


def as_json(value: Any) -> Any:
    """Estimates as dicts, then strict JSON (textio.json_safe: NaN -> None)."""
    def plain(v: Any) -> Any:
        if isinstance(v, Estimate):
            return v.as_dict()
        if isinstance(v, Mapping):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    return json_safe(plain(value))
