"""A generation's payoff table as files a person reads (written into the league folder's
`payoff/` and logged to the league's MLflow run by tracking/league.py):

- `generation-NNNN.csv`: one row per cell (focal population, background, mode) with episodes,
  the focal per-capita return and its 95% CI, the background's return, Gini and the share of
  depleted episodes (MLflow shows it as a table: `payoff/generation-NNNN.json`);
- `generation-NNNN.png`: a heatmap per mode, focal populations down, backgrounds across, each
  cell its focal return (and episodes);
- `generation-NNNN.html`: the heatmap and the table on one page.
Missing values (a cell with one episode has no CI) are shown as blanks, never as NaN.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

COLUMNS = ("focal", "background", "mode", "episodes", "return", "ci_low", "ci_high",
           "background_return", "gini", "depleted")
FOLDER = "payoff"


def paths(folder: Path, generation: int) -> dict[str, Path]:
    stem = Path(folder) / FOLDER / f"generation-{generation:04d}"
    return {kind: stem.with_suffix(f".{kind}") for kind in ("csv", "png", "html")}


def _frame(rows: Iterable[Mapping[str, Any]]):
    import pandas as pd  # deferred: heavy, only to write the files

    frame = pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in rows], columns=list(COLUMNS))
    return frame.astype({"episodes": "int64"}) if len(frame) else frame


def write(folder: Path, generation: int, rows: Iterable[Mapping[str, Any]],
          scores: Mapping[str, float], title: str) -> dict[str, Path]:
    """The three files of generation `generation`; returns their paths."""
    out = paths(folder, generation)
    out["csv"].parent.mkdir(parents=True, exist_ok=True)
    frame = _frame(list(rows))
    frame.to_csv(out["csv"], index=False, float_format="%.6g")
    heatmap(frame, out["png"], f"{title}: payoff, generation {generation}")
    out["html"].write_text(_page(frame, scores, out["png"].name, title, generation))
    return out


def heatmap(frame, path: Path, title: str) -> None:
    import matplotlib  # deferred: heavy, only to draw

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(dict.fromkeys(frame["mode"])) or ["(no matches)"]
    fig, axes = plt.subplots(1, len(modes), squeeze=False,
                             figsize=(max(4.5, 3.2 + 1.1 * frame["background"].nunique()) * len(modes),
                                      1.6 + 0.6 * max(frame["focal"].nunique(), 1)))
    finite = frame["return"].astype(float).dropna()
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    for ax, mode in zip(axes[0], modes):
        part = frame[frame["mode"] == mode]
        focal = sorted(part["focal"].unique())
        background = sorted(part["background"].unique())
        grid = np.full((len(focal), len(background)), np.nan)
        for r in part.to_dict("records"):
            value = float(r["return"])
            grid[focal.index(r["focal"]), background.index(r["background"])] = value
            text = "" if math.isnan(value) else f"{value:.1f}\n(n={r['episodes']})"
            light = not math.isnan(value) and value - low > 0.6 * max(high - low, 1e-9)
            ax.text(background.index(r["background"]), focal.index(r["focal"]), text,
                    ha="center", va="center", fontsize=8, color="black" if light else "white")
        image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", vmin=low,
                          vmax=high if high > low else low + 1, aspect="auto")
        ax.set_xticks(range(len(background)), background, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(focal)), focal, fontsize=8)
        ax.set_xlabel("background")
        ax.set_ylabel("focal population")
        ax.set_title(f"mode {mode}", fontsize=9)
    fig.colorbar(image, ax=axes[0].tolist(), label="focal per-capita return")
    fig.suptitle(title, fontsize=10, y=1.06)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return format(value, fmt) if isinstance(value, (int, float)) else html.escape(str(value))


def _page(frame, scores: Mapping[str, float], image: str, title: str, generation: int) -> str:
    formats = {"episodes": "d", "return": ".1f", "ci_low": ".1f", "ci_high": ".1f",
               "background_return": ".1f", "gini": ".2f", "depleted": ".0%"}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r[c], formats.get(c, 's'))}</td>" for c in COLUMNS)
                   + "</tr>" for r in frame.to_dict("records"))
    score_text = ", ".join(f"{html.escape(p)} {_cell(s, '.2f') or 'n/a (no shared scenario)'}"
                           for p, s in scores.items())
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>{html.escape(title)}: payoff, generation {generation}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em}}
img{{max-width:100%}} .wrap{{overflow-x:auto}} table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}
td:nth-child(-n+3),th:nth-child(-n+3){{text-align:left}}</style></head><body>
<h1>{html.escape(title)}: payoff table, generation {generation}</h1>
<p>Each cell: the focal population's per-capita return (the substrate's own reward, never
shaped) in matches against that background, in that mode; 95% Student-t CI (blank under two
episodes). League score (0 = worst, 1 = best population per scenario, averaged):
{score_text or 'n/a'}.</p>
<img src="{html.escape(image)}" alt="payoff heatmap">
<div class="wrap"><table><tr>{head}</tr>{body}</table></div></body></html>
"""
