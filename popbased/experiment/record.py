"""OUT/experiment.json: the experiment as data (arms, seeds, budgets, every step with its
stage, arm, seed, units, marker, log and folder; `population: true` on a population's
evaluation), written by `popbased experiment run` before its steps run, read by `popbased
experiment status` and the report. Paths are relative to OUT (the experiment file's to the
working folder), so the folder can move and results name no machine's folders. Each run
writes it anew from the current plan: a rerun whose plan has more steps (population
evaluations added to a folder planned without them) records them all, and the steps whose
markers exist stay done.

`changes` says what a rerun's plan changes of an earlier one (OUT/experiment.json, or the
summary.json of the results it would continue from): its shared settings (budget, episodes,
substrate, evaluation seed, reference) and each arm's definition, population file included.
`popbased experiment run` refuses a change that touches finished steps, which would otherwise
count as done for the new plan and mix two experiments in one report.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

from popbased.errors import BadInput
from popbased.experiment import spec as specs
from popbased.experiment import steps as planner
from popbased.experiment.steps import Planned
from popbased.study import run as runner
from popbased.textio import json_safe

RECORD = "experiment.json"


def relative(path: str | Path, base: Path | None = None) -> str:
    """`path` relative to `base` (default: the working folder) when it lies inside it; else
    relative to it with `..` (never absolute, so that results name no machine's folders)."""
    base = (base or Path.cwd()).resolve()
    path = Path(path)
    full = path.resolve() if path.is_absolute() or path.exists() else base / path
    try:
        return str(full.relative_to(base))
    except ValueError:
        return os.path.relpath(full, base)


SETTINGS = {"name": None, "agent_steps": ("train",), "round_shape": ("train",),
            "episodes": ("eval",), "substrate": ("eval",), "eval_seed": ("eval",),
            "max_episode_steps": ("eval",), "reference": ("eval",),
            "suite": ("suite",), "suite_episodes": ("suite",), "suite_sha256": ("suite",),
            "matrix_arms": ("matrix",), "matrix_roles": ("matrix",), "matrix_modes": ("matrix",),
            "matrix_episodes": ("matrix",)}
"""The experiment's shared settings, each with the stages whose finished steps it made what
they are (None: every step). The training's PPO batch shape is `round_shape`."""
ARM_FIELDS = ("kind", "definition", "generations", "members", "agent_steps", "trains_on", "file_sha256")
"""What makes an arm's runs what they are (its `note` is words, and may change)."""


def sha256(*paths: Path | str, text: bytes = b"") -> str:
    digest = hashlib.sha256(text)
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def _file_sha256(arm: specs.Arm) -> str | None:
    """What the arm's definition names but does not hold: a pbt arm's population file with
    its overrides (as the run gets it), a league arm's league file and the population files
    it names."""
    if arm.kind == "pbt":
        from popbased.experiment.files import dumps  # deferred: only pbt arms write files

        return sha256(text=dumps(arm.population).encode())
    if arm.kind == "league" and arm.file is not None and Path(arm.file).is_file():
        from popbased.league.spec import load  # deferred: only league arms

        sources = [p.source for p in load(arm.file).populations if p.source and Path(p.source).is_file()]
        return sha256(arm.file, *sources)
    return None


def _arm(info: dict) -> dict:
    kept = {k: info.get(k) for k in ARM_FIELDS if k in info}
    if isinstance(kept.get("definition"), dict):
        kept["definition"] = {k: v for k, v in kept["definition"].items() if k != "note"}
    return kept


def changes(old: dict, new: dict) -> tuple[dict[str, str], dict[str, list[str]]]:
    """({setting: how it differs}, {arm: how its fields differ}) from the plan `old` (a record,
    or a report's summary.json) to `new`; an arm only one of them has is no change, nor a
    setting or field only one of them records (an older record)."""
    old = {**old, "name": old.get("name", old.get("experiment")),  # a summary's names
           "reference": old.get("reference", old.get("reference_policy"))}
    settings = {k: f"{k} {old[k]!r} -> {new[k]!r}" for k in SETTINGS
                if k in old and k in new and old[k] != new[k]}
    arms = {}
    for name, info in new.get("arms", {}).items():
        if name not in (old.get("arms") or {}):
            continue
        a, b = _arm(old["arms"][name]), _arm(info)
        differ = []
        for k in ARM_FIELDS:
            if k not in a or k not in b or a[k] == b[k]:
                continue
            if k == "definition":
                keys = sorted(set(a[k]) | set(b[k]), key=str)
                differ += [f"{d} {a[k].get(d)!r} -> {b[k].get(d)!r}" for d in keys if a[k].get(d) != b[k].get(d)]
            elif k == "file_sha256":
                differ.append("its population or league file's contents")
            else:
                differ.append(f"{k} {a[k]!r} -> {b[k]!r}")
        differ = [d for d in dict.fromkeys(differ)  # `generations` is both a field and defined
                  if d not in settings.values()]  # the experiment's budget, said once
        if differ:
            arms[name] = differ
    return settings, arms


def _folder(p: Planned, out: Path) -> Path:
    """Where a training or evaluation step writes (its run folder, its results folder)."""
    return planner.run_folder(out, p.arm, p.seed) if p.stage == "train" else p.step.fresh


def _suites(exp: specs.Experiment) -> dict:
    """The suites as the record keeps them: one suite as a file and its SHA-256 (as before
    several were allowed), several as lists, with their tags (suite/TAG/... steps)."""
    files, digests = [relative(s) for s in exp.suites], [sha256(s) for s in exp.suites]
    if len(files) == 1:
        return {"suite": files[0], "suite_episodes": exp.suite_episodes, "suite_sha256": digests[0]}
    return {"suite": files, "suite_episodes": exp.suite_episodes, "suite_sha256": digests,
            "suite_tags": [tag for _, tag in exp.suite_tags]}


PER_SUITE = ("suite", "suite_sha256", "suite_tags")
"""The settings judged suite by suite (`_suites` writes them, `suite_changes` compares them): a
suite added, or one changed, touches only its own steps (suite/TAG/...), not the other suites'
hours of Melting Pot episodes."""


def suites_by_tag(plan: dict) -> dict[str, tuple[str, str | None]]:
    """{tag: (file, SHA-256)} of a record's or summary's suites (tag "" for one suite)."""
    files, digests = plan.get("suite"), plan.get("suite_sha256")
    if files is None:
        return {}
    if isinstance(files, str):
        return {"": (files, digests)}
    tags = plan.get("suite_tags") or [""] * len(files)
    return {tag: (f, d) for tag, f, d in zip(tags, files, digests or [None] * len(files))}


def suite_changes(old: dict, new: dict) -> dict[str, str]:
    """{tag: how that suite differs} for the suites both plans have."""
    before, now = suites_by_tag(old), suites_by_tag(new)
    said = {}
    for tag in before.keys() & now.keys():
        (f0, d0), (f1, d1) = before[tag], now[tag]
        name = f"suite {tag!r}" if tag else "suite"
        if f0 != f1:
            said[tag] = f"{name} {f0!r} -> {f1!r}"
        elif d0 and d1 and d0 != d1:
            said[tag] = f"{name} {f1!r}: its contents (SHA-256 {d0[:12]} -> {d1[:12]})"
    return said


def record(exp: specs.Experiment, steps: Sequence[Planned], out: Path) -> dict:
    """The experiment as data, paths relative to OUT (the experiment file's: to the working folder)."""
    out = out.resolve()
    arms = {a.name: {"kind": a.kind, "note": a.note, "definition": json_safe(dict(a.definition)),
                     "generations": a.generations or None, "members": a.members,
                     "agent_steps": a.budget(exp.agent_steps) if a.kind != "champion" else None,
                     "steps_per_generation": (a.steps_per_generation(exp.agent_steps)
                                              if a.kind in ("pbt", "league") else None),
                     "trains_on": a.substrate if a.kind != "champion" else None,
                     **({"file_sha256": _file_sha256(a)} if a.kind in ("pbt", "league") else {})}
            for a in exp.arms}
    rows = [{"name": p.name, "stage": p.stage, "arm": p.arm, "seed": p.seed, "units": p.units,
             "marker": relative(p.step.done, out), "log": relative(runner.log_path(out, p.step), out),
             **({"folder": relative(_folder(p, out), out)} if p.stage != "export" else {}),
             **({"population": True} if p.population else {})}
            for p in steps]
    return {"name": exp.name, "file": relative(exp.source), "description": exp.description,
            "seeds": list(exp.seeds), "agent_steps": exp.agent_steps, "episodes": exp.episodes,
            "substrate": exp.substrate,
            "reference": relative(exp.reference) if exp.reference and Path(exp.reference).exists()
            else exp.reference,
            "max_episode_steps": exp.max_episode_steps, "eval_seed": planner.EVAL_SEED,
            "round_shape": json_safe(dict(exp.round_shape)),
            **(_suites(exp) if exp.suites else {}),
            **({"tuned_on": [{"name": t.name, "file": relative(t.file), "seeds": list(t.seeds)}
                             for t in exp.tuned_on]} if exp.tuned_on else {}),
            "arms": arms, "steps": rows,
            **({"matrix_arms": list(exp.matrix.arms), "matrix_roles": planner.matrix_roles(exp),
                "matrix_modes": list(exp.matrix.modes), "matrix_episodes": exp.matrix.episodes}
               if exp.matrix else {})}


def read_record(out: Path) -> dict:
    path = Path(out) / RECORD
    if not path.is_file():
        raise BadInput(f"{out}: not an experiment folder (no {RECORD}; `popbased experiment run "
                       f"FILE -o {out}` makes one)")
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadInput(f"{path}: unreadable ({err})") from None
