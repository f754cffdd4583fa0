"""Which code made a result: the git commit of the popbased checkout that ran a step, and
whether its popbased/ folder had changes not committed, read when the step is launched and
again when it finishes. Recorded in every finished step's marker (popbased.study.run) and
summed up in an experiment's report, so that a results folder says which code made its runs,
and when a rerun continued them with other code."""

from __future__ import annotations

import subprocess
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(PACKAGE.parent), *args], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def code() -> dict[str, str | bool | None]:
    """{"commit": the checkout's HEAD now (None outside a git checkout, e.g. an installed
    wheel), "changed": whether popbased/ differs from it (None when unknown)}."""
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return {"commit": None, "changed": None}
    status = _git("status", "--porcelain", "--", str(PACKAGE))
    return {"commit": commit, "changed": None if status is None else bool(status)}


def during(launched: dict | None) -> dict[str, str | bool | None]:
    """The code a step ran: as it was when the step was launched (`launched`; now, where
    unknown), counted as changed if the checkout is not the same now that it has finished (a
    step imports some modules late)."""
    now = code()
    if launched is None:
        return now
    return {**launched, "changed": launched["changed"] if now == launched else True}


def label(made: dict | None) -> str:
    """A marker's code as the report names it: the short commit, '+changes' when popbased/ had
    changes not committed; 'not recorded' for steps made before popbased recorded it."""
    if not made or not made.get("commit"):
        return "not recorded"
    return made["commit"][:7] + ("+changes" if made.get("changed") else "")
