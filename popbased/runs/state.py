"""A run folder (PBT run or league): what is written after every generation, and reading it
back.

    state.json              the last completed generation (also gen-NNNN/state.json)
    gen-NNNN/[POP/]mK.pt    every member's learner at the end of generation NNNN (0 = initial)
    lineage.jsonl           every init / keep / exploit / adopt / explore event
    payoff.jsonl            (leagues) one payoff table per completed generation, with scores
    generations.jsonl       per generation: members, fitness, scores, events, timing
    rounds.jsonl            per training round: speed, episode metrics, learner statistics
    options.json            the options it was launched with (resume reuses them)

A generation's checkpoints and records (lineage, payoff, generations) are written before its
state.json, which is written last: it is the commit. Resume drops the records of any later
generation (`drop_unfinished`), so a kill at any moment loses only the generation in progress
and repeats nothing. Files are written atomically (temp file, rename) or appended a line at a
time (a torn last line is dropped on reading); a state records the SHA-256 of every
checkpoint it names. Resume reads state.json and checks every checkpoint; if one is torn or
corrupted, it warns and falls back to the newest earlier generation whose files are all
intact (checkpoints of earlier generations are never deleted).
"""

from __future__ import annotations

import json
import os
import signal
import warnings
from pathlib import Path
from typing import Any

from popbased import textio
from popbased.errors import BadInput
from popbased.textio import json_safe
from popbased.ppo import checkpoint

STATE = "state.json"
FORMAT = 1


def write(out: Path, state: dict[str, Any]) -> None:
    """Commits a completed generation: its own copy first, then state.json (the commit)."""
    data = json.dumps(json_safe(state), indent=1).encode()
    textio.write_atomic(out / f"gen-{state['generation']:04d}" / STATE, data)
    crash_point("state", state["generation"])
    textio.write_atomic(out / STATE, data)


def crash_point(name: str, generation: int) -> None:
    """Fault injection for the kill-and-resume tests and the soak benchmark:
    POPBASED_CRASH_AT=NAME:G SIGKILLs this process when it reaches point NAME in generation G
    (train: after a training round; pbt: lineage events written; checkpoints: the members'
    checkpoints written, state not yet; state: gen-NNNN/state.json written, state.json not
    yet; committed: state.json written, the generation not yet tracked)."""
    if os.environ.get("POPBASED_CRASH_AT") == f"{name}:{generation}":
        os.kill(os.getpid(), signal.SIGKILL)


def read_options(folder: Path, kind: str = "league") -> dict[str, Any]:
    """The options.json a run was launched with (what resume reuses)."""
    folder = Path(folder)
    path = folder / "options.json"
    if not (folder / STATE).is_file() or not path.is_file():
        raise BadInput(f"{folder}: not a {kind} folder (no {STATE} / options.json)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise BadInput(f"{path}: not valid JSON ({err})") from None


def generation_dir(generation: int) -> str:
    """The folder (relative to the run folder) of one generation's checkpoints."""
    return f"gen-{generation:04d}"


def checkpoint_file(generation: int, member: str) -> str:
    return f"{generation_dir(generation)}/{member}.pt"


def _parse(path: Path, kind: str) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadInput(f"{path} is not valid JSON ({err})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise BadInput(f"{path}: not a {kind} state of format {FORMAT}")
    return state


def checkpoint_entry(state: dict[str, Any], member: str) -> dict[str, Any]:
    """{file, sha256} of a member's checkpoint in a state (PBT states before this format named
    the file alone: its sha256 is then None)."""
    entry = state["checkpoints"][member]
    return {"file": entry, "sha256": None} if isinstance(entry, str) else entry


def _intact(out: Path, state: dict[str, Any]) -> str | None:
    """None if every checkpoint the state names is there with its hash; else the problem."""
    files = [checkpoint_entry(state, m) for m in state.get("checkpoints", {})]
    for entry in files + list(state.get("snapshots", [])):
        path = out / entry["file"]
        try:
            with path.open("rb") as f:
                header = f.readline()
        except OSError:
            return f"{path}: missing"
        if entry["sha256"] and not header.rstrip().endswith(b"sha256=" + entry["sha256"].encode()):
            return f"{path}: not the checkpoint the state recorded"
        try:
            checkpoint.read(path)
        except BadInput as err:
            return str(err)
    return None


def read(out: Path, kind: str = "league") -> dict[str, Any]:
    """The newest intact state (warns when it had to fall back to an earlier generation).
    kind ('league' or 'PBT') names the run in messages."""
    out = Path(out)
    path = out / STATE
    if not path.is_file():
        raise BadInput(f"{out} holds no {kind} run (no {STATE})")
    candidates = [path] + sorted(out.glob(f"gen-*/{STATE}"), reverse=True)
    problems = []
    for candidate in candidates:
        try:
            state = _parse(candidate, kind)
        except BadInput as err:
            problems.append(str(err))
            continue
        problem = _intact(out, state)
        if problem is None:
            if problems:
                warnings.warn(f"{kind} {out}: {problems[0]}; resuming from generation "
                              f"{state['generation']} instead", stacklevel=2)
            return state
        problems.append(problem)
    raise BadInput(f"{out}: no intact {kind} state to resume from ({problems[0]})")


def append(out: Path, name: str, record: dict[str, Any]) -> None:
    textio.append(out / name, record)


def lines(out: Path, name: str) -> list[dict[str, Any]]:
    return textio.read(out / name)


def drop_unfinished(out: Path, generation: int) -> None:
    """Before resuming from `generation`: drops the records of any later generation that
    did not complete (payoff and generation records past it, rounds played after it)."""
    for name in ("payoff.jsonl", "generations.jsonl"):
        textio.truncate(out / name, generation)
    textio.keep_only(out / "rounds.jsonl", lambda r: r.get("generation", 0) < generation)
