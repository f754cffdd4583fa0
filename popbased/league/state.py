"""A league's run folder: what is written after every generation, and reading it back.

    state.json              the last completed generation (also gen-NNNN/state.json)
    gen-NNNN/POP/mK.pt      every member's learner at the end of generation NNNN (0 = initial)
    lineage.jsonl           every init / keep / exploit / explore event, all populations
    payoff.jsonl            one payoff table per completed generation, with league scores
    generations.jsonl       per generation: members, fitness, scores, events, timing
    rounds.jsonl            per training round: speed, episode metrics, learner statistics

Every file is written atomically (temp file, rename); a state records the SHA-256 of
every checkpoint it names. Resume reads state.json and checks every checkpoint; if one is
torn or corrupted, it warns and falls back to the newest earlier generation whose files
are all intact (checkpoints of earlier generations are never deleted).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from popbased import jsonl
from popbased.errors import BadInput
from popbased.play import json_safe
from popbased.ppo import checkpoint

STATE = "state.json"
FORMAT = 1


def write(out: Path, state: dict[str, Any]) -> None:
    data = json.dumps(json_safe(state), indent=1).encode()
    checkpoint.write_atomic(out / f"gen-{state['generation']:04d}" / STATE, data)
    checkpoint.write_atomic(out / STATE, data)


def _parse(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadInput(f"{path} is not valid JSON ({err})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise BadInput(f"{path}: not a league state of format {FORMAT}")
    return state


def _intact(out: Path, state: dict[str, Any]) -> str | None:
    """None if every checkpoint the state names is there with its hash; else the problem."""
    files = list(state["checkpoints"].values()) + [s for s in state["snapshots"]]
    for entry in files:
        path = out / entry["file"]
        try:
            header = path.open("rb").readline()
        except OSError:
            return f"{path}: missing"
        if not header.rstrip().endswith(b"sha256=" + entry["sha256"].encode()):
            return f"{path}: not the checkpoint the state recorded"
        try:
            checkpoint.read(path)
        except BadInput as err:
            return str(err)
    return None


def read(out: Path) -> dict[str, Any]:
    """The newest intact state (warns when it had to fall back to an earlier generation)."""
    path = out / STATE
    if not path.is_file():
        raise BadInput(f"{out} holds no league run (no {STATE})")
    candidates = [path] + sorted(out.glob(f"gen-*/{STATE}"), reverse=True)
    problems = []
    for candidate in candidates:
        try:
            state = _parse(candidate)
        except BadInput as err:
            problems.append(str(err))
            continue
        problem = _intact(out, state)
        if problem is None:
            if problems:
                warnings.warn(f"league {out}: {problems[0]}; resuming from generation "
                              f"{state['generation']} instead", stacklevel=2)
            return state
        problems.append(problem)
    raise BadInput(f"{out}: no intact league state to resume from ({problems[0]})")


def append(out: Path, name: str, record: dict[str, Any]) -> None:
    jsonl.append(out / name, record)


def lines(out: Path, name: str) -> list[dict[str, Any]]:
    return jsonl.read(out / name)


def truncate(out: Path, name: str, keep: int) -> None:
    jsonl.truncate(out / name, keep)
