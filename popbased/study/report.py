"""The study's report: OUT/report.html (tables, figures, links to every evaluation's own
report), OUT/summary.md (the headline tables, as the README quotes them) and OUT/summary.json
(every number with its interval)."""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

from popbased.study import figures, findings
from popbased.study.numbers import Evaluations, as_json
from popbased.study.plan import StudyPlan

STYLE = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;"
         "text-align:right;vertical-align:top}td.text,th.text{text-align:left}th{background:#f3f3f3}"
         "td.yes{background:#e3f5e1}td.no{background:#fbe3e3}img{max-width:100%}"
         "small{color:#555}")


EVAL_FIGURES = (
    ("home", "reward_histograms.png", "Reward histograms per policy (the study's Fig. 1), open substrate"),
    ("home", "return_over_time.png", "Per-capita return over the episode, open substrate"),
    ("home", "gini_over_time.png", "Gini over the episode, open substrate"),
    ("home", "depleted.png", "Episodes fully depleted (world and proxy), open substrate"),
    ("scarcity", "depleted.png", "Episodes fully depleted at regrowth x0.5"),
    ("regrowth_sweep", "return_by_point.png", "Regrowth sweep: per-capita return"),
    ("regrowth_sweep", "depleted.png", "Regrowth sweep: episodes fully depleted"),
    ("cooldown_sweep", "gini_over_time.png", "Cooldown sweep: Gini over the episode"),
    ("cooldown_sweep", "depleted.png", "Cooldown sweep: episodes fully depleted"),
    ("matrix", "focal_vs_background.png", "Focal x background, resident and visitor"),
)
"""(evaluation, figure, caption): what `popbased evaluate` drew, shown in the study report."""


def _trained(out: Path, plan: StudyPlan) -> list[dict[str, Any]]:
    rows = []
    for run in plan.runs:
        marker = out / "steps" / f"train-{run.name}.json"
        if not marker.is_file():
            rows.append({"run": run.name, "kind": run.kind, "agent_steps": None, "minutes": None})
            continue
        result = json.loads(marker.read_text()).get("result", {})
        elapsed = result.get("elapsed_s")
        rows.append({"run": run.name, "kind": run.kind, "agent_steps": result.get("agent_steps"),
                     "minutes": elapsed / 60 if elapsed else None,
                     "per_s": result.get("agent_steps_per_s")
                     or (result.get("agent_steps") / elapsed if elapsed and result.get("agent_steps") else None),
                     "generations": result.get("generation")})
    return rows


def _moved(name: str, change) -> str:
    old, new, how = (list(change) + [None, None, ""])[:3]
    if old is None:
        return f"{name} {new:.3g}"
    return f"{name} {old:.3g} -> {new:.3g} ({how})"


def _ablation_rows(ab) -> list[list[str]]:
    rows = []
    for run, m in ab["table"].items():
        rows.append([run, f"{m['return'].text()} {m['return'].ci()}",
                     f"{m['depleted'].text('.0f', True)} {m['depleted'].ci('.0f', True)}",
                     m["proxy"].text(".0f", True), f"{m['gini'].text('.3f')} {m['gini'].ci('.3f')}"])
    return rows


def _winner_rows(ab) -> list[list[str]]:
    return [[w["label"], w["winner"], "yes" if w["clear"] else
             "no (tied)" if w["runner_up"] is None else f"no (CI overlaps {w['runner_up']}'s)"]
            for w in ab["winners"].values()]


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    cells = lambda r: "| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |"  # noqa: E731
    return [cells(headers), "|" + "---|" * len(headers), *[cells(r) for r in rows], ""]


def _html_table(headers: list[str], rows: list[list[str]], css=None) -> str:
    head = "".join(f"<th class='text'>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, r in enumerate(rows):
        cls = css(i) if css else [""] * len(r)
        body.append("<tr>" + "".join(f"<td class='text {c}'>{html.escape(str(v))}</td>"
                                     for v, c in zip(r, cls)) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def write(plan: StudyPlan, out: Path) -> Path:
    ev = Evaluations(plan, out)
    played = sorted({int(i["episodes"]) for i in ev.info.values() if i.get("episodes")})
    per_point = "/".join(str(n) for n in played) if played else str(plan.episodes)
    claims = findings.claims(ev)
    ab = findings.ablation(ev)
    goals = findings.goals(ev)
    trained = _trained(out, plan)
    lineage = figures.champion_lineage(plan, out)
    (out / "figures").mkdir(exist_ok=True)
    made = [figures.plot_training(figures.training_curve(plan, out), out / "figures" / "training.png"),
            figures.plot_shaping(figures.shaping_paths(plan, out), out / "figures" / "shaping.png")]
    summary = {"study": plan.name, "trained": trained, "goals": goals,
               "claims": [{k: v for k, v in c.items()} for c in claims],
               "ablation": ab, "shaping": figures.shaping_paths(plan, out), "lineage": lineage,
               "evaluations": {k: {"policies": i.get("policy_refs"), "episodes": i.get("episodes"),
                                   "seconds": i.get("seconds")} for k, i in ev.info.items()}}
    (out / "summary.json").write_text(json.dumps(as_json(summary), indent=2, default=str))

    claim_rows = [[c["metric"], c["study"], c["ours"], c["ci"], c["verdict"]] for c in claims]
    goal_rows = [[g["goal"], g["ours"], g["ci"], {True: "met", False: "not met", None: "not measured"}[g["met"]]]
                 for g in goals]
    md = [f"# Study: {plan.name}", "", "All numbers: real Melting Pot, "
          f"{per_point} episodes per point, 95% intervals (bootstrap for means and ratios, "
          "Wilson for shares).", "", "## Goals", "",
          *_md_table(["goal", "ours", "CI", ""], goal_rows),
          "## The study and ours", "", *_md_table(["metric", "study", "ours", "CI", "verdict"], claim_rows),
          "## Ablation (open substrate, same budget per run)", "",
          *_md_table(["run", "per-capita return [CI]", "depleted [CI]", "proxy", "Gini [CI]"], _ablation_rows(ab)),
          *_md_table(["objective", "winner", "clear (CIs apart)"], _winner_rows(ab)),
          "## The champions' shaping weights", "",
          *_md_table(["population", "champion", "final shaping weights", "copies / mutations"],
                     [[pop, i["champion"], ", ".join(f"{k} {v:.3g}" for k, v in i["final"].items()),
                       f"{sum(ev['kind'] in ('exploit', 'adopt') for ev in i['events'])} / "
                       f"{sum(ev['kind'] == 'explore' for ev in i['events'])}"]
                      for pop, i in lineage.items()])]
    (out / "summary.md").write_text("\n".join(md))

    e = html.escape
    parts = [f"<!doctype html><meta charset='utf-8'><title>Study {e(plan.name)}</title>"
             f"<style>{STYLE}</style><h1>The safety study, reproduced: {e(plan.name)}</h1>",
             f"<p>Trained on the fast commons_harvest; every number below is from real Melting Pot, "
             f"{per_point} episodes per point, with 95% intervals (bootstrap for means and "
             f"ratios, Wilson for shares). Study file: <code>{e(str(plan.source))}</code>. "
             f"<i>Depleted</i> is the world's own count (no apple left); <i>proxy</i> is the "
             f"study's test (no reward for 50 steps), which also fires when players merely stop "
             f"eating (random play: 0% depleted, over 90% by the proxy).</p>",
             "<h2>Goals</h2>",
             _html_table(["goal", "ours", "CI", ""], goal_rows,
                         lambda i: ["", "", "", {True: "yes", False: "no", None: ""}[goals[i]["met"]]]),
             "<h2>The study's published figures beside ours</h2>",
             _html_table(["metric", "study", "ours", "CI", "verdict"], claim_rows),
             "<p><small>The study's words for each figure:</small></p><ul>",
             *[f"<li><small><b>{e(c['metric'])}</b>: “{e(c['quote'])}”</small></li>" for c in claims],
             "</ul><h2>Ablation: plain PPO with fixed shaping vs PBT with evolved shaping</h2>",
             _html_table(["run", "per-capita return [CI]", "depleted [CI]", "proxy", "Gini [CI]"],
                         _ablation_rows(ab)),
             _html_table(["objective", "winner", "clear (CIs apart)"], _winner_rows(ab)),
             "<h2>Training</h2>",
             _html_table(["run", "kind", "agent-steps", "minutes", "agent-steps/s"],
                         [[t["run"], t["kind"], f"{t['agent_steps']:,}" if t["agent_steps"] else "not run",
                           f"{t['minutes']:.1f}" if t.get("minutes") else "",
                           f"{t['per_s']:,.0f}" if t.get("per_s") else ""] for t in trained])]
    for path, caption in zip(made, ("Training curves (fast env)",
                                    "Shaping weights per member and generation (PBT)")):
        if path:
            data = base64.b64encode(path.read_bytes()).decode()
            parts.append(f"<h3>{caption}</h3><img alt='{caption}' src='data:image/png;base64,{data}'>")
    parts.append("<h2>The study's figures, from our evaluations</h2>")
    for kind, name, caption in EVAL_FIGURES:
        path = out / "eval" / kind / name
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode()
            parts.append(f"<h3>{e(caption)} <small>(eval/{e(kind)})</small></h3>"
                         f"<img alt='{e(caption)}' src='data:image/png;base64,{data}'>")
    parts.append("<h2>The champions' lineage: how their shaping weights moved</h2>")
    for pop, info in lineage.items():
        final = ", ".join(f"{k} {v:.3g}" for k, v in info["final"].items())
        parts.append(f"<h3>{e(pop)}: champion {e(info['champion'])} (final: {e(final)})</h3>")
        parts.append(_html_table(["generation", "event", "donor", "shaping weights"],
                                 [[str(ev["generation"]), ev["kind"], ev["donor"] or "",
                                   "; ".join(_moved(k, v) for k, v in ev["shaping"].items())]
                                  for ev in info["events"]]))
    parts.append("<h2>Every evaluation</h2><ul>")
    for kind in ev.info:
        link = os.path.relpath(out / "eval" / kind / "report.html", out)
        parts.append(f"<li><a href='{e(link)}'>{e(kind)}</a>: "
                     f"{e(', '.join(ev.info[kind].get('policies', [])))}</li>")
    parts.append("</ul>")
    (out / "report.html").write_text("\n".join(parts))
    return out / "report.html"
