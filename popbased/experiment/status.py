"""`popbased experiment status OUT`: what is done and what is left, per arm and seed, and an
estimate of the time left.

A population's evaluation (pbt, league) is an eval step with a column of its own in the
table. A step is done when its marker exists (the marker holds its duration); one whose log exists
without a marker started and did not finish (it failed, was stopped, or runs now). The time
left is each step's units (agent-steps for a training, episodes for an evaluation, one for an
export) times the seconds per unit that done steps measured: those of the same arm (and, for an
evaluation, of the same kind: champion or whole population) where there are some, else those of
the same stage among the trained arms. The baselines (random play, the reference) are timed by
each other, and by the trained arms' evaluations only when neither is done; they never time a
trained arm's, whose episodes cost more (random play's 30 took 1.7 min where a champion's took
5-10). A stage none of whose steps is done yet has no estimate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from popbased.experiment import steps as planner
from popbased.experiment.record import read_record


def _marker(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _generation(folder: Path) -> int | None:
    try:
        return int(json.loads((folder / "state.json").read_text()).get("generation", 0))
    except (OSError, ValueError, AttributeError):
        return None


def _keys(row: dict) -> tuple[tuple, ...]:
    """Where a step's seconds per unit count, and where a step left looks for them, most
    specific first (see the module's docstring)."""
    stage, arm, population = row["stage"], row["arm"], row["population"]
    if arm is None:  # a baseline
        return (stage, "baseline"), (stage, "trained")
    return (stage, arm, population), (stage, arm), (stage, "trained", population), (stage, "trained")


def _rates(rows: list[dict]) -> dict[tuple, float]:
    """Seconds per unit measured by done steps, by each of their keys (_keys)."""
    sums: dict[tuple, list[float]] = {}
    for r in rows:
        if r["state"] == "done" and r.get("seconds") and r["units"]:
            keys = _keys(r)[:1] if r["arm"] is None else _keys(r)  # baselines time baselines only
            for k in keys:
                total = sums.setdefault(k, [0.0, 0.0])
                total[0] += r["seconds"]
                total[1] += r["units"]
    return {k: s / u for k, (s, u) in sums.items() if u}


def status(out: str | Path) -> dict[str, Any]:
    """Every step's state (done with its seconds, started, or to do) and the time left."""
    out = Path(out)
    record = read_record(out)
    rows = []
    for step in record["steps"]:
        row = {k: step.get(k) for k in ("name", "stage", "arm", "seed", "units", "log")}
        row["population"] = bool(step.get("population"))
        marker = _marker(out / step["marker"]) if (out / step["marker"]).exists() else None
        if marker is not None:
            row.update(state="done", seconds=marker.get("seconds"))
        else:
            row["state"] = "started" if (out / step["log"]).exists() else "to do"
            if step["stage"] == "train" and record["arms"][step["arm"]].get("generations"):
                gen = _generation(out / step["folder"])
                if gen is not None:
                    row["generation"] = gen
        rows.append(row)
    rates = _rates(rows)
    left = [r for r in rows if r["state"] != "done"]
    unknown = []
    seconds = 0.0
    for r in left:
        rate = next((rates[k] for k in _keys(r) if k in rates), None)
        if rate is None:
            unknown.append(r["name"])
            continue
        r["estimate_s"] = rate * r["units"]
        if "generation" in r:  # a training part-way: what its generations have left
            total = record["arms"][r["arm"]]["generations"]
            r["estimate_s"] *= max(0.0, 1 - r["generation"] / total)
        seconds += r["estimate_s"]
    return {"name": record["name"], "folder": str(out), "steps": rows, "done": len(rows) - len(left),
            "left": len(left), "left_s": seconds, "unknown": unknown}


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def _cell(row: dict | None) -> str:
    if row is None:
        return "-"
    if row["state"] == "done":
        return f"done ({_minutes(row['seconds'])})" if row.get("seconds") else "done"
    text = row["state"] + (f", generation {row['generation']}" if "generation" in row else "")
    return text + (f", ~{_minutes(row['estimate_s'])} left" if "estimate_s" in row else "")


def lines(report: dict[str, Any]) -> list[str]:
    """The status for people: a row per arm and seed, a column per stage (and one for the
    population's evaluation where the experiment has some), then the time left."""
    out = [f"experiment {report['name']} in {report['folder']}: {report['done']} of "
           f"{report['done'] + report['left']} steps done"]
    runs: dict[tuple, dict[str, dict]] = {}
    suites = []
    for r in report["steps"]:
        column = "population" if r.get("population") else r["stage"]
        unit = "cross-play" if r["stage"] == "matrix" else (r["arm"] or r["name"].split("/", 1)[1])
        if r["stage"] == "suite" and (tag := planner.suite_tag(r["name"])):  # one column per suite
            column, unit = f"suite {tag}", r["arm"] or "suite baselines"
        if column.startswith("suite"):
            suites.append(column)
        runs.setdefault((unit, r["seed"]), {})[column] = r
    order = {arm: i for i, arm in enumerate(dict.fromkeys(a for a, _ in runs))}
    columns = ("train", "export", "eval") + tuple(
        c for c in ("population",) if any(r.get("population") for r in report["steps"])) + tuple(
        dict.fromkeys(suites)) + tuple(c for c in ("matrix",) if any(r["stage"] == c for r in report["steps"]))
    out.append("\t".join(("arm / seed",) + columns))
    for (arm, seed), stages in sorted(runs.items(), key=lambda kv: (order[kv[0][0]], kv[0][1] or 0)):
        label = arm if seed is None else f"{arm} / seed {seed}"
        out.append("\t".join([label] + [_cell(stages.get(s)) for s in columns]))
    started = [r for r in report["steps"] if r["state"] == "started"]
    for r in started:
        out.append(f"{r['name']}: started, not finished (failed, stopped or running); log: "
                   f"{Path(report['folder']) / r['log']}")
    if report["left"]:
        unknown = report["unknown"]
        names = f"{', '.join(unknown[:3])}{', ...' if len(unknown) > 3 else ''}"
        if len(unknown) == report["left"]:
            estimate = f"no estimate until a step of their kind is done ({names})"
        else:
            estimate = f"about {_minutes(report['left_s'])} of step time left"
            if unknown:
                estimate += (f" besides {len(unknown)} step(s) of a kind none of whose steps is "
                             f"done yet ({names})")
        out.append(f"left: {report['left']} step(s), {estimate}; --parallel N runs N at once")
    else:
        out.append("every step is done")
    return out
