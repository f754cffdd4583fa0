"""report.md from an experiment's summary (popbased.experiment.report.collect): what was run,
the arms' definitions and who chose what, then a table per metric, the metric named, every
interval a 95% CI over seeds (training runs), never over one run's episodes."""

from __future__ import annotations

from typing import Any

from popbased.experiment.files import toml_value

METRICS = {
    "normalised": "normalised score: (score - random) / (reference - random); 0 = random play, "
                  "1 = the reference policy, both evaluated on the same episode seeds",
    "score": "score: per-capita return per 1,000 steps, the mean over the run's evaluation "
             "episodes on real Melting Pot (stats.run_score)",
    "depletion_world": "depletion, world count: the fraction of a run's episodes in which the live "
                       "apples of the map reached 0 (stats.depletion)",
    "depletion_proxy": "depletion, the study's proxy: the fraction of a run's episodes in which no "
                       "player gained reward for 50 steps (stats.depletion)",
    "patch_deaths": "patch deaths: the mean over a run's episodes of the fraction of the map's apple "
                    "patches whose live apples reached 0 (stats.depletion; runs evaluated before "
                    "patches were counted are left out)",
    "harvest_efficiency": "harvest efficiency: a run's apples eaten per player per 1,000 steps over "
                          "the map's computed sustainable ceiling, the mean over its episodes; 1 = "
                          "the ceiling (stats.harvest_efficiency)",
    "suite": "held-out suite score: the champion focal in every scenario of the experiment's suite "
             "on real Melting Pot, (R - R_random) / (R_reference - R_random) on the focal per-capita "
             "return, the mean over scenarios (popbased.evaluation.suite)",
}
AGGREGATES = ("iqm", "mean", "median")
FEW_SEEDS, FEW_EPISODES = 5, 30


def _ci(e: dict | None, digits: int = 2) -> str:
    if e is None:
        return "-"
    return f"{e['point']:.{digits}f} [{e['low']:.{digits}f}, {e['high']:.{digits}f}]"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + \
        ["| " + " | ".join(r) + " |" for r in rows]


def _definition(arm: dict) -> str:
    shown = {k: v for k, v in arm["definition"].items() if k != "note"}
    return ", ".join(f"{k} = {toml_value(v)}" for k, v in shown.items()) or "(defaults)"


def _cautions(s: dict) -> list[str]:
    out = []
    if len(s["seeds"]) < FEW_SEEDS:
        out.append(f"{len(s['seeds'])} seed(s) per arm, fewer than {FEW_SEEDS}: the intervals "
                   f"are rough.")
    if s["episodes"] < FEW_EPISODES:
        out.append(f"{s['episodes']} evaluation episodes per run, fewer than {FEW_EPISODES}: "
                   f"episode length still shows in a run's score.")
    if s["max_episode_steps"]:
        out.append(f"Evaluation episodes were cut at {s['max_episode_steps']} steps: a smoke run, "
                   f"not Melting Pot's own episodes.")
    if not s["normalised_by"]:
        out.append("No normalised score: the reference policy or random play has no evaluation "
                   "yet (or they scored the same).")
    if s.get("ceiling") is None:
        out.append(f"No harvest efficiency: no sustainable ceiling is computed for "
                   f"`{s['substrate']}` (popbased.env.fast.ceiling).")
    versions = list(s.get("code", {}))
    if len(versions) > 1:
        out.append(f"The steps were run by more than one version of the code ({_code(s)}; "
                   f"\"not recorded\": made before popbased recorded it): a rerun continued "
                   f"them with other code.")
    elif any(v.endswith("+changes") for v in versions):
        out.append(f"The steps were run by code with changes not committed ({_code(s)}): no "
                   f"commit holds exactly that code.")
    runs = [r for a in s["arms"].values() for r in a["runs"].values()]
    if any(r["depletion"].get("patch_deaths") is None for r in runs):
        out.append("Patch deaths n/a for some runs: their evaluations did not count patches "
                   "(made before popbased recorded them); evaluate them again to have them.")
    return out


def _champion_cell(c: dict) -> str:
    genes = ", ".join(f"{k.removeprefix('shaping.')} {v:.3g}" for k, v in sorted(c["genes"].items()))
    copied = ", ".join(str(x) if not isinstance(x, (list, tuple)) else f"{x[1]} (gen {x[0]})"
                       for x in c["copied_from"]) or "none"
    adopted = ", ".join(f"{donor} (gen {g})" for g, donor in c.get("genes_from") or [])
    adopted = f"; genes taken from: {adopted}" if adopted else ""
    return f"{c['member']}: {genes}; copied from: {copied}{adopted}{_moves(c.get('descent'))}"


def _moves(descent: list[dict] | None) -> str:
    """Where the genes changed along the champion's line of descent (generation trained)."""
    if not descent:
        return ""
    moves = []
    for before, after in zip(descent, descent[1:]):
        for gene, value in sorted(after["values"].items()):
            old = before["values"].get(gene)
            if old is not None and abs(value - old) > 1e-12:
                moves.append(f"{gene.removeprefix('shaping.')} {old:.3g} -> {value:.3g} (gen {after['generation']})")
    first = descent[0]["generation"]
    return ("; along its descent: " + ", ".join(moves) if moves
            else f"; its genes did not change from generation {first} on")


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _metric(s: dict, metric: str, digits: int = 2) -> list[str]:
    rows = []
    for name, arm in s["arms"].items():
        agg = arm["aggregate"].get(metric)
        if agg is None:
            continue
        runs = (arm.get("runs_per_metric") or {}).get(metric, len(arm["runs"]))  # those with the number
        rows.append([name, str(runs)] + [_ci(agg.get(m), digits) for m in AGGREGATES])
    if not rows:
        return []
    named = METRICS[metric]
    if metric == "harvest_efficiency" and s.get("ceiling"):
        named += f"; the ceiling on `{s['substrate']}`: {s['ceiling']:.1f} apples per player per 1,000 steps"
    return [f"## Metric: {named}", ""] + _table(
        ["arm", "runs", "IQM [95% CI]", "mean [95% CI]", "median [95% CI]"], rows) + [""]


def _suite(s: dict[str, Any]) -> list[str]:
    """Each suite by scenario (each arm's champions across seeds) and P(X > Y) on its overall score."""
    lines = []
    for name, by in (s.get("suite_scenarios") or {}).items():
        reference = next((r for a in (s.get("arms") or {}).values() for run in a.get("runs", {}).values()
                          if (r := ((run.get("suites") or {}).get(name) or {}).get("reference"))), None)
        one = ("the best of the references focal per scenario (" + ", ".join(reference) + ")"
               if isinstance(reference, list) else "the reference focal")
        lines += [f"## Suite {name} by scenario", "",
                  "Each arm's champions focal in each scenario of the suite, across seeds: the "
                  f"score (0 = random play focal, 1 = {one}) as IQM with its 95% CI, "
                  "the focal players' per-capita return per episode (IQM), the share of episodes "
                  "depleted by the world count and by the study's proxy (mean over seeds), random "
                  "play's own 95% CI on the score (it is evaluated once: a bootstrap of its mean "
                  "over its episodes), and whether the score is above random play with the CIs "
                  "apart (the champions' lower bound above random play's upper bound).", ""]
        overall = (s.get("suite_overall") or {}).get(name)
        if overall:
            lines += [f"Overall (each champion's mean score over the suite's scenarios that have "
                      f"one), across seeds:", ""]
            lines += _table(["arm", "runs", "IQM [95% CI]", "mean [95% CI]"],
                            [[arm, str(o["runs"]), _ci(o.get("iqm"), 3), _ci(o.get("mean"), 3)]
                             for arm, o in overall.items()]) + [""]
        rows = []
        for arm, scenarios in by.items():
            for sc, r in scenarios.items():
                ret = (r["focal_return"].get("iqm") or {}).get("point")
                band = r.get("random")
                rows.append([sc, arm, str(r["seeds"]), _ci(r["score"].get("iqm")),
                             "-" if ret is None else f"{ret:.1f}",
                             " / ".join(f"{r[k]:.0%}" if k in r else "-" for k in ("depleted", "proxy_depleted")),
                             f"[{band['low']:.2f}, {band['high']:.2f}]" if band else "-",
                             "yes" if r["above_random"] else "no"])
        lines += _table(["scenario", "arm", "seeds", "score IQM [95% CI]", "focal return (IQM)",
                         "depleted (world / proxy)", "random's 95% CI", "above random, CIs apart"],
                        sorted(rows, key=lambda x: (x[0], x[1]))) + [""]
        poi = [p for p in s.get("suite_probability_of_improvement") or [] if p.get("suite") == name]
        if poi:
            lines += [f"P(X > Y) on suite {name}'s overall score, across seeds (rliable).", ""]
            lines += _table(["X", "Y", "P(X > Y) [95% CI]"], [[p["x"], p["y"], _ci(p)] for p in poi]) + [""]
    return lines


def _cross_play(c: dict | None) -> list[str]:
    if not c:
        return []
    lines = ["## Cross-play (matrix)", "",
             f"Each seed's champions of the matrix arms and the baselines, each focal "
             f"(the first seats) against each other as background; metric: {c['metric']}. "
             f"A matrix arm against itself (\"alone\") is its own evaluation: its champion in "
             f"every seat, all seats scored.", ""]
    lines += _table(["mode", "focal", "background", "seeds", "IQM [95% CI]", "mean [95% CI]"],
                    [[x["mode"], x["focal"], x["background"] + (" (alone)" if x.get("alone") else ""),
                      str(len(x["runs"])),
                      _ci(x["aggregate"].get("iqm")), _ci(x["aggregate"].get("mean"))]
                     for x in sorted(c["cells"], key=lambda x: (x["mode"], x["background"], x["focal"]))])
    if c["probability_of_improvement"]:
        lines += ["", "P(X > Y), in the same mode: two focal arms against the same background "
                      "(against a matrix arm's background, that arm's champion alone is one of them), "
                      "and one focal arm among another matrix arm's players against itself alone.", ""]
        lines += _table(["X", "Y", "P(X > Y) [95% CI]"],
                        [[p["x"], p["y"], _ci(p)] for p in c["probability_of_improvement"]])
    return lines + [""]


def _code(s: dict[str, Any]) -> str:
    return "; ".join(f"{v}: {n} step(s)" for v, n in s.get("code", {}).items())


def _tuned_on(s: dict[str, Any]) -> str:
    """Which experiments chose its settings, on which seeds (tuning kept apart from reporting)."""
    named = "; ".join(f"{t['name']} (`{t['file']}`, seeds {', '.join(map(str, t['seeds']))})"
                      for t in s["tuned_on"])
    return (f"- tuning and reporting: this experiment's settings were chosen on the results of "
            f"{named}; its own seeds ({', '.join(map(str, s['seeds']))}) were used by none of "
            f"them, so no choice was made on them")


def render(s: dict[str, Any]) -> str:
    """The report as Markdown."""
    lines = [f"# Experiment {s['experiment']}", ""]
    if s["description"]:
        lines += [s["description"], ""]
    episodes = f"{s['episodes']} episodes (episode seeds from --seed {s['eval_seed']})"
    populations = [n for n, a in s["arms"].items() if a.get("population_of")]
    lines += [f"- file: `{s['file']}`",
              f"- arms x seeds: {len(s['arms']) - len(populations)} arms x seeds {', '.join(map(str, s['seeds']))}; "
              f"every trained arm trains {s['agent_steps']:,} agent-steps per seed on the fast env"
              + "".join(f"; `{n}` its own {a['agent_steps']:,}" for n, a in s["arms"].items()
                        if a.get("agent_steps") not in (None, s["agent_steps"]) and not a.get("population_of")),
              f"- evaluation: each run's champion in every seat of `{s['substrate']}` on real "
              f"Melting Pot, {episodes}: the same episode seeds for every policy (not the same "
              f"episodes: Melting Pot's episode ends and contested moves depend on what the "
              f"policies do)",
              *([f"- populations: {', '.join(f'`{n}`' for n in populations)}: the same runs "
                 f"scored as their whole population, the members mixed in the seats as they "
                 f"trained (members in id order, member i of n in every seat j with j % n == "
                 f"i; Melting Pot draws spawn points anew each episode, so the order does not "
                 f"choose where anyone starts), on the same episodes"] if populations else []),
              *([_tuned_on(s)] if s.get("tuned_on") else []),
              *([f"- code: the finished steps by the popbased commit that ran them: {_code(s)}"]
                if s.get("code") else []),
              f"- intervals: {s['bootstrap']['confidence']:.0%} stratified-bootstrap CIs over "
              f"seeds (rliable; {s['bootstrap']['reps']:,} replications)", ""]
    lines += [f"> {c}" for c in _cautions(s)] + ([""] if _cautions(s) else [])
    lines += ["## Arms", ""]
    lines += _table(["arm", "kind", "definition", "members", "generations", "who chose what"],
                    [[n, a["kind"], _definition(a), str(a["members"]), str(a["generations"] or "-"),
                      a["note"] or "(not said)"] for n, a in s["arms"].items()
                     if not a.get("population_of")]) + [""]
    base = []
    for name, run in s["baselines"].items():
        policy = "random" if name == "random" else (s["reference_policy"] or "-")
        base.append([name, f"`{policy}`", "-" if run is None else f"{run['score']:.2f}",
                     "-" if run is None else f"{run['depletion']['world']:.0%}",
                     "-" if run is None else f"{run['depletion']['proxy']:.0%}",
                     "-" if run is None else _share(run["depletion"].get("patch_deaths")),
                     "-" if run is None else _ratio(run.get("harvest_efficiency"))])
    lines += ["## Baselines (evaluated once)", ""] + _table(
        ["baseline", "policy", "score", "depleted (world)", "depleted (proxy)", "patches died",
         "harvest efficiency"], base) + [""]
    for metric in METRICS:
        lines += _metric(s, metric, 3 if metric in ("normalised", "harvest_efficiency", "suite") else 2)
    if s["probability_of_improvement"]:
        lines += ["## Probability of improvement", "",
                  "P(X > Y): the probability that a run (seed) of X scores above a run of Y "
                  "(metric: score; the same on the normalised scale), ties counting one half, "
                  "with its 95% CI (rliable).", ""]
        lines += _table(["X", "Y", "P(X > Y) [95% CI]"],
                        [[p["x"], p["y"], _ci(p)] for p in s["probability_of_improvement"]]) + [""]
    lines += _suite(s)
    runs = [[n, seed, f"{r['score']:.2f}", f"{r['normalised']:.3f}" if "normalised" in r else "-",
             f"{r['depletion']['world']:.0%}", f"{r['depletion']['proxy']:.0%}",
             _share(r["depletion"].get("patch_deaths")), _ratio(r.get("harvest_efficiency")),
             f"{r['agent_steps_trained']:,}" if "agent_steps_trained" in r else "-", f"`{r['eval']}`"]
            for n, a in s["arms"].items() for seed, r in a["runs"].items()]
    lines += ["## Runs", ""] + _table(["arm", "seed", "score", "normalised", "depleted (world)",
                                       "depleted (proxy)", "patches died", "harvest efficiency",
                                       "agent-steps trained", "evaluation"],
                                      runs) + [""]
    champions = [[n, seed, _champion_cell(r["champion"])] for n, a in s["arms"].items()
                 for seed, r in a["runs"].items() if r.get("champion")]
    if champions:
        lines += ["## Champions", "",
                  "Each pbt or league run's champion (the member evaluated above): its gene values "
                  "at the end of the run, and the members its weights were copied from (none: "
                  "its weights and genes are its own from generation 0 on, as drawn or mutated). "
                  "Where the run's lineage is kept: how its genes changed along its line of "
                  "descent (the genes its weights trained with in each generation, followed "
                  "back through every copy; figures genes-ARM.png)."
                  + (" Genes taken from (`[pbt] inherit = \"genes\"`): the donors whose genes "
                     "alone it took at a PBT step, its own weights training on (its genes are "
                     "then not its own draw even where its weights were never copied)."
                     if any(r["champion"].get("genes_from") for a in s["arms"].values()
                            for r in a["runs"].values() if r.get("champion")) else ""),
                  ""] + _table(["arm", "seed", "champion: genes; weights copied from"], champions) + [""]
    lines += _cross_play(s.get("cross_play"))
    missing = [f"{n} seed {m}" for n, a in s["arms"].items() for m in a["missing"]]
    if missing:
        lines += [f"Not evaluated yet: {', '.join(missing)}.", ""]
    if s["figures"]:
        lines += ["## Figures", ""] + [f"![{f}]({f})" for f in s["figures"]] + [""]
    lines += ["## Not measured here", ""] + [f"- {x}" for x in s["left"]] + [""]
    return "\n".join(lines)
