"""An experiment's report: every finished evaluation read back (OUT/eval/*/episodes.csv),
scored and aggregated with popbased.experiment.stats (rliable), drawn with
popbased.experiment.figures, and written as OUT/summary.json and OUT/report.md (the tables:
popbased.experiment.markdown), then copied to results/NAME/ with the figures.

The numbers: a run's score is `stats.run_score` over its evaluation episodes (per-capita return
per 1,000 steps); normalised with `stats.normalise` (0 = random play, 1 = the reference, both
evaluated once on the same episode seeds). A pbt or league arm is scored twice, as its
champion in every seat ("ARM") and as its whole population, its members mixed in the seats as
they trained ("ARM (population)", a row of its own scored the same way). Across an arm's
seeds `stats.aggregate` (IQM, mean, median, stratified-bootstrap 95% CIs);
`stats.probability_of_improvement` for every pair of rows; `stats.performance_profile`;
depletion both ways per run with the fraction of the map's apple patches that died
(`stats.depletion`), and the run's harvest efficiency, its apples eaten per step over the map's
computed sustainable ceiling (`stats.harvest_efficiency`, popbased.env.fast.ceiling), each
aggregated across seeds like the score (patch deaths over the runs whose evaluations counted
them: older episodes.csv files have no patch columns, and their runs read n/a).
Paths in the summary are relative to OUT (the experiment file's to the working folder): no
machine's folders.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from popbased.errors import BadInput
from popbased.evaluation.suite import is_baseline
from popbased.experiment import figures, markdown, stats
from popbased.experiment.record import read_record, relative
from popbased.experiment.steps import lineage_file
from popbased.population.lineage import LineageLog
from popbased.textio import json_safe, write_atomic

EPISODES = "episodes.csv"
LEFT = ("A run scored as its population (\"ARM (population)\") is scored on all its players "
        "together; which member earned what is not broken out here (its evaluation's players.csv "
        "has each seat's return: seat j holds member j mod n, members in id order). A population "
        "of more members than the substrate has seats is not scored as a population.",)
"""What the report does not measure yet, said in every report."""


def _episodes(folder: Path) -> list[dict] | None:
    """The episode summaries of an evaluation folder (None while it has none)."""
    import pandas as pd  # deferred: heavy, and only the report reads tables

    path = folder / EPISODES
    if not path.is_file():
        return None
    return pd.read_csv(path).to_dict("records")


def _marker(out: Path, row: dict) -> dict:
    try:
        return json.loads((out / row["marker"]).read_text())
    except (OSError, ValueError):
        return {}


def code_versions(out: Path, record: dict) -> dict[str, int]:
    """How many of the finished steps each version of the code ran (popbased.provenance)."""
    from popbased.provenance import label

    return dict(Counter(label(_marker(out, row).get("code")) for row in record["steps"]
                        if (out / row["marker"]).is_file()))


def ceiling(substrate: str) -> float | None:
    """The evaluation map's sustainable harvest, apples per player per 1,000 steps
    (popbased.env.fast.ceiling: 126.9 on the open map); None where there is none to compute
    (not a commons_harvest map, or a patch too large to search, as private_property's)."""
    # deferred: Melting Pot's configs, read only for a report
    from popbased.env.fast.ceiling import ceiling_rate
    from popbased.env.fast.maps import build_map
    from popbased.substrates import resolve
    from popbased.substrates.params import CommonsParams

    spec = resolve(substrate)
    if not isinstance(spec.params, CommonsParams):
        return None
    try:
        return 1000.0 * ceiling_rate(build_map(spec.params)) / spec.num_players
    except ValueError:
        return None


def _efficiency(episodes: list[dict], ceiling: float | None) -> float | None:
    """`stats.harvest_efficiency`, or None without a ceiling or apples eaten to read."""
    if ceiling is None or not all("apples_eaten_per_capita" in e or "apples_eaten" in e
                                  for e in episodes):
        return None
    return stats.harvest_efficiency(episodes, ceiling)


def _champion(out: Path, arm: str, seed) -> dict | None:
    """The exported champion of a pbt or league run (OUT/champions/ARM/seed-S/POP/policy.json):
    its member, its gene values at the end and whom its weights were copied from (the lineage
    says whether evolution moved it or it is a generation-0 draw; with `[pbt] inherit =
    "genes"`, whose genes it took); None for other runs."""
    found = sorted((out / "champions" / arm / f"seed-{seed}").glob("*/policy.json"))
    if not found:
        return None
    try:
        info = json.loads(found[0].read_text())
    except (OSError, ValueError):
        return None
    lineage = info.get("lineage") or {}
    genes = info.get("evolved") or {}
    made = {"member": info.get("member"), "genes": genes,
            "copied_from": lineage.get("copied_from") or [],
            "birth_generation": lineage.get("birth_generation")}
    descent, adopted = _descent(out, arm, seed, info.get("member"), genes)
    if adopted:  # `[pbt] inherit = "genes"`: donors whose genes it took, its weights its own
        made["genes_from"] = adopted
    return {**made, "descent": descent} if descent else made


def _descent(out: Path, arm: str, seed, member: str | None, genes) -> tuple[list[dict] | None, list]:
    """The champion's evolved genes in each generation its weights trained through, following
    them back through every copy (LineageLog.descent), and the (generation, donor) of each
    donor whose genes alone it (or an ancestor of its weights) took (LineageLog.adoptions),
    from the run's lineage.jsonl (in OUT, or restored there from results/NAME/state);
    (None, []) where the run's lineage is not kept."""
    path = lineage_file(out, arm, int(seed))
    if member is None or not genes or path is None:
        return None, []
    try:
        log = LineageLog(path)
        steps, adopted = log.descent(member), log.adoptions(member)
    except (BadInput, OSError, ValueError):
        return None, []
    return ([{"generation": g, "values": {k: v[k] for k in genes if k in v}} for g, v in steps] or None,
            [list(a) for a in adopted])


def _finite(value):
    return None if value is None or value != value else value


def suite_score(out: Path, rows: dict, arm: str, seed, tag: str = "") -> dict | None:
    """The champion's overall score on a suite of the experiment (`tag`: its steps' tag, empty
    where the experiment has one suite): {suite, score, scenarios, of, by_scenario}; None: no
    such suite evaluation finished."""
    row = rows.get(f"suite/{tag + '/' if tag else ''}{arm}" + ("" if seed is None else f"/seed-{seed}"))
    if row is None or not (out / row["marker"]).exists():
        return None
    try:
        made = json.loads((out / row["folder"] / "suite.json").read_text())
    except (OSError, ValueError):
        return None
    mine = [(k, v) for k, v in made.get("overall", {}).items() if not is_baseline(k)]
    if len(mine) != 1:
        return None
    label, overall = mine[0]
    by_scenario = {r["scenario"]: {k: r[k] for k in ("score", "focal_return", "depleted", "proxy_depleted")
                                   if k in r and _finite(r[k]) is not None}
                   for r in made.get("rows", []) if r.get("policy") == label}
    return {"suite": made.get("suite", tag), "reference": made.get("reference"), **overall, "by_scenario": by_scenario,
            "random_episodes": _random_episodes(made.get("rows", []))}


def _random_episodes(rows: list[dict]) -> dict[str, list[float]]:
    """Per scenario, random play's focal return in each of its episodes on the score's scale
    (0 = its mean, 1 = the reference's mean), where the reference beats it: what random play's
    own interval is bootstrapped from (`suite_scenarios`)."""
    reference = {r.get("scenario"): r.get("focal_return") for r in rows if r.get("policy") == "reference"}
    made = {}
    for r in rows:
        low, high = r.get("focal_return"), reference.get(r.get("scenario"))
        if r.get("policy") == "random" and r.get("focal_returns") and low is not None and high is not None \
                and high > low:
            made[r["scenario"]] = stats.normalise(r["focal_returns"], low, high).tolist()
    return made


def suite_scenarios(arms: dict, reps: dict) -> dict | None:
    """Per suite, arm and scenario, the champions' scores across seeds (IQM, mean with 95% CIs),
    their focal per-capita return (IQM) and depletion both ways (means over seeds), and whether
    the score is above random play with the CIs apart: the champions' IQM lower bound above the
    upper bound of random play's own 95% CI (random play is evaluated once, so its interval is
    a bootstrap of its mean over its episodes; where a suite's results lack them, above 0)."""
    by: dict[str, dict] = {}
    random: dict[str, dict[str, list[float]]] = {}
    for arm, info in arms.items():
        for seed, run in info["runs"].items():
            for name, suite in (run.get("suites") or {}).items():
                for scenario, v in (suite.get("by_scenario") or {}).items():
                    by.setdefault(name, {}).setdefault(arm, {}).setdefault(scenario, []).append(v)
                for scenario, v in (suite.get("random_episodes") or {}).items():
                    random.setdefault(name, {}).setdefault(scenario, v)  # one baselines step a suite
    return {name: _by_scenario(of, reps, _random_bands(random.get(name, {}), reps))
            for name, of in by.items()} or None


def _random_bands(episodes: dict[str, list[float]], reps: dict) -> dict[str, dict]:
    """Per scenario, random play's mean score over its episodes with its 95% CI (rliable's
    bootstrap over the episodes; `stats.mean_interval`)."""
    kept = {sc: v for sc, v in episodes.items() if v}
    return {sc: e.as_dict() for sc, e in stats.mean_interval(kept, **reps.get("aggregate", {})).items()}


def _by_scenario(by: dict, reps: dict, random: dict[str, dict] | None = None) -> dict:
    out = {}
    for arm, scenarios in by.items():
        scores = {sc: [v["score"] for v in vs if "score" in v] for sc, vs in scenarios.items()}
        returns = {sc: [v["focal_return"] for v in vs if "focal_return" in v] for sc, vs in scenarios.items()}
        agg, ret = aggregated(scores, reps), aggregated(returns, reps)
        out[arm] = {}
        for sc, vs in scenarios.items():
            row = {"seeds": len(vs), "score": agg.get(sc, {}), "focal_return": ret.get(sc, {})}
            for k in ("depleted", "proxy_depleted"):
                got = [v[k] for v in vs if k in v]
                if got:
                    row[k] = float(np.mean(got))
            band = (random or {}).get(sc)
            if band:
                row["random"] = band
            low = (row["score"].get("iqm") or {}).get("low")
            row["above_random"] = low is not None and low > (band["high"] if band else 0)
            out[arm][sc] = row
    return out


def _suite_values(arms: dict) -> dict[str, dict[str, list[float]]]:
    """Per suite and arm, its runs' overall scores on that suite (seeds without one left out)."""
    names = dict.fromkeys(n for info in arms.values() for run in info["runs"].values()
                          for n in (run.get("suites") or {}))
    return {name: {arm: [s for run in info["runs"].values()
                         if (s := _finite(((run.get("suites") or {}).get(name) or {}).get("score"))) is not None]
                   for arm, info in arms.items()} for name in names}


def suite_overall(arms: dict, reps: dict) -> dict[str, dict]:
    """Per suite, each arm's overall score across seeds (IQM, mean, median with 95% CIs) and its
    number of runs: every suite of the experiment, not only the first (the metric "suite")."""
    made = {}
    for name, values in _suite_values(arms).items():
        made[name] = {arm: {"runs": len(values[arm]), **agg} for arm, agg in aggregated(values, reps).items()}
    return made


def suite_poi(arms: dict, reps: dict) -> list[dict]:
    """P(X > Y) on each suite's overall score between every two arms scored on it."""
    made = []
    for name, values in _suite_values(arms).items():
        pairs = list(itertools.combinations([a for a, v in values.items() if v], 2))
        if pairs:
            poi = stats.probability_of_improvement(values, pairs, **reps.get("poi", {}))
            made += [{"x": x, "y": y, "metric": "suite", "suite": name, **e.as_dict()} for (x, y), e in poi.items()]
    return made


def _run(out: Path, row: dict, trained: dict, ceiling: float | None = None) -> dict | None:
    """One evaluation's numbers (None: not evaluated yet)."""
    if not (out / row["marker"]).exists():
        return None
    folder = row["folder"]
    episodes = _episodes(out / folder)
    if not episodes:
        return None
    run = {"score": stats.run_score(episodes), "episodes": len(episodes),
           "depletion": stats.depletion(episodes),
           "harvest_efficiency": _efficiency(episodes, ceiling), "eval": folder}
    result = trained.get("result") if isinstance(trained.get("result"), dict) else {}
    if "agent_steps" in result:
        run["agent_steps_trained"] = result["agent_steps"]
    return run


def _alone(record: dict, cells: dict, arms: dict) -> dict[tuple, dict[str, float]]:
    """The matrix's missing diagonal: each matrix arm against itself, in every mode and seed the
    matrix has, from the arm's own evaluation as `collect` scored it (`arms`: its champion in
    every seat, `episodes` episodes; a champion arm's one evaluation stands for every seed). The
    matrix scores the focal seats and the evaluation all seats, which are alike in expectation
    (spawn points are drawn per episode). So P(X > Y) against background Y compares X among
    Y's with Y alone, and X among Y's against X alone asks whether X does better among Y's than
    among its own: the study's "no_zap among zappers" question."""
    alone: dict[tuple, dict[str, float]] = {}
    for mode in sorted({k[0] for k in cells}):
        # in seed order: a set's order changes from process to process (string hashing), and
        # the bootstrap's resamples, so the interval, follow the order of the values
        seeds = sorted({seed for k, v in cells.items() if k[0] == mode for seed in v},
                       key=lambda s: (0, int(s)) if s.isdigit() else (1, s))
        for arm in record["matrix_arms"]:
            runs = arms.get(arm, {}).get("runs", {})
            got = {seed: (runs.get(seed) or runs.get("-") or {}).get("score") for seed in seeds}
            got = {seed: v for seed, v in got.items() if v is not None}
            if got:
                alone[(mode, arm, arm)] = got
    return alone


def cross_play(out: Path, record: dict, reps: dict, arms: dict) -> dict | None:
    """The cross-play matrices ([matrix]) read back: per mode, focal and background, each seed's
    focal score (the focal players' per-capita return per 1,000 steps, as `stats.run_score`),
    aggregated across seeds; and for every background and mode, the probability that one
    focal arm's champion scores above another's against it."""
    import pandas as pd  # deferred: heavy, only the report reads tables

    roles = record.get("matrix_roles")
    rows = [r for r in record["steps"] if r["stage"] == "matrix"]
    if not roles or not rows:
        return None
    cells: dict[tuple, dict[str, float]] = {}
    for row in rows:
        folder = out / row["folder"]
        if not (out / row["marker"]).exists() or not (folder / EPISODES).is_file():
            continue
        labels = json.loads((folder / "evaluation.json").read_text())["policies"]
        role = dict(zip(labels, roles))
        table = pd.read_csv(folder / EPISODES)
        for (mode, focal, background), group in table.groupby(["mode", "policy", "background"]):
            episodes = [{"per_capita_return": r, "steps": s}
                        for r, s in zip(group["focal_return"], group["steps"])]
            cells.setdefault((mode, role[focal], role[background]), {})[str(row["seed"])] = \
                stats.run_score(episodes)
    if not cells:
        return None
    alone = _alone(record, cells, arms)
    cells.update(alone)
    names = {k: f"{k[0]}: {k[1]} vs {k[2]}" for k in cells}
    by_cell = aggregated({names[k]: list(v.values()) for k, v in cells.items()}, reps)
    out_cells = [{"mode": k[0], "focal": k[1], "background": k[2], "runs": v,
                  "aggregate": by_cell.get(names[k], {}), **({"alone": True} if k in alone else {})}
                 for k, v in cells.items()]
    pairs, scores = [], {}
    for (mode, focal, background), v in cells.items():
        scores[names[(mode, focal, background)]] = list(v.values())
    arms = record["matrix_arms"]
    for mode, background in sorted({(k[0], k[2]) for k in cells}):
        focals = sorted((k[1] for k in cells if k[0] == mode and k[2] == background and k[1] in arms),
                        key=lambda f: (f == background, arms.index(f)))  # the arm alone last
        pairs += [(names[(mode, x, background)], names[(mode, y, background)])
                  for x, y in itertools.combinations(focals, 2)]
    for mode, focal in sorted({(k[0], k[1]) for k in alone}):  # one focal arm, two backgrounds:
        pairs += [(names[(mode, focal, b)], names[(mode, focal, focal)])  # another arm's, and alone
                  for b in arms if b != focal and (mode, focal, b) in cells]
    poi = stats.probability_of_improvement(scores, pairs, **reps.get("poi", {})) if pairs else {}
    return {"metric": "the focal players' per-capita return per 1,000 steps (stats.run_score on "
                      "their return), per seed; aggregated across seeds",
            "cells": out_cells,
            "probability_of_improvement": [{"x": x, "y": y, **e.as_dict()} for (x, y), e in poi.items()]}


def aggregated(values: dict[str, list[float]], reps: dict) -> dict:
    """Per arm with runs, `stats.aggregate` of its values (IQM, mean, median with 95% CIs) as
    JSON-ready dicts."""
    kept = {arm: v for arm, v in values.items() if v}
    return {arm: {m: e.as_dict() for m, e in est.items()}
            for arm, est in stats.aggregate(kept, **reps.get("aggregate", {})).items()}


def population_name(arm: str) -> str:
    """How the report names an arm's runs scored as their whole population."""
    return f"{arm} (population)"


PLAN = ("round_shape", "suite", "suite_episodes", "suite_sha256", "suite_tags", "matrix_arms", "matrix_roles",
        "matrix_modes", "matrix_episodes", "tuned_on")
"""The plan's settings the summary keeps as they are, so that a rerun that changes them is
told from one that does not (record.changes)."""


def _scored(record: dict):
    """(arm, its record entry, scored as its population?) for every row of the report: each
    arm, then, for an arm whose runs are also evaluated as their whole population (pbt,
    league: its members mixed in the seats), that arm again as "ARM (population)"."""
    for arm, info in record["arms"].items():
        yield arm, info, False
        if any(r.get("population") and r["arm"] == arm for r in record["steps"]):
            yield arm, info, True


def collect(out: Path, reps: dict | None = None) -> dict[str, Any]:
    """The summary of the experiment folder OUT from what its steps wrote."""
    out, reps = Path(out), reps or {}
    record = read_record(out)
    rows = {r["name"]: r for r in record["steps"]}
    top = ceiling(record["substrate"])
    baselines = {}
    for name in ("random", "reference"):
        row = rows.get(f"eval/{name}")
        baselines[name] = _run(out, row, {}, top) if row else None
    normalising = (baselines["random"] is not None and baselines["reference"] is not None
                   and baselines["reference"]["score"] != baselines["random"]["score"])
    arms: dict[str, dict] = {}
    for arm, info, population in _scored(record):
        runs, missing = {}, []
        for row in (r for r in record["steps"] if r["stage"] == "eval" and r["arm"] == arm
                    and bool(r.get("population")) == population):
            seed = "-" if row["seed"] is None else str(row["seed"])
            trained = _marker(out, rows.get(f"train/{arm}/seed-{row['seed']}", {"marker": ""}))
            run = _run(out, row, trained, top)
            if run is None:
                missing.append(seed)
                continue
            champion = None if population or row["seed"] is None else _champion(out, arm, row["seed"])
            if champion:
                run["champion"] = champion
            scored = [] if population else [suite_score(out, rows, arm, row["seed"], tag)
                                            for tag in record.get("suite_tags") or [""]]
            if scored and scored[0] is not None:
                run["suite"] = scored[0]  # the first suite: the metric "held-out suite score"
            if any(scored):
                run["suites"] = {s["suite"]: s for s in scored if s is not None}
            if normalising:
                run["normalised"] = stats.normalise(run["score"], baselines["random"]["score"],
                                                    baselines["reference"]["score"])
            runs[seed] = run
        arms[population_name(arm) if population else arm] = {
            **info, "runs": runs, "missing": missing,
            **({"scored_as": "population", "population_of": arm} if population else {})}
    metrics = {"score": lambda r: r["score"], "depletion_world": lambda r: r["depletion"]["world"],
               "depletion_proxy": lambda r: r["depletion"]["proxy"],
               "patch_deaths": lambda r: r["depletion"].get("patch_deaths"),
               "harvest_efficiency": lambda r: r.get("harvest_efficiency"),
               "suite": lambda r: _finite((r.get("suite") or {}).get("score"))}
    if normalising:
        metrics = {"normalised": lambda r: r["normalised"], **metrics}
    values = {m: {a: [get(r) for r in v["runs"].values() if get(r) is not None] for a, v in arms.items()}
              for m, get in metrics.items()}  # None: a run without the number (patch deaths, efficiency)
    aggregates = {m: aggregated(v, reps) for m, v in values.items()}
    for arm in arms:
        arms[arm]["aggregate"] = {m: aggregates[m][arm] for m in metrics if arm in aggregates[m]}
        arms[arm]["runs_per_metric"] = {m: len(values[m][arm]) for m in metrics if values[m][arm]}
    scored = [a for a in arms if values["score"][a]]
    pairs = list(itertools.combinations(scored, 2))
    poi = stats.probability_of_improvement(values["score"], pairs, **reps.get("poi", {})) if pairs else {}
    return {"experiment": record["name"], "file": record["file"], "description": record["description"],
            "seeds": record["seeds"], "agent_steps": record["agent_steps"],
            "episodes": record["episodes"], "substrate": record["substrate"],
            "eval_seed": record["eval_seed"], "max_episode_steps": record["max_episode_steps"],
            **{k: record[k] for k in PLAN if k in record},
            "metrics": markdown.METRICS, "normalised_by": "reference" if normalising else None,
            "ceiling": top,
            "baselines": baselines, "reference_policy": record["reference"], "arms": arms,
            "probability_of_improvement": [{"x": x, "y": y, "metric": "score", **e.as_dict()}
                                           for (x, y), e in poi.items()],
            "suite_overall": suite_overall(arms, reps),
            "suite_probability_of_improvement": suite_poi(arms, reps),
            "suite_scenarios": suite_scenarios(arms, reps),
            "bootstrap": {"confidence": stats.CONFIDENCE,
                          "reps": reps.get("aggregate", {}).get("reps", stats.REPS),
                          "poi_reps": reps.get("poi", {}).get("reps", stats.POI_REPS)},
            "cross_play": cross_play(out, record, reps, arms),
            "code": code_versions(out, record), "left": list(LEFT), "figures": []}


def _figures(summary: dict, folder: Path, reps: dict) -> list[Path]:
    metric = "normalised" if summary["normalised_by"] else "score"
    scores = {a: [r[metric] for r in v["runs"].values()] for a, v in summary["arms"].items() if v["runs"]}
    if not scores:
        return []
    estimates = {a: {m: stats.Estimate(**e) for m, e in summary["arms"][a]["aggregate"][metric].items()}
                 for a in scores}
    every = np.concatenate([np.asarray(v, float) for v in scores.values()])
    high = max(1.2, float(every.max()) * 1.05) if metric == "normalised" else float(every.max()) * 1.05
    low = min(0.0, float(every.min()))
    profiles = stats.performance_profile(scores, np.linspace(low, max(high, low + 1e-9), 61),
                                         **reps.get("profile", {}))
    xlabel = figures.SCALE if metric == "normalised" else markdown.METRICS["score"]
    return figures.draw(estimates, profiles, folder, xlabel=xlabel) + _gene_figures(summary, folder)


def _gene_figures(summary: dict, folder: Path) -> list[Path]:
    """genes-ARM.png for each arm whose champions' lines of descent are kept."""
    drawn = []
    for arm, info in summary["arms"].items():
        if info.get("scored_as") == "population":
            continue
        descents = {seed: r["champion"]["descent"] for seed, r in info["runs"].items()
                    if any(step["values"] for step in (r.get("champion") or {}).get("descent") or ())}
        if descents:
            drawn.append(figures.genes_png(descents, folder / f"genes-{arm}.png", title=arm))
    return drawn


URI_PATHS = ("sqlite:///", "file://")
"""URI schemes whose rest is a file's path (an MLflow store named by an evaluation)."""


def portable(value: Any, out: Path) -> Any:
    """`value` with every absolute path in it made relative (to OUT where it lies inside),
    also inside a store's URI (sqlite:////work/x/mlflow.db: sqlite:///../mlflow.db)."""
    if isinstance(value, dict):
        return {k: portable(v, out) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v, out) for v in value]
    if isinstance(value, str):
        for scheme in URI_PATHS:
            if value.startswith(scheme + "/"):
                return scheme + portable(value[len(scheme):], out)
        if value.startswith("/"):
            inside = Path(value).resolve().is_relative_to(out.resolve())
            return relative(value, out if inside else None)
    return value


STATS_CACHE = "stats-cache.json"
"""In OUT: the interval estimates of earlier reports (stats.cached), not copied to results."""


def write(out: Path, results: Path | None = None, reps: dict | None = None) -> list[Path]:
    """OUT/summary.json, OUT/report.md and OUT/figures/, copied to `results`; returns the
    report's paths (in OUT)."""
    out, reps = Path(out), reps or {}
    with stats.cached(out / STATS_CACHE):  # a rewrite bootstraps only what changed
        summary = collect(out, reps)
    paths = _figures(summary, out / "figures", reps)
    summary["figures"] = [relative(p, out) for p in paths]
    summary = portable(json_safe(summary), out)
    write_atomic(out / "summary.json", json.dumps(summary, indent=1).encode())
    write_atomic(out / "report.md", markdown.render(summary).encode())
    written = [out / "summary.json", out / "report.md", *paths]
    if results is not None:
        results.mkdir(parents=True, exist_ok=True)
        for path in written:
            target = results / path.relative_to(out)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return written
