"""The results of `popbased evaluate scenario`: tables, Melting Pot 2.0 scores, figures, report
and an MLflow run, in a results folder like `evaluate run`'s.

Tables (CSV and Parquet), one row per observation:

    episodes  per episode: policy, scenario, mode (resident / visitor), the focal players' and the
              background players' per-capita returns, every seat's (per_capita_return), Gini,
              depletion, apples, zaps (as `evaluate matrix`: point = the scenario)
    players   per episode x seat: return, apples eaten, zaps fired / hit / useful, zapped
    seats     per episode x seat: focal or not, who played it (the policy, or the bot Melting
              Pot drew), its return, zaps fired and how often it took each action
    series    per episode x recorded step: per-capita return and Gini so far, apples
    summary   per policy x scenario: focal per-capita return with its 95% bootstrap CI,
              background return, Gini, depletion, zaps, and the normalised score
    scores    per policy x scenario: focal return, the scenario's min and max over the policies
              compared, the normalised score
    ranking   per policy: the mean normalised score over the scenarios, its rank

The normalised score is Melting Pot 2.0's: per scenario, the focal per-capita return min-max
normalised over the policies compared (0 = the worst of them there, 1 = the best; 0.5 for all
where they tie), then averaged over the scenarios. `random` is always among the policies, so
that a score says how far above uniform random play a policy is, scenario by scenario.

MLflow: experiment `evaluate-scenarios`, one run named after the folder: the settings as
params; metrics `POLICY/SCENARIO/MEASURE` (focal_return, focal_ci_low, focal_ci_high,
background_return, per_capita_return, gini, depleted_fraction, zaps_fired_per_capita, score)
and `POLICY/score` (the mean); every file of the folder as an artifact.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from popbased.evaluation import plots, report, scenario, tables
from popbased.evaluation import policies as refs
from popbased.evaluation.results import check_out, metric_name
from popbased.errors import BadInput
from popbased.league.payoff import normalised
from popbased.ppo.actions import RANDOM
from popbased.rollout.cluster import check_reachable, ensure_ray
from popbased.tracking import store
from popbased.tracking.store import Store

INFO = "evaluation.json"
REPORT = "report.html"
EXTRA = ("seats", "scores", "ranking")
EXPERIMENT = "evaluate-scenarios"
MEASURES = ("focal_return", "focal_ci_low", "focal_ci_high", "background_return", "per_capita_return",
            "gini", "depleted_fraction", "zaps_fired_per_capita", "score")
SCORE_NOTE = ("Normalised score (Melting Pot 2.0): per scenario, the focal per-capita return min-max "
              "normalised over the policies compared (0 = the worst of them there, 1 = the best, 0.5 "
              "for all where they tie), then averaged over the scenarios; random play is always among them.")


def frames(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The tables of played scenarios (see the module's docstring)."""
    import pandas as pd  # deferred: heavy, only where tables are made

    made = tables.frames(results, [])
    label = {f"bots of {r['scenario']}": r["scenario"] for r in results}
    for name in ("episodes", "players", "series"):
        frame = made[name]
        if len(frame):
            frame["scenario"] = frame["background"].map(label)
            frame["point"] = frame["scenario"]
    made["summary"] = tables.summary(made["episodes"], [])
    made["summary"]["scenario"] = made["summary"]["point"]
    made["seats"] = pd.DataFrame(seat_rows(results))
    made["scores"], made["ranking"] = scores(made["summary"])
    score = made["scores"].set_index(["policy", "scenario"])["score"]
    made["summary"]["score"] = [score[(p, s)] for p, s in zip(made["summary"]["policy"],
                                                              made["summary"]["scenario"])]
    return made


def seat_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        for i, e in enumerate(r["episodes"]):
            focal = set(e["focal_seats"])
            bots = iter(e.get("bots") or [])
            for seat, counts in enumerate(e["actions"]):
                row = {"policy": r["policy"], "scenario": r["scenario"], "episode": i, "seat": seat,
                       "focal": seat in focal, "played_by": r["policy"] if seat in focal else next(bots, "?"),
                       "return": float(e["returns"][seat]),
                       "zaps_fired": None if e.get("zaps_fired") is None else int(e["zaps_fired"][seat]),
                       "zap_hits": int(e["zap_hits"][seat]), "steps": e["steps"]}
                row.update({f"action_{name}": int(c) for name, c in zip(e["action_names"], counts)})
                rows.append(row)
    return rows


def scores(summary) -> tuple[Any, Any]:
    """(per policy x scenario scores, the ranking by mean score) from the summary."""
    import pandas as pd  # deferred: heavy, only where tables are made

    rows = []
    for name, group in summary.groupby("scenario", sort=False):
        returns = dict(zip(group["policy"], group["focal_return"].astype(float)))
        scored = normalised(returns)
        finite = [v for v in returns.values() if v == v]
        for policy, value in returns.items():
            rows.append({"policy": policy, "scenario": name, "focal_return": value,
                         "scenario_min": min(finite) if finite else math.nan,
                         "scenario_max": max(finite) if finite else math.nan, "score": scored[policy]})
    per = pd.DataFrame(rows)
    ranking = (per.groupby("policy", sort=False)["score"].agg(["mean", "count"]).reset_index()
               .rename(columns={"mean": "score", "count": "scenarios"}))
    ranking = ranking.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    ranking["rank"] = ranking["score"].rank(ascending=False, method="min").astype(int)
    return per, ranking


def write(out: Path, info: Mapping[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    """Writes every table, figure, evaluation.json and report.html into `out` (replacing it)."""
    staging = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    made = frames(results)
    tables.write(made, staging)
    for name in EXTRA:
        made[name].to_csv(staging / f"{name}.csv", index=False)
        made[name].to_parquet(staging / f"{name}.parquet", index=False)
    plots.draw_all(made, staging, info["title"])
    _draw_scores(made["scores"], made["ranking"], staging / "scores.png", info["title"])
    (staging / INFO).write_text(json.dumps(dict(info), indent=1))
    report.write(staging, info, made, staging / REPORT)
    _add_scores(staging / REPORT, made, info)
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    staging.rename(out)
    return made


def _draw_scores(per, ranking, path: Path, title: str) -> Path:
    import matplotlib  # deferred: heavy, only to draw

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = list(dict.fromkeys(per["scenario"])) + ["mean"]
    policies = list(ranking["policy"])
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(scenarios) * max(1, len(policies)) / 2), 4.2))
    width = 0.8 / max(1, len(policies))
    x = np.arange(len(scenarios))
    mean = dict(zip(ranking["policy"], ranking["score"]))
    for i, policy in enumerate(policies):
        mine = per[per["policy"] == policy].set_index("scenario")["score"]
        values = [float(mine.get(s, math.nan)) for s in scenarios[:-1]] + [float(mean[policy])]
        ax.bar(x + (i - (len(policies) - 1) / 2) * width, values, width,
               color=plots.OKABE_ITO[i % len(plots.OKABE_ITO)], label=policy)
    ax.set_xticks(x, scenarios, rotation=25, ha="right", fontsize=8)
    ax.set(ylim=(-0.03, 1.05), ylabel="normalised focal return (0 worst, 1 best)",
           title=f"{title}: Melting Pot 2.0 scores")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _add_scores(report: Path, made: Mapping[str, Any], info: Mapping[str, Any]) -> None:
    """The scenarios played, the ranking, the scores per scenario and their figure, above the
    summary of the report."""
    ranking, per = made["ranking"], made["scores"]
    table = per.pivot(index="policy", columns="scenario", values="score").reindex(ranking["policy"])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ["rank", "policy", "score", *table.columns])
    body = []
    for row in ranking.itertuples():
        cells = [str(row.rank), html.escape(str(row.policy)), f"{row.score:.3f}",
                 *[f"{v:.3f}" for v in table.loc[row.policy]]]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    image = base64.b64encode((report.parent / "scores.png").read_bytes()).decode()
    played = "".join(
        f"<li><b>{html.escape(s['name'])}</b> ({s['mode']}, {len(s['focal_seats'])} of {s['num_players']} "
        f"seats focal): {html.escape(s['description'])}; bots: {html.escape(', '.join(s['bots']))}</li>"
        for s in info.get("scenario_info", []))
    section = (f"<h2>Scenarios</h2><ul>{played}</ul><p>Bots loaded from "
               f"<code>{html.escape(str(info.get('bots_root')))}</code> by Melting Pot's own scenario code.</p>"
               f"<h2>Scores</h2><div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>"
               + "".join(body) + f"</tbody></table></div><p>{html.escape(SCORE_NOTE)}</p>"
               f"<img alt='Melting Pot 2.0 scores' src='data:image/png;base64,{image}'>")
    text = report.read_text()
    at = text.find("<h2>Summary</h2>")
    report.write_text(text[:at] + section + text[at:] if at >= 0 else text + section)


def track(out: Path, info: Mapping[str, Any], made: Mapping[str, Any], uri: str) -> str | None:
    """Logs the evaluation into one MLflow run (see the module's docstring); its id."""
    store = Store(uri, out, EXPERIMENT, out.resolve().name)
    metrics = {}
    for row in made["summary"].to_dict("records"):
        prefix = f"{metric_name(row['policy'])}/{metric_name(row['scenario'])}"
        for key in MEASURES:
            value = row.get(key)
            if value is not None and value == value:
                metrics[f"{prefix}/{key}"] = float(value)
    for row in made["ranking"].to_dict("records"):
        metrics[f"{metric_name(row['policy'])}/score"] = float(row["score"])
    params = {"scenarios": ",".join(info["scenarios"]), "policies": ",".join(info["policies"]),
              "policy_refs": " ".join(info["policy_refs"]), "episodes": info["episodes"],
              "seed": info["seed"], "max_steps": info["max_steps"], "bots_root": info["bots_root"]}
    files = [str(p) for p in sorted(out.iterdir()) if p.is_file() and not p.name.startswith("tracking")]
    store.log("league", metrics, params=params, artifacts=files,
              tags={"popbased.kind": "scenario-evaluation", "popbased.folder": str(out.resolve()),
                    "mlflow.note.content": f"**{info['title']}**. {SCORE_NOTE}"})
    store.close()
    return store.runs["runs"].get("league")


def prepare(tokens, *, bots_root: str | None, output: str, force: bool, ray_address: str | None,
            tracking_uri: str | None) -> dict[str, Any]:
    """Everything checked before anything is played: the scenarios and their bots' files, the
    policies (random added), the results folder, Ray's address and the MLflow store."""
    names, policy_refs = scenario.split_args(tokens)
    infos, root = scenario.check(names, bots_root)
    chosen = refs.resolve_all(policy_refs, tracking_uri)
    for p in chosen:
        if p.kind == "scripted":
            scenario.check_scripted(p.label, infos)
        if p.kind == "population":
            raise BadInput(f"policy {p.label!r}: a population (its members mixed in the seats) is not a "
                           f"focal policy of Melting Pot's scenarios; play it with `popbased evaluate run`")
    if not any(p.kind == "random" for p in chosen):
        chosen.append(refs.resolve(RANDOM))  # every score is measured against random play
    out = check_out(output, force)
    if ray_address:
        check_reachable(ray_address)
    uri = store.resolve_uri(tracking_uri)
    store.check(uri)
    return {"scenarios": infos, "root": root, "policies": chosen, "policy_refs": list(policy_refs),
            "out": out, "uri": uri, "ray_address": ray_address}


def run(prepared: Mapping[str, Any], *, episodes: int, seed: int, max_steps: int | None,
        progress=None) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """Plays every policy in every scenario, writes the results folder and the MLflow run:
    (tables, info, MLflow run id)."""
    infos, chosen = prepared["scenarios"], prepared["policies"]
    ensure_ray(prepared["ray_address"])
    t0 = time.perf_counter()
    played = scenario.evaluate(chosen, infos, prepared["root"], episodes=episodes, seed=seed,
                               max_steps=max_steps, progress=progress)
    seconds = time.perf_counter() - t0
    names = [s.name for s in infos]
    title = f"Melting Pot scenarios: {', '.join(names) if len(names) <= 3 else f'{len(names)} scenarios'}"
    info = {"title": title, "substrate": ", ".join(dict.fromkeys(s.substrate for s in infos)),
            "scenarios": names, "scenario_info": [dataclass_dict(s) for s in infos],
            "policies": [p.label for p in chosen], "policy_refs": prepared["policy_refs"],
            "bots_root": prepared["root"], "axes": {}, "fixed": {}, "episodes": episodes, "seed": seed,
            "max_steps": max_steps, "env": "meltingpot", "seconds": seconds,
            "episodes_per_minute": 60 * episodes * len(played) / max(seconds, 1e-9)}
    made = write(prepared["out"], info, played)
    return made, info, track(prepared["out"], info, made, prepared["uri"])


def dataclass_dict(item) -> dict[str, Any]:
    return {**dataclasses.asdict(item), "background_seats": list(item.background_seats)}
