"""`popbased experiment run FILE`: load and check the file, plan its steps, run them
(popbased.study.run: up to `parallel` processes, markers, logs, a failed step reported and the
rest going on, a rerun doing only what is not done), then write the report.

OUT/experiment.json (popbased.experiment.record) is written before the steps run: `popbased
experiment status OUT` and the report read it.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Callable, Sequence

from popbased.errors import BadInput
from popbased.experiment import carry, report
from popbased.experiment import spec as specs
from popbased.experiment import steps as planner
from popbased.experiment.record import PER_SUITE, RECORD, SETTINGS, changes, record, suite_changes
from popbased.experiment.steps import Planned
from popbased.runs.claim import claim
from popbased.study import run as runner
from popbased.textio import write_atomic
from popbased.tracking.store import resolve_uri

ONLY = planner.STAGES + ("population", "report")
"""--only's stages: `eval` is the champions' (and baselines') evaluations, `population` the
whole-population evaluations of pbt and league runs."""


def _stage(p: Planned) -> str:
    return "population" if p.population else p.stage


def default_out(exp: specs.Experiment) -> Path:
    return Path("runs") / exp.name


def select(steps: Sequence[Planned], only: Sequence[str], arms: Sequence[str] = (),
           exp: specs.Experiment | None = None) -> list[Planned]:
    """The steps of the stages in `only` and of the arms in `arms` (all when empty); the
    baselines (random play, the reference) belong to every arm."""
    for want in only:
        if want not in ONLY:
            raise BadInput(f"--only {want!r}; allowed: {', '.join(ONLY)} (comma-separated)")
    names = [a.name for a in exp.arms] if exp is not None else []
    for want in arms:
        if want not in names:
            raise BadInput(f"--arms {want!r}: no such arm; allowed: {', '.join(names)} (comma-separated)")
    return [p for p in steps if (not only or _stage(p) in only) and (not arms or p.arm is None or p.arm in arms)]


def shown(argv: Sequence[str]) -> str:
    """A step's command line as a user would type it (`popbased ...`)."""
    return shlex.join(("popbased",) + tuple(argv[len(planner.CLI):]))


def dry_run(file: str | Path, out: Path | None, only: Sequence[str], device: str = "auto",
            tracking_uri: str | None = None, say: Callable[[str], None] = print,
            arms: Sequence[str] = (), results: Path | None = None, force: bool = False) -> list[Planned]:
    """Lists the steps (done or to do) with their command lines; writes nothing. Refuses what
    `run` would refuse: a plan that changes what finished steps ran (`unchanged`)."""
    exp = specs.load(file)
    out = out or default_out(exp)
    every = planner.plan(exp, out, resolve_uri(tracking_uri), device)
    unchanged(exp, record(exp, every, out), out, results or Path("results") / exp.name, force=force)
    steps = select(every, only, arms, exp)
    for run, users in carry.unrestore(out, every, steps, dry=True).items():
        say(f"{run}: would train again (restored from results, which keep no run folder and no "
            f"champion's network, and {', '.join(users)} need(s) them)")
    say(f"experiment {exp.name}: {len(exp.arms)} arms x {len(exp.seeds)} seeds, "
        f"{exp.agent_steps:,} agent-steps per run, {exp.episodes} episodes per evaluation on "
        f"{exp.substrate}; {len(steps)} steps into {out}")
    for p in steps:
        say(f"{'done' if p.step.done.exists() else 'todo'}  {p.name}: {shown(p.step.argv)}")
    if not only or "report" in only:
        say(f"then: the report ({out / 'report.md'}, {out / 'summary.json'})")
    return steps


def _touched(where: Path, plan: dict, runs: Path | None = None) -> set[tuple[str | None, str, str | None]]:
    """(arm, stage, suite tag: None but for suite steps) of the plan's steps that finished (a
    marker under `where`: OUT, or a results folder's state/) or, with `runs` (OUT), trainings
    that started a run a rerun continues (its folder holds a PBT or league state)."""
    touched = set()
    for row in plan["steps"]:
        if (where / row["marker"]).is_file() or (
                runs is not None and row["stage"] == "train" and row.get("folder")
                and (runs / row["folder"] / "state.json").is_file()):
            touched.add((row["arm"], row["stage"],
                         planner.suite_tag(row["name"]) if row["stage"] == "suite" else None))
    return touched


def _earlier(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        old = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        old = None
    if not isinstance(old, dict):
        raise BadInput(f"{path}: unreadable, so what its finished steps ran is unknown; move "
                       f"{path.parent} aside")
    return old


def unchanged(exp: specs.Experiment, plan: dict, out: Path, results: Path, force: bool = False) -> None:
    """BadInput, before anything is moved or written, when the plan changes what steps in OUT
    (finished, or a training started and continued by a rerun; not with `force`, which moves
    OUT aside) or kept in the results folder a rerun continues from were run with (see
    record.changes): they would count as done for the new plan. A setting counts where steps
    of the stages it shapes are touched, an arm's definition where that arm's are, a suite's
    file or contents where that suite's are (record.PER_SUITE); seeds, arms or suites added,
    and what touches no such step, are no change."""
    earlier = [] if force else [(out, _earlier(out / RECORD), _touched(out, plan, out),
                                 "another -o (or -o with --force, which moves it aside)")]
    earlier.append((results, _earlier(results / "summary.json"), _touched(results / carry.STATE, plan),
                    "another --results (or move it aside yourself: it is never overwritten by another plan)"))
    problems, ways = [], []
    for folder, old, touched, way in earlier:
        if old is None or not touched:
            continue
        old_name = old.get("name", old.get("experiment"))
        if old_name != plan["name"]:
            said = [f"it holds experiment {old_name!r}"]
        else:
            settings, arms = changes(old, plan)
            stages = {stage for _, stage, _ in touched}
            said = [text for k, text in settings.items()
                    if k not in PER_SUITE and (SETTINGS[k] is None or stages & set(SETTINGS[k]))]
            tags = {tag for _, stage, tag in touched if stage == "suite"}
            said += [text for tag, text in suite_changes(old, plan).items() if tag in tags]
            said += [f"arm {a}: {', '.join(d)}" for a, d in arms.items() if any(arm == a for arm, _, _ in touched)]
        if said:
            problems.append(f"{folder} was made with another plan ({'; '.join(said)})")
            ways.append(way)
    if problems:
        raise BadInput(f"{exp.source}: {'; '.join(problems)}: its finished or started steps would "
                       f"count for the new plan. Give the experiment another name, or "
                       f"{' / '.join(ways)}")


def run(file: str | Path, *, out: Path | None = None, only: Sequence[str] = (), parallel: int = 1,
        device: str = "auto", tracking_uri: str | None = None, results: Path | None = None,
        force: bool = False, say: Callable[[str], None] = print, reps: dict | None = None,
        arms: Sequence[str] = ()) -> list[str]:
    """Runs the selected steps (all by default; `arms`: only those arms' steps and the
    baselines), then the report of every finished evaluation (copied to `results`, default
    results/NAME); returns the steps that failed. reps: bootstrap replications for the report
    ({"aggregate": {"reps": N}, "poi": ..., "profile": ...}; default: stats' own)."""
    exp = specs.load(file)
    out = out or default_out(exp)
    select([], only, arms, exp)
    if exp.suites and (not only or "suite" in only):  # bots missing: said before hours of training
        from popbased.evaluation import suite as suites

        for file in exp.suites:
            suites.check(suites.load(file), "meltingpot")
    uri = resolve_uri(tracking_uri)
    every = planner.plan(exp, out, uri, device)
    chosen = select(every, only, arms, exp)
    results = results or Path("results") / exp.name
    plan = record(exp, every, out)
    unchanged(exp, plan, out, results, force=force)  # before --force moves anything
    claim(out, "experiment", force=force, option="-o")  # continued by a rerun
    out.mkdir(parents=True, exist_ok=True)
    planner.write_files(exp, out.resolve())
    write_atomic(out / RECORD, json.dumps(plan, indent=1).encode())
    say(f"experiment {exp.name}: {len(exp.arms)} arms x {len(exp.seeds)} seeds, "
        f"{exp.agent_steps:,} agent-steps per run on the fast env, {exp.episodes} episodes per "
        f"evaluation on Melting Pot's {exp.substrate}; {len(chosen)} steps into {out}")
    for name in planner.recover(exp, every, out):
        say(f"{name}: its run folder holds every generation already; marked done")
    for run, users in carry.unrestore(out, every, chosen).items():
        say(f"{run}: trains again: it was restored from {results / carry.STATE}, which keeps no run "
            f"folder and no champion's network, and {', '.join(users)} need(s) them")
    restored = carry.restore(out, results, every, chosen)
    if restored:
        say(f"restored from {results / carry.STATE} (finished in an earlier checkout): "
            f"{', '.join(restored)}")
    failed = runner.execute([p.step for p in chosen], out.resolve(), parallel=parallel, say=say,
                            known=[p.step for p in every])
    if not only or "report" in only:
        paths = report.write(out, results, reps)
        kept = carry.save(out, results, every)
        say(f"report: {paths[1]}, {paths[0]} and {len(paths) - 2} figure(s) from every finished "
            f"evaluation, copied to {results}; {kept} finished step(s) kept in "
            f"{results / carry.STATE} (commit it: a rerun in a fresh checkout continues from it)")
    if failed:
        say(f"{len(failed)} step(s) did not finish: {', '.join(failed)}; rerun the same command "
            f"to retry them (finished steps are kept)")
    return failed
