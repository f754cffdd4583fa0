"""An experiment's finished steps carried in its results folder, so that it continues in a
fresh checkout: a new session, another machine, a clone of the repository.

An experiment folder (OUT, under runs/) holds training runs of hundreds of megabytes and is
not committed; its results folder (results/NAME) is. Whenever the report is written, `save`
copies there, under `state/`, what the report and a rerun need of every finished step: its
marker (paths in it made relative), an evaluation's `episodes.csv`, a champion's genes and
lineage (its policy.json without the network), a pbt or league run's lineage.jsonl (every
PBT event: the report follows each champion's genes through it). `popbased experiment run` then `restore`s
them into an OUT that lacks them before it starts: those steps are done, the rest run.

What is restored is whole: the steps of one run (an arm and seed: its training, export and
evaluations) are restored together or not at all, so a rerun never mixes an evaluation of
one training run with another training run of the same seed (say, when a population
evaluation is asked for later: it needs the run folder, so the whole seed trains again).
Random play, the reference and a champion arm are each a unit of their own. A run restored
earlier that a step added since needs (a cross-play matrix needs its champion's network, a
population evaluation its run folder) is taken back by `unrestore` and trains again.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from popbased.experiment.steps import Planned, lineage_file, lineages
from popbased.study.steps import write_marker

STATE = "state"
EPISODES = "episodes.csv"
KEPT = {"eval": (EPISODES,), "suite": ("suite.json",), "matrix": (EPISODES, "evaluation.json")}
"""The files an evaluating step leaves for the report, by stage."""
CHAMPION_FIELDS = ("member", "population", "evolved", "shaping", "fitness", "objectives", "lineage")
"""What the report reads of a champion's policy.json (no network, no machine's paths)."""


def _unit(p: Planned) -> tuple:
    return (p.arm, p.seed) if p.arm is not None else (p.name,)


def _files(p: Planned, out: Path) -> list[Path]:
    """The files under OUT a step leaves for the report, besides its marker."""
    if p.stage in KEPT:
        return [p.step.fresh / name for name in KEPT[p.stage]]
    if p.stage == "export" and p.seed is not None:
        return sorted((out / "champions" / p.arm / f"seed-{p.seed}").glob("*/policy.json"))
    return []


def _portable(value, out: Path):
    from popbased.experiment.report import portable  # deferred: the report imports pandas

    return portable(value, out)


DROPPED = ("argv", "stdout", "out", "ray")
"""Marker fields not carried: the command line and its output name this machine's folders
and store; the report and `status` read the step, its seconds and its result's numbers."""


def _kept(marker):
    if not isinstance(marker, dict):
        return marker
    return {k: _kept(v) if k == "result" else v for k, v in marker.items() if k not in DROPPED}


def _drop(p: Planned, out: Path, root: Path) -> None:
    """Removes under `root` (OUT itself, or results/state, which mirrors it) step p's marker and
    the files a save or a restore carries with it: an evaluation's tables, a training's lineage
    copy, an export's champion records."""
    (root / p.step.done.relative_to(out)).unlink(missing_ok=True)
    if p.stage in KEPT and p.step.fresh is not None:
        shutil.rmtree(root / p.step.fresh.relative_to(out), ignore_errors=True)
    if p.stage == "train" and p.seed is not None:
        (root / lineages(out, p.arm, p.seed)[1].relative_to(out)).unlink(missing_ok=True)
    if p.stage == "export" and p.seed is not None:
        shutil.rmtree(root / "champions" / p.arm / f"seed-{p.seed}", ignore_errors=True)


def _stale(out: Path, state: Path, steps: Sequence[Planned]) -> list[Planned]:
    """Steps kept in state that belong to an older training of a run that trained again in OUT
    (its training finished here, not restored): the run's steps not done in OUT yet, and the
    steps of other units that need them (a matrix). Kept, they would be restored beside the new
    training in another checkout: one seed's evaluation of one training with another's."""
    units, users = _units(steps)
    stale: dict[str, Planned] = {}
    for key, unit in units.items():
        if any(p.stage == "train" and p.step.done.is_file() and not _was_restored(p) for p in unit):
            stale.update((p.name, p) for p in unit + users[key]
                         if not p.step.done.is_file() and (state / p.step.done.relative_to(out)).is_file())
    return list(stale.values())


def save(out: Path, results: Path, steps: Sequence[Planned]) -> int:
    """Copies every finished step of `steps` into results/state, after removing from it what an
    older training of a run that trained again left there (`_stale`); returns how many."""
    out, state = Path(out).resolve(), Path(results) / STATE
    for p in _stale(out, state, steps):
        _drop(p, out, state)
    saved = 0
    for p in steps:
        if not p.step.done.is_file():
            continue
        files = _files(p, out)
        if p.stage in KEPT and not all(f.is_file() for f in files):
            continue  # marked done, but its table is gone: nothing a rerun could use
        try:
            marker = json.loads(p.step.done.read_text())
        except (OSError, ValueError):
            continue
        target = state / p.step.done.relative_to(out)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(_portable(_kept(marker), out), indent=1))
        source = lineage_file(out, p.arm, p.seed) if p.stage == "train" and p.seed is not None else None
        if source is not None:  # the run's, or the copy restored: kept as the copy
            dest = state / lineages(out, p.arm, p.seed)[1].relative_to(out)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
        for f in files:
            dest = state / f.relative_to(out)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if f.name == "policy.json":
                info = json.loads(f.read_text())
                dest.write_text(json.dumps({k: info[k] for k in CHAMPION_FIELDS if k in info}, indent=1))
            elif f.suffix == ".json":  # a suite's results name the champion's and bots' paths
                dest.write_text(json.dumps(_portable(json.loads(f.read_text()), out), indent=1))
            else:
                shutil.copyfile(f, dest)
        saved += 1
    return saved


def _saved(p: Planned, out: Path, state: Path) -> bool:
    if not (state / p.step.done.relative_to(out)).is_file():
        return False
    return all((state / f.relative_to(out)).is_file() for f in
               ([p.step.fresh / name for name in KEPT.get(p.stage, ())]))


def _units(steps: Sequence[Planned]) -> tuple[dict[tuple, list[Planned]], dict[tuple, list[Planned]]]:
    """The plan's steps by unit, and per unit the other units' steps that need one of its steps
    (a cross-play matrix needs each matrix arm's champion): a restore brings back neither a run
    folder nor a champion's network, so a unit stays unrestored while such a step is to do."""
    units: dict[tuple, list[Planned]] = defaultdict(list)
    for p in steps:
        units[_unit(p)].append(p)
    unit_of = {p.name: _unit(p) for p in steps}
    users: dict[tuple, list[Planned]] = defaultdict(list)
    for p in steps:
        for key in {unit_of[n] for n in p.step.needs if n in unit_of} - {_unit(p)}:
            users[key].append(p)
    return units, users


def _was_restored(p: Planned) -> bool:
    try:
        return json.loads(p.step.done.read_text()).get("restored") is True
    except (OSError, ValueError, AttributeError):
        return False


def unrestore(out: Path, steps: Sequence[Planned], chosen: Sequence[Planned] | None = None,
              dry: bool = False) -> dict[str, list[str]]:
    """Takes back the restored steps of a run (an arm and seed) that a step to do (`chosen`,
    default all) needs: a restored training has no run folder and a restored export no network,
    so that step could not run (say, a cross-play matrix or a population evaluation added to
    the file after the run was restored). The run's restored markers and the files restored with
    them are removed: the run trains and is evaluated again, whole, as `restore` would have left
    it. Steps that finished in this folder are never touched. Returns {run: the steps that
    need it}; `dry`: removes nothing."""
    out = Path(out).resolve()
    wanted = {p.name for p in (steps if chosen is None else chosen)}
    units, users = _units(steps)
    taken: dict[str, list[str]] = {}
    for key, unit in units.items():
        back = {p.name: p for p in unit if p.step.done.is_file() and _was_restored(p)}
        blocked = [p.name for p in unit + users[key] if p.name in wanted and not p.step.done.exists()
                   and set(p.step.needs) & set(back)]
        if not blocked:
            continue
        taken[key[0] if len(key) == 1 or key[1] is None else f"{key[0]}/seed-{key[1]}"] = blocked
        if dry:
            continue
        for p in back.values():
            _drop(p, out, out)
    return taken


def restore(out: Path, results: Path, steps: Sequence[Planned],
            chosen: Sequence[Planned] | None = None) -> list[str]:
    """Restores into OUT the steps of the plan `steps` that are not done there and are saved in
    results/state, whole runs at a time: a run's saved steps are restored when every step of it
    that this rerun would do (`chosen`, default all) is saved; returns their names."""
    out, state = Path(out).resolve(), Path(results) / STATE
    if not state.is_dir():
        return []
    wanted = {p.name for p in (steps if chosen is None else chosen)}
    units, users = _units(steps)
    restored = []
    for key, unit in units.items():
        todo = [p for p in unit if not p.step.done.exists() and _saved(p, out, state)]
        missing = [p for p in unit + users[key] if p.name in wanted and not p.step.done.exists()
                   and not _saved(p, out, state)]
        if not todo or missing:
            continue
        for p in todo:
            source = state / p.step.done.relative_to(out)
            if p.stage in KEPT:
                p.step.fresh.mkdir(parents=True, exist_ok=True)
                for name in KEPT[p.stage]:
                    kept = p.step.fresh / name
                    shutil.copyfile(state / kept.relative_to(out), kept)
            if p.stage == "train" and p.seed is not None:
                kept = lineages(out, p.arm, p.seed)[1]
                saved = state / kept.relative_to(out)
                if saved.is_file():
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(saved, kept)
            if p.stage == "export" and p.seed is not None:
                folder = state / "champions" / p.arm / f"seed-{p.seed}"
                for info in sorted(folder.glob("*/policy.json")):
                    dest = out / info.relative_to(state)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(info, dest)
            marker = json.loads(source.read_text())
            marker = {k: v for k, v in marker.items() if k != "step"} if isinstance(marker, dict) else {}
            write_marker(p.name, p.step.done, {**marker, "restored": True})
            restored.append(p.name)
    return restored
