"""`popbased evaluate report`: one evaluation's settings, summary table and figures in a
single file to send to a colleague: HTML (figures embedded, no other files needed) or
Markdown (figures referenced next to it)."""

from __future__ import annotations

import base64
import html
import shutil
from pathlib import Path
from typing import Any, Mapping

FIGURES = [("return_by_point.png", "Per-capita return per point"),
           ("return_over_time.png", "Per-capita return over time"),
           ("gini_over_time.png", "Inequality (Gini) over time"),
           ("depleted.png", "Episodes fully depleted"),
           ("reward_histograms.png", "Per-player returns"),
           ("focal_vs_background.png", "Focal vs background")]
COLUMNS = ["policy", "point", "episodes", "focal_return", "focal_ci_low", "focal_ci_high", "background_return",
           "per_capita_return", "ci_low", "ci_high", "gini",
           "depleted_fraction", "proxy_depleted_fraction", "depletion_step", "apples_eaten_per_capita",
           "zaps_fired_per_capita", "zap_hits_per_capita"]


def _settings(info: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [("substrate", info["substrate"]), ("policies", ", ".join(info["policies"])),
            ("swept", ", ".join(f"{k} = {', '.join(v)}" for k, v in info["axes"].items()) or "nothing"),
            *([("matrix", ", ".join(f"{m}: {k} focal seats" for m, k in info["modes"].items()))]
              if info.get("modes") else []),
            ("fixed parameters", ", ".join(f"{k}={v}" for k, v in info["fixed"].items()) or "none"),
            ("episodes per point", str(info["episodes"])), ("seed", str(info["seed"])),
            ("step limit", str(info["max_steps"] or "the substrate's own")),
            ("played in", f"{info['seconds']:.0f} s ({info['episodes_per_minute']:.1f} episodes/minute)")]


NOTES = ("Per-capita return: mean over players of the substrate's own reward (apples), per episode; "
         "ci: 95% percentile bootstrap interval of its mean over episodes. Depleted: the last apple "
         "went (read from the world); proxy: the study's 'no reward increase for 50 steps'.")


def write(folder: Path, info: Mapping[str, Any], tables: Mapping[str, Any], output: Path) -> Path:
    summary = tables["summary"][[c for c in COLUMNS if c in tables["summary"].columns]]
    if output.suffix.lower() in (".md", ".markdown"):
        lines = [f"# {info['title']}", "", *[f"- **{k}**: {v}" for k, v in _settings(info)], "",
                 summary.to_markdown(index=False, floatfmt=".3g") if _has_tabulate() else
                 "```\n" + summary.to_string(index=False) + "\n```", "", NOTES, ""]
        for name, caption in _figures(folder):
            shutil.copyfile(folder / name, output.parent / f"{output.stem}-{name}")
            lines += [f"## {caption}", "", f"![{caption}]({output.stem}-{name})", ""]
        output.write_text("\n".join(lines))
        return output
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(info['title'])}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:"
             "collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
             "img{max-width:100%}</style>", f"<h1>{html.escape(info['title'])}</h1><ul>"]
    parts += [f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in _settings(info)]
    parts += ["</ul>", summary.to_html(index=False, float_format=lambda x: f"{x:.3g}"),
              f"<p>{html.escape(NOTES)}</p>"]
    for name, caption in _figures(folder):
        data = base64.b64encode((folder / name).read_bytes()).decode()
        parts.append(f"<h2>{caption}</h2><img alt='{caption}' src='data:image/png;base64,{data}'>")
    output.write_text("\n".join(parts))
    return output


def _figures(folder: Path) -> list[tuple[str, str]]:
    return [(name, caption) for name, caption in FIGURES if (folder / name).is_file()]


def _has_tabulate() -> bool:
    """pandas' to_markdown needs the optional `tabulate`; without it the table is preformatted."""
    import importlib.util

    return importlib.util.find_spec("tabulate") is not None
