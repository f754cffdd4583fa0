"""`scripts/study` / `popbased study run`: plan, run the steps, write the report."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Sequence

from popbased.errors import BadInput
from popbased.study import plan as plans
from popbased.study import report
from popbased.study import run as runner
from popbased.study import steps as study_steps
from popbased.tracking.store import resolve_uri


def select(steps: Sequence[study_steps.Step], only: Sequence[str]) -> list[study_steps.Step]:
    if not only:
        return list(steps)
    names = [s.name for s in steps]
    for want in only:
        if not any(n == want or n.startswith(want.rstrip("/") + "/") for n in names):
            raise BadInput(f"--only {want!r}: no such step; allowed: train, export, eval, or one "
                           f"of {', '.join(names)}")
    return [s for s in steps if any(s.name == w or s.name.startswith(w.rstrip("/") + "/")
                                    for w in only)]


def run(study_file: str, *, budget: int, generations: int | None, episodes: int | None,
        only: Sequence[str], parallel: int, out: Path, results: Path, seed: int, device: str,
        tracking_uri: str | None, max_steps: int | None = None, say=print) -> list[str]:
    """Runs the selected steps of the study; returns those that failed."""
    plan = plans.load(study_file)
    if episodes:
        plan = dataclasses.replace(plan, episodes=episodes)
    generations = generations or plan.generations
    for r in plan.runs:
        if r.kind == "pbt" and plan.steps_per_generation(r, budget, generations) < 1000:
            raise BadInput(f"--total-steps {budget:,}: {r.name} would train "
                           f"{plan.steps_per_generation(r, budget, generations)} agent-steps per "
                           f"member per generation; allowed: a budget of at least "
                           f"{1000 * generations * r.size * len(plan.runs):,}")
    uri = resolve_uri(tracking_uri)
    out.mkdir(parents=True, exist_ok=True)
    every = study_steps.all_steps(plan, out.resolve(), budget, generations, seed, uri, device,
                                  max_steps)
    steps = select(every, only)
    say(f"study {plan.name}: {len(plan.runs)} runs, {plan.share(budget):,} agent-steps each on the "
        f"fast env ({budget:,} in all), then {plan.episodes} episodes per point on Melting Pot; "
        f"{len(steps)} steps into {out}")
    for name in study_steps.recover(plan, out.resolve(), generations):
        say(f"train/{name}: its run folder holds every generation already; marked done")
    failed: list[str] = []
    try:
        failed = runner.execute(steps, out.resolve(), parallel=parallel, say=say, known=every)
    except KeyboardInterrupt:
        failed = ["(the study was stopped)"]
        raise
    finally:
        try:
            say(f"report: {write_report(study_file, out, results, plan.episodes)}")
        finally:
            if failed:
                say(f"{len(failed)} step(s) did not finish: {', '.join(failed)}; rerun the same "
                    f"command to retry them (finished steps are kept)")
    return failed


def write_report(study_file: str, out: Path, results: Path, episodes: int | None = None) -> Path:
    """The HTML report and summary.json in OUT, copied with the champions' exports to RESULTS."""
    plan = plans.load(study_file)
    if episodes:
        plan = dataclasses.replace(plan, episodes=episodes)
    path = report.write(plan, out)
    results.mkdir(parents=True, exist_ok=True)
    for name in ("report.html", "summary.json", "summary.md"):
        if (out / name).exists():
            shutil.copy2(out / name, results / name)
    for figure in (out / "figures").glob("*.png") if (out / "figures").is_dir() else ():
        (results / "figures").mkdir(exist_ok=True)
        shutil.copy2(figure, results / "figures" / figure.name)
    for kind in (out / "eval").glob("*") if (out / "eval").is_dir() else ():
        for name in ("report.html", "summary.csv", "episodes.csv", "evaluation.json"):
            if (kind / name).is_file():
                (results / "eval" / kind.name).mkdir(parents=True, exist_ok=True)
                shutil.copy2(kind / name, results / "eval" / kind.name / name)
    champions = out / "champions"
    if champions.is_dir():
        for folder in champions.iterdir():
            if folder.is_dir():
                shutil.copytree(folder, results / "champions" / folder.name, dirs_exist_ok=True)
    return path
