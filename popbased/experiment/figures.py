"""An experiment's figures (PNG), drawn with rliable's `plot_utils` from `stats`' results:

    performance_profile.png  per arm, the fraction of runs (seeds) scoring above each
                             threshold, with its stratified-bootstrap 95% band over seeds
    intervals.png            per arm, the IQM (and any other aggregate asked for) across
                             seeds with its stratified-bootstrap 95% CI
    genes-ARM.png            per pbt or league arm, each seed's champion's evolved genes in
                             every generation its weights trained through (its line of
                             descent, across copies): how evolution moved them

Colours are the evaluation figures' (Okabe-Ito, colour-blind safe), one per arm in the order
given. matplotlib (Agg backend) and rliable are imported by the functions that draw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Hashable, Mapping, Sequence

import numpy as np

from popbased.evaluation.plots import OKABE_ITO
from popbased.experiment.stats import Estimate, Profile

SCALE = "normalised score (0 = random play, 1 = reference)"
NAMES = {"iqm": "IQM", "mean": "Mean", "median": "Median"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import plot_utils

    return plt, plot_utils


def _colours(arms: Sequence[Hashable]) -> dict[str, str]:
    return {str(arm): OKABE_ITO[i % len(OKABE_ITO)] for i, arm in enumerate(arms)}


def _save(plt, fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def performance_profile_png(profiles: Mapping[Hashable, Profile], path: Path | str, *,
                            xlabel: str = SCALE, title: str | None = None) -> Path:
    """Draws `stats.performance_profile`'s result (rliable's `plot_performance_profiles`): the
    fraction of runs with a score above tau against tau, a line per arm, its 95% band over
    seeds shaded. Returns the PNG's path."""
    if not profiles:
        raise ValueError("performance_profile_png: no arms to draw")
    plt, plot_utils = _pyplot()
    arms = list(profiles)
    taus = next(iter(profiles.values())).taus
    for arm, p in profiles.items():
        if not np.array_equal(p.taus, taus):
            raise ValueError(f"performance_profile_png: arm {arm!r} has other thresholds than {arms[0]!r}")
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    plot_utils.plot_performance_profiles(
        {str(a): profiles[a].fraction for a in arms}, taus,
        performance_profile_cis={str(a): (profiles[a].low, profiles[a].high) for a in arms},
        ax=ax, colors=_colours(arms), xlabel=xlabel, ylabel=r"fraction of runs with score $> \tau$",
        labelsize="large", ticklabelsize="large", legend=True, legendsize="medium")
    ax.set_title(title or "Performance profile across seeds (stratified-bootstrap 95% band)")
    return _save(plt, fig, path)


def intervals_png(estimates: Mapping[Hashable, Mapping[str, Estimate]], path: Path | str, *,
                  metrics: Sequence[str] = ("iqm",), xlabel: str = SCALE, title: str | None = None) -> Path:
    """Draws `stats.aggregate`'s result (rliable's `plot_interval_estimates`): per arm and
    metric, the stratified-bootstrap 95% CI over seeds as a bar and the point estimate as a
    tick. `metrics`: which of the aggregates, the IQM alone by default. Returns the PNG's path."""
    if not estimates:
        raise ValueError("intervals_png: no arms to draw")
    plt, plot_utils = _pyplot()
    arms = list(estimates)
    for arm in arms:
        missing = [m for m in metrics if m not in estimates[arm]]
        if missing:
            raise ValueError(f"intervals_png: arm {arm!r} has no {', '.join(missing)}")
    points = {str(a): np.array([estimates[a][m].point for m in metrics]) for a in arms}
    intervals = {str(a): np.array([[estimates[a][m].low for m in metrics],
                                   [estimates[a][m].high for m in metrics]]) for a in arms}
    row = max(0.55, 2.0 / len(arms))  # inches per arm; at least 2 inches in all
    height = row * len(arms)
    fig, _ = plot_utils.plot_interval_estimates(
        points, intervals, metric_names=[NAMES.get(m, m) for m in metrics],
        algorithms=[str(a) for a in arms], colors=_colours(arms), xlabel=xlabel,
        subfigure_width=4.2, row_height=row, xlabel_y_coordinate=-0.55 / height)
    fig.suptitle(title or "Across seeds: point estimate and stratified-bootstrap 95% CI",
                 y=1 + 0.6 / height, fontsize="x-large")
    return _save(plt, fig, path)


def genes_png(descents: Mapping[Hashable, Sequence[Mapping]], path: Path | str, *,
              title: str = "") -> Path:
    """One panel per gene that moved (in any seed), generation on x, one line per seed:
    `descents` maps a seed to its champion's [{"generation", "values"}] (report._descent)."""
    genes = sorted({g for d in descents.values() for step in d for g in step["values"]})
    if not genes:
        raise ValueError("genes_png: no gene in any descent")
    plt, _ = _pyplot()
    moved = [g for g in genes if len({round(float(step["values"][g]), 12) for d in descents.values()
                                       for step in d if g in step["values"]}) > 1] or genes
    columns = min(3, len(moved))
    rows = -(-len(moved) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.8 * rows), squeeze=False)
    colours = _colours(list(descents))
    for ax, gene in zip(axes.flat, moved):
        for seed, steps in descents.items():
            points = [(step["generation"], step["values"][gene]) for step in steps if gene in step["values"]]
            if points:
                x, y = zip(*points)
                ax.plot(x, y, marker="o", markersize=3, color=colours[str(seed)], label=f"seed {seed}")
        ax.set_title(gene, fontsize=9)
        ax.set_xlabel("generation trained", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(moved):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{title}: each champion's genes along its line of descent (across copies)", fontsize=10)
    fig.tight_layout()
    return _save(plt, fig, path)


def draw(estimates: Mapping[Hashable, Mapping[str, Estimate]], profiles: Mapping[Hashable, Profile],
         folder: Path | str, *, xlabel: str = SCALE) -> list[Path]:
    """Both figures into `folder`: intervals.png (the IQM) and performance_profile.png."""
    folder = Path(folder)
    return [intervals_png(estimates, folder / "intervals.png", xlabel=xlabel),
            performance_profile_png(profiles, folder / "performance_profile.png", xlabel=xlabel)]
