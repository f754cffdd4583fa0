"""`popbased evaluate report`: one evaluation's settings, what it evaluated (each policy's
checkpoint, member, generation, model version), its summary table and figures in a single file
to send to a colleague: HTML (figures embedded, no other files needed; tables scroll inside the
page, figures shrink to it) or Markdown (figures referenced next to it).

No value is printed as NaN: a missing one says why (`never` for a depletion step where no
episode depleted, `n/a (1 episode)` for an interval from one episode, ...). Intervals resting
on fewer than MIN_EPISODES episodes are flagged, with a warning above the table.
"""

from __future__ import annotations

import base64
import html
import math
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping

MIN_EPISODES = 5  # fewer episodes per point: a bootstrap interval that cannot be trusted
FIGURES = [("return_by_point.png", "Per-capita return per point"),
           ("return_over_time.png", "Per-capita return over time"),
           ("gini_over_time.png", "Inequality (Gini) over time"),
           ("depleted.png", "Episodes fully depleted"),
           ("reward_histograms.png", "Per-player returns"),
           ("focal_vs_background.png", "Focal vs background")]

STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}"
         ".scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;font-size:13px}"
         "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}"
         "th{background:#f3f3f3}td.text,th.text{text-align:left;white-space:normal}"
         "td.na{color:#777}td.few{background:#fff3cd}"
         ".warn{border:2px solid #d08700;background:#fff3cd;padding:.6em 1em;border-radius:4px}"
         "img{max-width:100%;height:auto}code{word-break:break-all}")


def _number(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _ci(low: str, high: str) -> Callable[[Mapping[str, Any]], str | None]:
    def cell(row):
        a, b = _number(row.get(low)), _number(row.get(high))
        if a is None or b is None:
            return None
        return f"{a:.3g} – {b:.3g}"
    return cell


def _value(key: str, fmt: str, scale: float = 1.0, unit: str = "") -> Callable[[Mapping[str, Any]], str | None]:
    def cell(row):
        x = _number(row.get(key))
        return None if x is None else f"{scale * x:{fmt}}{unit}"
    return cell


# (header, keys it reads, cell text or None, why a value may be missing)
COLUMNS: list[tuple[str, tuple[str, ...], Callable, Callable[[Mapping[str, Any]], str]]] = [
    ("episodes", ("episodes",), _value("episodes", ".0f"), lambda r: "n/a"),
    ("focal return", ("focal_return",), _value("focal_return", ".3g"), lambda r: "n/a (not recorded)"),
    ("focal 95% CI", ("focal_ci_low",), _ci("focal_ci_low", "focal_ci_high"), lambda r: _why_no_ci(r)),
    ("background return", ("background_return",), _value("background_return", ".3g"),
     lambda r: "n/a (not recorded)"),
    ("per-capita return", ("per_capita_return",), _value("per_capita_return", ".3g"), lambda r: "n/a (not recorded)"),
    ("95% CI", ("ci_low",), _ci("ci_low", "ci_high"), lambda r: _why_no_ci(r)),
    ("Gini", ("gini",), _value("gini", ".2f"), lambda r: "n/a (no returns)"),
    ("depleted", ("depleted_fraction",), _value("depleted_fraction", ".0f", 100, "%"),
     lambda r: "n/a (not read from the world)"),
    ("proxy depleted", ("proxy_depleted_fraction",), _value("proxy_depleted_fraction", ".0f", 100, "%"),
     lambda r: "n/a (not recorded)"),
    ("depletion step", ("depletion_step",), _value("depletion_step", ".0f"),
     lambda r: "never" if _number(r.get("depleted_fraction")) == 0 else "n/a (not read from the world)"),
    ("apples eaten", ("apples_eaten_per_capita",), _value("apples_eaten_per_capita", ".3g"),
     lambda r: "n/a (not recorded)"),
    ("zaps fired", ("zaps_fired_per_capita",), _value("zaps_fired_per_capita", ".3g"), lambda r: "n/a (not recorded)"),
    ("zap hits", ("zap_hits_per_capita",), _value("zap_hits_per_capita", ".3g"), lambda r: "n/a (not recorded)"),
]


def _why_no_ci(row: Mapping[str, Any]) -> str:
    n = int(_number(row.get("episodes")) or 0)
    return f"n/a ({n} episode{'s' if n != 1 else ''})" if n < 2 else "n/a"


def rows(summary) -> tuple[list[str], list[list[tuple[str, str]]]]:
    """The summary as text: headers, and per row [(text, css class)]; no NaN anywhere."""
    columns = [c for c in COLUMNS if c[1][0] in summary.columns]
    headers = ["policy", "point", *[c[0] for c in columns]]
    out = []
    for row in summary.to_dict("records"):
        few = (_number(row.get("episodes")) or 0) < MIN_EPISODES
        cells = [(str(row["policy"]), "text"), (str(row["point"]), "text")]
        for header, _, text, why in columns:
            value = text(row)
            if value is None:
                cells.append((why(row), "na"))
            elif "CI" in header and few:
                cells.append((f"{value} ⚠", "few"))
            else:
                cells.append((value, ""))
        out.append(cells)
    return headers, out


def few_episodes_warning(summary) -> str | None:
    if "episodes" not in summary.columns or not len(summary):
        return None
    fewest = int(summary["episodes"].min())
    if fewest >= MIN_EPISODES:
        return None
    return (f"Warning: the 95% bootstrap intervals (marked ⚠) rest on {fewest} episode"
            f"{'s' if fewest != 1 else ''} per policy and point, fewer than {MIN_EPISODES}: a bootstrap over "
            f"so few values understates the uncertainty. Read them as rough ranges; play more episodes "
            f"(--episodes 15, the study's) before drawing conclusions.")


def _settings(info: Mapping[str, Any]) -> list[tuple[str, str]]:
    seconds, rate = _number(info.get("seconds")), _number(info.get("episodes_per_minute"))
    return [("substrate", info["substrate"]), ("policies", ", ".join(info["policies"])),
            ("swept", ", ".join(f"{k} = {', '.join(v)}" for k, v in info["axes"].items()) or "nothing"),
            *([("matrix", ", ".join(f"{m}: {k} focal seats" for m, k in info["modes"].items()))]
              if info.get("modes") else []),
            ("fixed parameters", ", ".join(f"{k}={v}" for k, v in info["fixed"].items()) or "none"),
            ("episodes per point", str(info["episodes"])), ("seed", str(info["seed"])),
            ("step limit", str(info["max_steps"] or "the substrate's own")),
            ("engine", str(info.get("env", "meltingpot"))),
            ("played in", "n/a" if seconds is None else
             f"{seconds:.0f} s" + ("" if rate is None else f" ({rate:.1f} episodes/minute)"))]


def _evaluated(info: Mapping[str, Any]) -> list[tuple[str, str]]:
    sources = info.get("sources")
    if not sources:  # results written before sources were recorded
        return [(label, f"ref {ref}") for label, ref in zip(info["policies"], info.get("policy_refs") or
                                                              ["(not recorded)"] * len(info["policies"]))]
    return [(s.get("label", "?"), describe_source(s, links=False)) for s in sources]


def describe_source(source: Mapping[str, Any], uri: str | None = None, links: bool = True) -> str:
    """One line saying what a policy was: random, scripted, or which checkpoint of which member."""
    if source.get("kind") == "random":
        return "uniform random actions"
    if source.get("kind") == "scripted":
        return f"scripted {source.get('scripted', '?')} harvester (reads the full world state)"
    if source.get("kind") == "population":
        members = source.get("members") or []
        listed = "; ".join(f"{m.get('member', '?')}: checkpoint {m.get('checkpoint', '?')}"
                           + (f" (sha256 {m['sha256'][:12]}...)" if m.get("sha256") else "") for m in members)
        return (f"population {source.get('population', '?')} of {source.get('run_kind', 'run')} "
                f"{source.get('run_name', '')} ({source.get('run_folder', '?')}), generation "
                f"{source.get('generation', '?')}: {len(members)} members mixed in the seats "
                f"({source.get('seats', '?')}): {listed}")
    parts = []
    if source.get("model"):
        model = source["model"]
        if links and uri:  # looked up in the evaluation's own store
            name, version = source.get("model_name"), source.get("model_version")
            model = f"[{model}](#/models/{name}/versions/{version})"
        parts.append(f"model {model}" + (f" (@{source['model_alias']})" if source.get("model_alias") else ""))
    if source.get("member"):
        member = f"member {source['member']}"
        if links and source.get("member_mlflow_id") and source.get("tracking_uri", uri) == uri:
            member = f"[{member}](#/runs/{source['member_mlflow_id']})"
        parts.append(member)
    if source.get("generation") is not None:
        parts.append(f"generation {source['generation']}")
    if source.get("run_folder"):
        run = f"{source.get('run_kind', 'run')} {source.get('run_name', '')} ({source['run_folder']})"
        if links and source.get("run_mlflow_id") and source.get("tracking_uri") == uri:
            run = f"[{run}](#/runs/{source['run_mlflow_id']})"
        parts.append(f"of {run}")
    if source.get("export"):
        parts.append(f"export {source['export']} ({source.get('format', '?')})")
    if source.get("checkpoint"):
        sha = source.get("sha256")
        parts.append(f"checkpoint {source['checkpoint']}" + (f" (sha256 {sha[:12]}...)" if sha else ""))
    return ", ".join(parts) or str(source.get("ref", "?"))


NOTES = ("Per-capita return: mean over players of the substrate's own reward (apples), per episode; "
         "95% CI: percentile bootstrap interval of its mean over episodes. Depleted: the last apple "
         "went (read from the world); proxy: the study's 'no reward increase for 50 steps'. "
         "Depletion step 'never': no episode depleted.")


def write(folder: Path, info: Mapping[str, Any], tables: Mapping[str, Any], output: Path) -> Path:
    summary = tables["summary"]
    headers, body = rows(summary)
    warning = few_episodes_warning(summary)
    if output.suffix.lower() in (".md", ".markdown"):
        lines = [f"# {info['title']}", "", "## What was evaluated", "",
                 *[f"- **{label}**: {text}" for label, text in _evaluated(info)], "", "## Settings", "",
                 *[f"- **{k}**: {v}" for k, v in _settings(info)], "",
                 *([f"> **{warning}**", ""] if warning else []),
                 "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
                 *["| " + " | ".join(text.replace("|", "\\|") for text, _ in cells) + " |" for cells in body],
                 "", NOTES, ""]
        for name, caption in _figures(folder):
            shutil.copyfile(folder / name, output.parent / f"{output.stem}-{name}")
            lines += [f"## {caption}", "", f"![{caption}]({output.stem}-{name})", ""]
        output.write_text("\n".join(lines))
        return output
    e = html.escape
    parts = [f"<!doctype html><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
             f"<title>{e(info['title'])}</title><style>{STYLE}</style>", f"<h1>{e(info['title'])}</h1>",
             "<h2>What was evaluated</h2><ul>",
             *[f"<li><b>{e(label)}</b>: <code>{e(text)}</code></li>" for label, text in _evaluated(info)],
             "</ul><h2>Settings</h2><ul>",
             *[f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in _settings(info)], "</ul>",
             "<h2>Summary</h2>"]
    if warning:
        parts.append(f"<p class='warn'><b>⚠ {e(warning)}</b></p>")
    head = "".join(f"<th class='{'text' if i < 2 else ''}'>{e(h)}</th>" for i, h in enumerate(headers))
    lines = ["".join(f"<td class='{css}'>{e(text)}</td>" for text, css in cells) for cells in body]
    parts += [f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>",
              *[f"<tr>{line}</tr>" for line in lines], "</tbody></table></div>", f"<p>{e(NOTES)}</p>"]
    for name, caption in _figures(folder):
        data = base64.b64encode((folder / name).read_bytes()).decode()
        parts.append(f"<h2>{caption}</h2><img alt='{caption}' src='data:image/png;base64,{data}'>")
    output.write_text("\n".join(parts))
    return output


def _figures(folder: Path) -> list[tuple[str, str]]:
    return [(name, caption) for name, caption in FIGURES if (folder / name).is_file()]
