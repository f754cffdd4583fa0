"""An experiment's suites scored again with more references (`popbased experiment references`):
Melting Pot 2.0's "1 = the best reference", after the experiment ran with one.

Each SUITE_JSON is a policy played in one of the experiment's suites with the experiment's own
baselines (`popbased evaluate suite SUITE POLICY --baselines RUN/suite/NAME/baselines/suite.json`,
the same episodes, episode seed and engine): its policy becomes a reference beside the suite's
own. Per scenario the best reference by focal per-capita return is the 1 (random play stays the
0); each arm's champions are scored again from their kept suite results
(`popbased.evaluation.suite.scored`, nothing replayed) and aggregated across seeds as the
report does (IQM, mean with 95% stratified-bootstrap CIs; P(X > Y) between arms), beside the
scores with the suite's one reference.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path
from typing import Any

from popbased.errors import BadInput
from popbased.evaluation import suite as suites
from popbased.experiment import stats
from popbased.experiment.record import sha256, suites_by_tag
from popbased.experiment.report import aggregated

SAME = ("suite", "episodes", "seed", "env", "max_episode_steps")
"""What a SUITE_JSON must share with the experiment's suite results to be scored beside them."""


def _read(path: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise BadInput(f"{what}: {path} does not exist") from None
    except (OSError, ValueError) as err:
        raise BadInput(f"{what}: {path} is not JSON ({err})") from None


def _suite_folder(results: Path) -> Path:
    """Where the experiment keeps its suite results: RESULTS/state/suite (a results folder) or
    RUN/suite (a run folder)."""
    for place in (results / "state" / "suite", results / "suite"):
        if place.is_dir():
            return place
    raise BadInput(f"{results}: no state/suite/ or suite/ inside (an experiment's results or run "
                   f"folder whose experiment has a suite)")


def _extra(made: dict, path: Path, baselines: dict) -> tuple[str, dict[str, dict]]:
    """The SUITE_JSON's policy rows by scenario, checked against the experiment's baselines."""
    for key in SAME:
        if made.get(key) != baselines.get(key):
            raise BadInput(f"{path}: played with another {key} ({made.get(key)!r}; the experiment's "
                           f"{baselines.get(key)!r}); allowed: `evaluate suite` of the same suite with "
                           f"--baselines from the experiment's suite/{baselines.get('suite')}/baselines")
    random = {r["scenario"]: r["focal_returns"] for r in baselines["rows"] if r["policy"] == suites.RANDOM}
    theirs = {r["scenario"]: r["focal_returns"] for r in made.get("rows", []) if r.get("policy") == suites.RANDOM}
    if theirs != random:
        raise BadInput(f"{path}: its random play is not the experiment's (give the experiment's "
                       f"baselines with --baselines when playing it)")
    labels = [k for k in made.get("overall", {}) if not suites.is_baseline(k)]
    if len(labels) != 1:
        raise BadInput(f"{path}: expected one policy beside random play and the reference, found "
                       f"{len(labels)} ({', '.join(labels) or 'none'})")
    rows = {r["scenario"]: r for r in made["rows"] if r.get("policy") == labels[0]}
    if set(rows) != set(random):
        raise BadInput(f"{path}: {labels[0]} did not play every scenario of suite {made.get('suite')}")
    return labels[0], rows


def _played(rows: list[dict], own: str, extra: dict[str, dict[str, dict]]) -> list[dict]:
    """A champion's kept suite rows with the suite's reference renamed `own`, one of several, and
    the extra references' rows added (each row as `scored` reads it: its focal returns)."""
    played = [{"scenario": r["scenario"], "policy": own if r["policy"] == suites.REFERENCE else r["policy"],
               "focal_returns": r["focal_returns"]} for r in rows]
    for name, by_scenario in extra.items():
        played += [{"scenario": sc, "policy": name, "focal_returns": r["focal_returns"]}
                   for sc, r in by_scenario.items()]
    return played


def rescore(results: str | Path, extra: list[str | Path], root: str | Path = ".",
            reps: dict | None = None) -> dict[str, Any]:
    """The experiment in RESULTS (its results or run folder) with the suites of the SUITE_JSON
    files scored again by the best of their references; `root`: where the suite files the
    experiment names are found (the checkout)."""
    results, root, reps = Path(results), Path(root), reps or {}
    summary = _read(results / "summary.json", "the experiment's summary")
    folder = _suite_folder(results)
    by_name = {}  # the suite's name -> (the suite, the folder of its steps)
    for tag, (file, digest) in suites_by_tag(summary).items():
        try:
            now = sha256(root / file)
        except OSError:
            raise BadInput(f"suite {file} (of the experiment): not found under {root}; run from "
                           f"the checkout that holds it") from None
        if digest is not None and now != digest:
            raise BadInput(f"suite {file}: changed since the experiment scored with it (its "
                           f"SHA-256 differs from summary.json's); allowed: the suite as it ran")
        suite = suites.load(root / file)
        if not isinstance(suite.reference, str):
            raise BadInput(f"{file}: names several references already; this scores again an "
                           f"experiment scored with one")
        by_name[suite.name] = (suite, folder / tag if tag else folder)
    added: dict[str, dict[str, dict[str, dict]]] = {}
    sources: dict[str, list[str]] = {}
    for path in map(Path, extra):
        made = _read(path, "a suite's results")
        name = made.get("suite")
        if name not in by_name:
            raise BadInput(f"{path}: suite {name!r} is not one of the experiment's "
                           f"({', '.join(by_name) or 'none'})")
        baselines = _read(by_name[name][1] / "baselines" / "suite.json", f"suite {name}'s baselines")
        label, rows = _extra(made, path, baselines)
        if label == by_name[name][0].reference:
            raise BadInput(f"{path}: {label} is suite {name}'s own reference already; give other policies")
        if f"{suites.REFERENCE}:{label}" in added.get(name, {}):
            raise BadInput(f"{path}: {label} is given twice for suite {name}; allowed: each policy once")
        added.setdefault(name, {})[f"{suites.REFERENCE}:{label}"] = rows
        sources.setdefault(name, []).append(str(path))
    out: dict[str, Any] = {"experiment": summary.get("experiment"), "results": str(results),
                           "metric": "suite overall score, the mean over its scenarios of (R - R_random) / "
                                     "(R_best reference - R_random), R the focal per-capita return per "
                                     "episode; per scenario the best of the references by R is the 1",
                           "suites": {}}
    for name, extra_rows in added.items():
        suite, steps = by_name[name]
        own = f"{suites.REFERENCE}:{suite.reference}"
        labels = (own, *extra_rows)
        several = dataclasses.replace(suite, references=tuple(labels), labels=labels)
        arms: dict[str, dict[str, Any]] = {}
        best_of: dict[str, str] = {}
        for seed_folder in sorted(p for p in steps.glob("*/seed-*") if (p / "suite.json").is_file()):
            arm, seed = seed_folder.parent.name, seed_folder.name.removeprefix("seed-")
            kept = _read(seed_folder / "suite.json", f"suite {name}, {arm} seed {seed}")
            made = suites.scored(several, _played(kept["rows"], own, extra_rows))
            mine = [k for k in made["overall"] if not suites.is_baseline(k)]
            if len(mine) != 1:
                continue
            best_of.update({r["scenario"]: r["best_of"] for r in made["rows"] if r["policy"] == suites.REFERENCE})
            arms.setdefault(arm, {"runs": {}, "runs_one_reference": {}})
            arms[arm]["runs"][seed] = made["overall"][mine[0]]["score"]
            arms[arm]["runs_one_reference"][seed] = kept["overall"][mine[0]]["score"]
        if not arms:
            raise BadInput(f"suite {name}: no arm's champion results under {steps}")
        for key, field in (("aggregate", "runs"), ("aggregate_one_reference", "runs_one_reference")):
            values = {arm: [v for v in a[field].values() if v == v] for arm, a in arms.items()}
            for arm, agg in aggregated(values, reps).items():
                arms[arm][key] = agg
        order = [a for a in summary.get("arms", {}) if a in arms] + [a for a in arms if a not in summary.get("arms", {})]
        values = {arm: [v for v in arms[arm]["runs"].values() if v == v] for arm in order}
        pairs = list(itertools.combinations([a for a, v in values.items() if v], 2))  # the report's order
        poi = stats.probability_of_improvement(values, pairs, **reps.get("poi", {})) if pairs else {}
        out["suites"][name] = {
            "references": list(labels), "from": sources[name],
            "best_of": best_of, "scenarios_where_another_is_best": sorted(s for s, b in best_of.items() if b != own),
            "arms": arms,
            "probability_of_improvement": [{"x": x, "y": y, **e.as_dict()} for (x, y), e in poi.items()]}
    return out
