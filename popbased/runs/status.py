"""Where a run folder stands, whatever its kind, and an audit of what it holds (`popbased
status FOLDER [--check]`).

A folder's kind is what `popbased.runs.claim.held` reads from its files:

    train       options.json, metrics.jsonl (one record per round), m0.pt, m1.pt, ...
    pbt         state.json with a `spec`, generations.jsonl, rounds.jsonl, gen-NNNN/...
    league      state.json with a `league`, the same and payoff.jsonl
    evaluation  evaluation.json, its tables (CSV and Parquet), report.html
    experiment  experiment.json (its plan), steps/, logs/, runs/ARM/seed-N, eval/ARM/seed-N
    study       steps/ (a marker per finished step), logs/, runs/, eval/

`locate` also takes what `popbased lineage` and `export` take for a run: a league or
population name (its newest run under ./runs) or an MLflow run id (popbased.runs.refs).

    folder, kind = locate("commons")
    now = status(folder, kind)          # a dict: kind, folder, and what that kind has
    problems, what = check(folder, kind)   # problems == []: all is well; what: in words
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

from popbased import textio
from popbased.errors import BadInput
from popbased.evaluation import results, scenario_results, tables
from popbased.league import spec as league_spec
from popbased.league.audit import audit
from popbased.population import spec as population_spec
from popbased.ppo import checkpoint
from popbased.runs import refs
from popbased.runs import state as files
from popbased.runs.claim import CHECKPOINT, KINDS, NAMES, held
from popbased.substrates import resolve

METRICS = "metrics.jsonl"
ROUNDS = "rounds.jsonl"


def locate(ref: str | Path, uri: str | None = None) -> tuple[Path, str]:
    """(folder, kind) of a run folder of any kind, or of a league or PBT run given as its
    name or an MLflow run id (`uri`: the store to look ids up in). BadInput for anything
    else."""
    path = Path(ref)
    if path.exists():
        found = held(path)
        if found is None:
            raise BadInput(f"{ref}: an empty folder (no run in it)")
        kind, what = found
        if kind not in KINDS:
            raise BadInput(f"{ref}: not a run folder (it is {what}); a run folder holds a train "
                           f"run (metrics.jsonl, m0.pt), a PBT run or league (state.json), "
                           f"evaluation results (evaluation.json), an experiment (experiment.json) or a "
                           f"study (steps/)")
        return path, kind
    run = refs.league(str(ref), uri)
    return run.path, run.kind


def status(folder: str | Path, kind: str | None = None) -> dict[str, Any]:
    """Where the run in `folder` stands: {"kind", "folder", what that kind has (see the
    readers below), "idle_s": seconds since a file of it was last written}."""
    folder = Path(folder)
    kind = kind or locate(folder)[1]
    return {"kind": kind, "folder": str(folder), **_READERS[kind](folder),
            "idle_s": _idle(folder)}


def check(folder: str | Path, kind: str | None = None, *,
          mlflow: bool = True) -> tuple[list[str], str]:
    """(problems, what was found, in words) of the run in `folder`: [] when all is well.
    League and PBT runs: `popbased.league.audit`; train runs: readable checkpoints and a
    metrics.jsonl of one run; evaluations: their files and tables; studies: their step
    markers and the check of every run and evaluation folder in them. `mlflow`: also check
    what a tracked run logged (when its store answers)."""
    folder = Path(folder)
    kind = kind or locate(folder)[1]
    return _CHECKS[kind](folder, mlflow)


# ---------------------------------------------------------------------- reading
def _json(path: Path) -> Any:
    """The JSON in `path`; None when there is no such file; BadInput when it is damaged."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadInput(f"{path}: not readable JSON ({err})") from None


def last_record(path: Path, chunk: int = 1 << 16) -> dict[str, Any] | None:
    """The last whole record of a JSON-lines file (a torn last line is skipped), read from
    its end: rounds.jsonl of a long run holds many thousands of lines."""
    if not path.is_file():
        return None
    with path.open("rb") as f:
        end = f.seek(0, 2)
        data, start = b"", end
        while start > 0:
            start = max(0, start - chunk)
            f.seek(start)
            data = f.read(end - start)
            lines = data.split(b"\n")
            whole = lines[1:] if start > 0 else lines  # the first may be cut by the seek
            for line in reversed(whole):
                if line.strip():
                    try:
                        return json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a torn last line
    return None


def _idle(folder: Path) -> float | None:
    times = [p.stat().st_mtime for p in folder.iterdir() if p.is_file()]
    return max(0.0, time.time() - max(times)) if times else None


def _last_round(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """A round record without its episodes' summaries (the round's headline is enough)."""
    return None if record is None else {k: v for k, v in record.items()
                                        if k != "episode_summaries"}


def _checkpoints(folder: Path) -> dict[str, str]:
    found = [p for p in folder.iterdir() if CHECKPOINT.match(p.name)]
    return {p.stem: str(p) for p in sorted(found, key=lambda p: int(p.stem[1:]))}


def _train(folder: Path) -> dict[str, Any]:
    opts = _json(folder / "options.json") or {}
    last = last_record(folder / METRICS)
    steps = int(last["agent_steps"]) if last else 0
    total = (last or {}).get("total_steps") or opts.get("steps")
    return {"substrate": opts.get("substrate"), "params": opts.get("params") or {},
            "env": opts.get("env"), "members": opts.get("members"), "agent_steps": steps,
            "total_steps": total, "left_steps": max(0, total - steps) if total else None,
            "finished": bool(total) and steps >= total,
            "rounds": (last or {}).get("round", 0), "last_round": _last_round(last),
            "first_episode": _first_episode(opts) if last and not last.get("episodes") else None,
            "shaping": opts.get("shaping"), "checkpoints": _checkpoints(folder)}


def _first_episode(opts: dict[str, Any]) -> tuple[int, int] | None:
    """When a train run's first episode can end (`Lab2dSpec.first_episode`), from its options."""
    try:
        spec = resolve(opts["substrate"], dict(opts.get("params") or {}))
        return spec.first_episode(int(opts["workers"]) * int(opts["envs_per_worker"]))
    except (KeyError, TypeError, ValueError, BadInput):
        return None


def _member(record: dict[str, Any], state: dict[str, Any], folder: Path) -> dict[str, Any]:
    entry = files.checkpoint_entry(state, record["id"]) if record["id"] in state.get(
        "checkpoints", {}) else None
    return {"id": record["id"], "fitness": record.get("fitness"),
            "objectives": record.get("objectives") or {}, "values": record.get("values") or {},
            "parent": record.get("parent"), "birth_generation": record.get("birth_generation"),
            "agent_steps": record.get("agent_steps", 0),
            "checkpoint": str(folder / entry["file"]) if entry else None}


def _best(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    known = [r for r in records if r["fitness"] is not None]
    if not known:
        return None
    best = max(known, key=lambda r: r["fitness"])
    return {"id": best["id"], "fitness": best["fitness"], "checkpoint": best["checkpoint"]}


def _steps_per_generation(kind: str, opts: dict[str, Any]) -> int | None:
    """Agent-steps per member per generation: the launch's override or its file's."""
    if opts.get("steps_per_generation"):
        return int(opts["steps_per_generation"])
    try:
        if kind == "league":
            return league_spec.load(opts["league"]).steps_per_generation
        return population_spec.load(opts["population"]).steps_per_generation
    except (KeyError, OSError, BadInput):
        return None


def _target(kind: str, opts: dict[str, Any], members: int,
            last: dict[str, Any] | None) -> int | None:
    """The generations the run was launched (or last resumed) to complete: a PBT run's
    options.json says; a league's last round's total agent-steps over a generation's."""
    if kind == "pbt" and opts.get("generations"):
        return int(opts["generations"])
    per = _steps_per_generation(kind, opts)
    if last and last.get("total_steps") and per and members:
        return max(1, round(last["total_steps"] / (per * members)))
    return None


def _generations(folder: Path, kind: str) -> dict[str, Any]:
    """What PBT runs and leagues have alike."""
    state = _json(folder / files.STATE)
    if not isinstance(state, dict) or "generation" not in state:
        raise BadInput(f"{folder / files.STATE}: not a run's state (`popbased status {folder} "
                       f"--check` says what is wrong)")
    opts = _json(folder / "options.json") or {}
    last = last_record(folder / ROUNDS)
    if kind == "league":
        by_pop = state["members"]
    else:
        by_pop = {state["spec"]["name"]: state["members"]}
    members = {pop: [_member(r, state, folder) for r in records] for pop, records in by_pop.items()}
    count = sum(len(records) for records in members.values())
    g = int(state["generation"])
    target = _target(kind, opts, count, last)
    in_progress = bool(last) and int(last.get("generation", 0)) >= g and (target is None
                                                                           or g < target)
    return {"generation": g, "generations": target,
            "left_generations": None if target is None else max(0, target - g),
            "finished": target is not None and g >= target,
            "in_progress": g + 1 if in_progress else None,
            "agent_steps": state["agent_steps"], "members": members,
            "best": {pop: _best(records) for pop, records in members.items()},
            "last_round": _last_round(last), "tracking": _tracking(folder)}


def _tracking(folder: Path) -> dict[str, Any] | None:
    try:
        found = _json(folder / "tracking.json")
    except BadInput:
        return None
    return None if found is None else {"uri": found.get("uri"),
                                       "experiment_id": found.get("experiment_id"),
                                       "generation": found.get("generation")}


def _pbt(folder: Path) -> dict[str, Any]:
    state = _json(folder / files.STATE)
    spec = state.get("spec", {}) if isinstance(state, dict) else {}
    return {"name": spec.get("name"), "substrate": spec.get("substrate"),
            "params": spec.get("params") or {}, **_generations(folder, "pbt")}


def _league(folder: Path) -> dict[str, Any]:
    state = _json(folder / files.STATE)
    out = _generations(folder, "league")
    payoffs = textio.read(folder / "payoff.jsonl")[:out["generation"]]
    return {"league": state["league"], **out,
            "snapshots": [s["id"] for s in state.get("snapshots", [])],
            "payoff": payoffs[-1] if payoffs else None}


def _summary_rows(folder: Path) -> list[dict[str, Any]]:
    """The summary table (summary.csv), one row per policy and point (or scenario)."""
    path = folder / "summary.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        ret = r.get("focal_return") or r.get("per_capita_return")
        out.append({"policy": r.get("policy"), "point": r.get("point") or r.get("scenario"),
                    "episodes": int(float(r["episodes"])) if r.get("episodes") else None,
                    "return": float(ret) if ret not in (None, "") else None})
    return out


def _evaluation(folder: Path) -> dict[str, Any]:
    info = _json(folder / results.INFO) or {}
    rows = _summary_rows(folder)
    return {"title": info.get("title"), "substrate": info.get("substrate"),
            "env": info.get("env"), "policies": info.get("policies") or [],
            "axes": info.get("axes") or {}, "modes": info.get("modes"),
            "scenarios": info.get("scenarios"), "episodes": info.get("episodes"),
            "seconds": info.get("seconds"), "started": info.get("started"),
            "points": len({r["point"] for r in rows}), "summary": rows}


def _stem_step(stem: str) -> str:
    """A marker's or log's file name as its step's name: train-open -> train/open."""
    return stem.replace("-", "/", 1)


def _parts(folder: Path) -> dict[str, tuple[Path, str]]:
    """The study's run and evaluation folders: runs/NAME, eval/KIND."""
    found = {}
    for sub in ("runs", "eval"):
        if not (folder / sub).is_dir():
            continue
        for path in sorted((folder / sub).iterdir()):
            kind = (held(path) or ("", ""))[0]
            if kind in KINDS and kind != "study":
                found[f"{sub}/{path.name}"] = (path, kind)
    return found


def _study(folder: Path) -> dict[str, Any]:
    done = sorted(p.stem for p in (folder / "steps").glob("*.json"))
    logs = sorted(p.stem for p in (folder / "logs").glob("*.log"))
    parts = {}
    for name, (path, kind) in _parts(folder).items():
        try:
            parts[name] = status(path, kind)
        except BadInput as err:
            parts[name] = {"kind": kind, "folder": str(path), "error": str(err)}
    return {"done": [_stem_step(s) for s in done],
            "unfinished": [_stem_step(s) for s in logs if s not in done],
            "logs": str(folder / "logs"), "parts": parts}


def _experiment(folder: Path) -> dict[str, Any]:
    """What `popbased experiment status` reports: every step's state and the time left."""
    from popbased.experiment import status as experiment  # deferred: only for this kind

    return experiment.status(folder)


_READERS = {"train": _train, "pbt": _pbt, "league": _league, "evaluation": _evaluation,
            "experiment": _experiment, "study": _study}


# ---------------------------------------------------------------------- checking
def _check_generations(kind: str):
    def check_run(folder: Path, mlflow: bool) -> tuple[list[str], str]:
        try:
            problems = audit(folder, mlflow=mlflow, kind=kind)
        except BadInput as err:
            return [str(err)], NAMES[kind]
        generation = json.loads((folder / files.STATE).read_text())["generation"]
        return problems, f"generation {generation}"
    return check_run


def _check_train(folder: Path, mlflow: bool) -> tuple[list[str], str]:
    problems = []
    try:
        opts = _json(folder / "options.json") or {}
    except BadInput as err:
        problems.append(str(err))
        opts = {}
    try:
        records = textio.read(folder / METRICS)
    except BadInput as err:
        problems.append(str(err))
        records = []
    rounds = [r.get("round") for r in records]
    if rounds != list(range(1, len(rounds) + 1)):
        twice = sorted({r for r in rounds if rounds.count(r) > 1})
        problems.append(f"{METRICS}: rounds {_short(rounds)}, not 1..{len(rounds)} once each"
                        + (f" (round {twice[0]} {rounds.count(twice[0])} times: the records of "
                           f"more than one run)" if twice else ""))
    steps = [r.get("agent_steps", 0) for r in records]
    if any(b < a for a, b in zip(steps, steps[1:])):
        problems.append(f"{METRICS}: agent-steps go back")
    found = _checkpoints(folder)
    for member, path in found.items():
        try:
            checkpoint.read(path)
        except BadInput as err:
            problems.append(str(err))
    members = opts.get("members")
    missing = [f"m{i}.pt" for i in range(members or 0) if f"m{i}" not in found]
    if missing:
        problems.append(f"checkpoints missing: {', '.join(missing)} (options.json names "
                        f"{members} members)")
    elif not found:
        problems.append("no checkpoint (the run stopped before writing one)")
    what = (f"train run, {len(records)} rounds, {records[-1]['agent_steps'] if records else 0:,} "
            f"agent-steps, {len(found)} checkpoint{'s' if len(found) != 1 else ''}")
    return problems, what


def _short(values: list) -> str:
    return str(values) if len(values) <= 12 else f"[{', '.join(map(str, values[:10]))}, ...]"


def _check_evaluation(folder: Path, mlflow: bool) -> tuple[list[str], str]:
    problems = []
    try:
        info = _json(folder / results.INFO) or {}
    except BadInput as err:
        return [str(err)], NAMES["evaluation"]
    scenario = "scenarios" in info
    names = list(tables.TABLES) + (list(scenario_results.EXTRA) if scenario else [])
    for name in names:
        for suffix in (".csv", ".parquet"):
            if not (folder / f"{name}{suffix}").is_file():
                problems.append(f"{name}{suffix}: missing")
    for name in ([] if scenario else [results.POINTS]) + [results.REPORT]:
        if not (folder / name).is_file():
            problems.append(f"{name}: missing")
    if not problems:
        try:
            results.read(folder)
        except BadInput as err:
            problems.append(str(err))
    rows = _summary_rows(folder)
    episodes = info.get("episodes")
    short = [f"{r['policy']} @ {r['point']}" for r in rows
             if episodes and r["episodes"] is not None and r["episodes"] != episodes]
    if short:
        problems.append(f"summary: not {episodes} episodes for {', '.join(short[:5])}"
                        + (" ..." if len(short) > 5 else ""))
    missing = [p for p in info.get("policies") or [] if p not in {r["policy"] for r in rows}]
    if rows and missing:
        problems.append(f"summary: no rows for {', '.join(missing)}")
    return problems, (f"evaluation, {len(info.get('policies') or [])} policies, "
                      f"{len(rows)} summary rows")


def _check_study(folder: Path, mlflow: bool) -> tuple[list[str], str]:
    problems = []
    markers = sorted((folder / "steps").glob("*.json"))
    for marker in markers:
        try:
            _json(marker)
        except BadInput as err:
            problems.append(str(err))
    parts = _parts(folder)
    for name, (path, kind) in parts.items():
        found, _ = check(path, kind, mlflow=mlflow)
        problems += [f"{name}: {p}" for p in found]
    return problems, f"study, {len(markers)} steps done, {len(parts)} run and evaluation folders"


def _check_experiment(folder: Path, mlflow: bool) -> tuple[list[str], str]:
    """Its plan readable, every step marker readable, and each run or evaluation folder its
    plan names that exists audited as its kind."""
    from popbased.experiment.record import read_record  # deferred: only for this kind

    record = read_record(folder)
    problems, done, audited = [], 0, 0
    for row in record.get("steps", []):
        marker = folder / row["marker"]
        if marker.exists():
            done += 1
            try:
                _json(marker)
            except BadInput as err:
                problems.append(str(err))
        path = folder / row["folder"] if row.get("folder") else None
        kind = (held(path) or ("", ""))[0] if path is not None else ""
        if kind in KINDS and kind not in ("study", "experiment"):
            audited += 1
            found, _ = check(path, kind, mlflow=mlflow)
            problems += [f"{row['folder']}: {p}" for p in found]
    return problems, (f"experiment {record.get('name')!r}, {done} of {len(record.get('steps', []))} "
                      f"steps done, {audited} run and evaluation folders")


_CHECKS = {"train": _check_train, "pbt": _check_generations("pbt"),
           "league": _check_generations("league"), "evaluation": _check_evaluation,
           "experiment": _check_experiment, "study": _check_study}

