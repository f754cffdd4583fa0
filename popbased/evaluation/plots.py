"""The evaluation's figures (PNG): readable without a legend hunt (titles, axis labels with
units, the sweep value written in each legend), colour-blind-safe colours (Okabe-Ito for
policies, the cividis colour map for ordered sweep values).

    return_over_time.png    per-capita return so far vs step, a line per sweep point, a
                            panel per policy
    gini_over_time.png      the same for the Gini of returns so far
    return_by_point.png     per-capita return per point with its 95% bootstrap CI
    depleted.png            % of episodes fully depleted per policy x point (the study's
                            proxy beside it, hatched)
    reward_histograms.png   per-player episode returns, a panel per policy, a step
                            histogram per point
    focal_vs_background.png (matrix) focal per-capita return with CI per focal x background,
                            a panel per mode, the background players' return as a diamond

A bar of height 0 is drawn as a short thick line on the axis with its value ("0") written
above it, and a missing value (NaN) as "n/a", so that neither reads as a bar left out.

matplotlib is imported by the functions that draw, not here: it is heavy, and the modules that
import this one (results.py) also serve callers that draw nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def _colours(n: int):
    import matplotlib  # deferred (see the module's docstring)

    cmap = matplotlib.colormaps["cividis"]
    return [cmap(x) for x in (np.linspace(0.05, 0.9, n) if n > 1 else [0.4])]


def _panels(n: int, title: str):
    import matplotlib  # deferred (see the module's docstring)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(n, 3)
    rows = -(-n // cols)
    width = 8.5 if n == 1 else 5.2 * cols
    fig, axes = plt.subplots(rows, cols, figsize=(width, 3.8 * rows + 0.4), squeeze=False)
    fig.suptitle(title)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _over_time(series, points: list[str], policies: list[str], column: str, ylabel: str, title: str,
               path: Path) -> Path:
    fig, axes = _panels(len(policies), title)
    colours = _colours(len(points))
    for ax, policy in zip(axes, policies):
        mine = series[series["policy"] == policy]
        for colour, point in zip(colours, points):
            curve = mine[mine["point"] == point].groupby("step")[column].mean()
            ax.plot(curve.index, curve.values, color=colour, label=point, linewidth=1.6)
        ax.set(title=policy, xlabel="step (environment steps)", ylabel=ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, title="point", title_fontsize=7)
    return _save(fig, path)


def _mark_flat(ax, xs, values, colour, width: float) -> None:
    """Zero-height bars visible: a thick line at 0 as wide as the bar and the value written
    above it; a missing value says n/a (see _below_zero for the axis)."""
    for x, value in zip(xs, values):
        if value != value or value == 0:
            if value == 0:
                ax.plot([x - width / 2, x + width / 2], [0, 0], color=colour, linewidth=3,
                        solid_capstyle="butt", zorder=3, clip_on=False)
            ax.annotate("0" if value == 0 else "n/a", (x, 0), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7, color="black")


def _below_zero(ax) -> None:
    """Bars start at 0: the axis starts a little below, so a line drawn at 0 shows."""
    low, high = ax.get_ylim()
    if low >= 0:
        ax.set_ylim(-0.03 * max(high, 1.0), high)


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt  # deferred (see the module's docstring)

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_all(tables, folder: Path, title: str) -> list[Path]:
    summary, series, players = tables["summary"], tables["series"], tables["players"]
    points = list(dict.fromkeys(summary["point"]))
    policies = list(dict.fromkeys(summary["policy"]))
    out = [
        _over_time(series, points, policies, "per_capita_return", "per-capita return so far (apples)",
                   f"{title}: per-capita return over time", folder / "return_over_time.png"),
        _over_time(series, points, policies, "gini", "Gini of returns so far (0 = equal)",
                   f"{title}: inequality over time", folder / "gini_over_time.png"),
        _by_point(summary, points, policies, title, folder / "return_by_point.png"),
        _depleted(summary, points, policies, title, folder / "depleted.png"),
        _histograms(players, points, policies, title, folder / "reward_histograms.png"),
    ]
    if "focal_return" in summary:
        out.append(_focal_vs_background(summary, title, folder / "focal_vs_background.png"))
    return out


def _focal_vs_background(summary, title, path: Path) -> Path:
    modes = list(dict.fromkeys(summary["mode"]))
    fig, axes = _panels(len(modes), f"{title}: focal vs background per scenario")
    for ax, mode in zip(axes, modes):
        rows = summary[summary["mode"] == mode]
        focals = list(dict.fromkeys(rows["policy"]))
        backgrounds = list(dict.fromkeys(rows["background"]))
        width = 0.8 / len(backgrounds)
        for j, background in enumerate(backgrounds):
            mine = rows[rows["background"] == background].set_index("policy").reindex(focals)
            x = np.arange(len(focals)) + (j - (len(backgrounds) - 1) / 2) * width
            mean = mine["focal_return"].to_numpy(float)
            err = np.vstack([mean - mine["focal_ci_low"].to_numpy(float), mine["focal_ci_high"].to_numpy(float) - mean])
            colour = OKABE_ITO[j % len(OKABE_ITO)]
            ax.bar(x, mean, width, yerr=np.nan_to_num(err), capsize=3, color=colour,
                   label=f"focal, background {background}")
            _mark_flat(ax, x, mean, colour, width)
            ax.plot(x, mine["background_return"].to_numpy(float), "D", color="black", markersize=5,
                    label="background players" if j == 0 else None)
        _below_zero(ax)
        k = int(rows["focal_seats"].iloc[0])
        ax.set_xticks(np.arange(len(focals)), focals, rotation=20, ha="right", fontsize=8)
        ax.set(title=f"{mode} ({k} focal seats)", xlabel="focal policy",
               ylabel="per-capita return per episode (apples)")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, path)


def _by_point(summary, points, policies, title, path: Path) -> Path:
    fig, (ax,) = _panels(1, f"{title}: per-capita return per point (mean, 95% bootstrap CI)")
    x = np.arange(len(points))
    width = 0.8 / len(policies)
    for i, policy in enumerate(policies):
        rows = summary[summary["policy"] == policy].set_index("point").reindex(points)
        mean = rows["per_capita_return"].to_numpy(float)
        err = np.vstack([mean - rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float) - mean])
        offset = x + (i - (len(policies) - 1) / 2) * width
        ax.bar(offset, mean, width, yerr=np.nan_to_num(err), capsize=3,
               color=OKABE_ITO[i % len(OKABE_ITO)], label=policy)
        _mark_flat(ax, offset, mean, OKABE_ITO[i % len(OKABE_ITO)], width)
    _below_zero(ax)
    ax.set_xticks(x, points, rotation=30, ha="right", fontsize=8)
    ax.set(xlabel="point", ylabel="per-capita return per episode (apples)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, title="policy")
    return _save(fig, path)


def _depleted(summary, points, policies, title, path: Path) -> Path:
    fig, (ax,) = _panels(1, f"{title}: episodes fully depleted\n(solid: from the world; hatched: "
                            f"the study's proxy, no reward increase for 50 steps)")
    x = np.arange(len(points))
    width = 0.8 / len(policies)
    for i, policy in enumerate(policies):
        rows = summary[summary["policy"] == policy].set_index("point").reindex(points)
        offset = x + (i - (len(policies) - 1) / 2) * width
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        world = 100 * rows["depleted_fraction"].to_numpy(float)
        proxy = 100 * rows["proxy_depleted_fraction"].to_numpy(float)
        ax.bar(offset - width / 4, world, width / 2, color=colour, label=f"{policy}")
        ax.bar(offset + width / 4, proxy, width / 2, color="white", edgecolor=colour, hatch="///",
               label=f"{policy} (proxy)")
        ax.set_ylim(-3, 108)
        _mark_flat(ax, offset - width / 4, world, colour, width / 2)
        _mark_flat(ax, offset + width / 4, proxy, colour, width / 2)
    ax.set_xticks(x, points, rotation=30, ha="right", fontsize=8)
    ax.set(xlabel="point", ylabel="episodes fully depleted (%)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, title="policy")
    return _save(fig, path)


def _histograms(players, points, policies, title, path: Path) -> Path:
    fig, axes = _panels(len(policies), f"{title}: per-player episode returns")
    colours = _colours(len(points))
    bins = np.histogram_bin_edges(players["return"].to_numpy(float), bins=20)
    for ax, policy in zip(axes, policies):
        mine = players[players["policy"] == policy]
        for colour, point in zip(colours, points):
            values = mine[mine["point"] == point]["return"].to_numpy(float)
            ax.hist(values, bins=bins, histtype="step", linewidth=1.6, color=colour, label=point)
        ax.set(title=policy, xlabel="episode return of one player (apples)", ylabel="players x episodes")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, title="point", title_fontsize=7)
    return _save(fig, path)
