"""Claiming an output folder before a command writes a run into it: a folder that holds
another run is refused (one line naming what it holds and the ways out), or with `force`
moved aside whole to FOLDER.old-TIME; a run is never overwritten and files are never mixed.

What a folder holds is read from its files:

    train        metrics.jsonl, member checkpoints m0.pt, m1.pt, ... at the top, or an
                 options.json of command "train"
    pbt, league  state.json (a league's has a `league` entry, a PBT run's a `spec` entry)
    evaluation   evaluation.json (`popbased evaluate run | sweep | matrix | scenario`)
    experiment   experiment.json (`popbased experiment run`; its steps/ beside it)
    study        steps/ (the study's step markers), or logs/ beside runs/

A missing or empty folder is free. A folder of other files is free too, except for an
evaluation, which replaces its folder whole.

    out = claim("runs/x", "train", force=False)        # BadInput if runs/x holds a run
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Callable

from popbased.errors import BadInput

KINDS = ("train", "pbt", "league", "evaluation", "experiment", "study")
NAMES = {"train": "a train run", "pbt": "a PBT run", "league": "a league",
         "evaluation": "evaluation results", "experiment": "an experiment", "study": "a study"}
RESUME_HINTS = {"pbt": "continue it with `popbased resume {out}`",
                "league": "continue it with `popbased resume {out}`"}
"""How to continue a run of each kind that a command can continue ({out}: the folder)."""
RERUN = ("experiment", "study")
"""Kinds whose command continues a run of its kind by running again in its folder."""
CHECKPOINT = re.compile(r"^m\d+\.pt$")


def _experiment_name(path: Path) -> str:
    try:
        name = json.loads(path.read_text()).get("name")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return "its experiment.json is unreadable"
    return repr(name) if isinstance(name, str) else "unnamed"


def held(path: str | Path) -> tuple[str, str] | None:
    """(kind, what it holds, in words) of the run in `path`; ("file", ...) when `path` is a
    file, ("other", ...) for a folder of other files; None when missing or empty."""
    path = Path(path)
    if path.is_file() or (path.exists() and not path.is_dir()):
        return "file", "a file"
    if not path.is_dir():
        return None
    names = sorted(p.name for p in path.iterdir())
    if not names:
        return None
    if "state.json" in names:
        try:
            state = json.loads((path / "state.json").read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return "pbt", "a PBT run or league (its state.json is unreadable)"
        state = state if isinstance(state, dict) else {}
        kind = "league" if "league" in state else "pbt"
        return kind, f"{NAMES[kind]} (generation {state.get('generation', '?')})"
    if "evaluation.json" in names:
        return "evaluation", NAMES["evaluation"]
    if "experiment.json" in names:
        return "experiment", f"{NAMES['experiment']} ({_experiment_name(path / 'experiment.json')})"
    if (path / "steps").is_dir() or ((path / "logs").is_dir() and (path / "runs").is_dir()):
        return "study", NAMES["study"]
    marks = [n for n in names if n == "metrics.jsonl" or CHECKPOINT.match(n)]
    if not marks and "options.json" in names and _command(path / "options.json") == "train":
        marks = ["options.json"]
    if marks:
        return "train", f"{NAMES['train']} ({', '.join(marks[:4])}{', ...' if len(marks) > 4 else ''})"
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return "other", f"{len(names)} other file(s) ({shown})"


def _command(path: Path) -> str | None:
    try:
        options = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return options.get("command") if isinstance(options, dict) else None


def aside_name(path: Path) -> Path:
    """FOLDER.old-YYYYMMDD-HHMMSS beside `path` (-2, -3, ... added if taken)."""
    base = path.with_name(f"{path.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
    candidate, n = base, 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def claim(out: str | Path, kind: str, *, resume: bool = False, force: bool = False,
          option: str = "--out", say: Callable[[str], None] = _say) -> Path:
    """The folder `out`, free for a run of `kind` (one of KINDS): checked before anything is
    written. With `resume`, a run of the same kind there is the one to continue (its own
    checks follow) and a run of another kind is refused; `resume` and `force` together are
    refused. Otherwise a folder holding a run (or, for an evaluation, any file) is refused
    with BadInput, or with `force` renamed whole to FOLDER.old-TIME (said through `say`, on
    stderr by default); a study's or an experiment's folder is continued by running it again. `option`
    names the flag that gave `out` in messages."""
    if kind not in KINDS:
        raise ValueError(f"claim: kind {kind!r}; allowed: {', '.join(KINDS)}")
    path = Path(out)
    found = held(path)
    if resume and force:
        raise BadInput(f"--resume and --force: choose one (continue the run in {path}, or move it "
                       f"aside and start over)")
    if found is None:
        return path
    have, what = found
    if resume:
        if have in (kind, "other"):
            return path
        raise BadInput(f"--resume: {option} {path} holds {what}, not {NAMES[kind]}")
    if have == "other" and kind != "evaluation" or have == kind and kind in RERUN and not force:
        return path
    if not force:
        hint = RESUME_HINTS.get(kind) if have == kind else None
        ways = ((f"{hint.format(out=path)}, " if hint else "")
                + f"add --force to move it aside to {path}.old-TIME, or choose another {option}")
        state = "is a file" if have == "file" else f"already holds {what}"
        raise BadInput(f"{option} {path} {state}; {ways}")
    aside = aside_name(path)
    os.rename(path, aside)
    say(f"{option} {path} held {what}: moved it aside to {aside}")
    return path
