"""Runs the study's steps (popbased.study.steps): up to `parallel` at once, each in its own
process, a step only once the steps it needs are done; what is done is skipped on a rerun.

A failed step leaves its log (OUT/logs/STEP.log) and no marker; the steps that need it are
skipped, the others still run, and the study ends with the list of what failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence

from popbased.study.steps import Step


def log_path(out: Path, step: Step) -> Path:
    return out / "logs" / (step.name.replace("/", "-") + ".log")


def _finish(step: Step, proc: subprocess.Popen, out: Path) -> bool:
    if proc.returncode != 0:
        return False
    stdout = log_path(out, step).with_suffix(".out").read_text()
    try:
        record = json.loads(stdout) if stdout.strip().startswith(("{", "[")) else {"stdout": stdout}
    except json.JSONDecodeError:
        record = {"stdout": stdout}
    step.done.parent.mkdir(parents=True, exist_ok=True)
    tmp = step.done.with_suffix(".tmp")
    tmp.write_text(json.dumps({"step": step.name, "argv": list(step.argv), "result": record},
                              indent=2, default=str))
    os.replace(tmp, step.done)
    return True


def execute(steps: Sequence[Step], out: Path, parallel: int = 1,
            say: Callable[[str], None] = print, env: dict | None = None,
            known: Sequence[Step] = ()) -> list[str]:
    """Runs `steps`; returns the names of the steps that failed or could not run. known: every
    step of the study, so that a need outside `steps` counts when its marker exists (an earlier
    run of the study finished it); one without its marker is not waited for."""
    markers = {s.name: s.done for s in (*known, *steps)}
    pending = [s for s in steps if not s.done.exists()]
    done = {s.name for s in steps if s.done.exists()}

    def ready(name: str) -> bool:
        if name not in done and name in markers and markers[name].exists():
            done.add(name)
        return name in done

    own = {s.name for s in steps}

    def blocked(name: str) -> bool:  # a need that no step here can finish
        return name in failed or (name not in own and not ready(name))
    for name in sorted(done):
        say(f"done already: {name}")
    failed: list[str] = []
    running: dict[str, tuple[Step, subprocess.Popen, float]] = {}
    (out / "logs").mkdir(parents=True, exist_ok=True)
    while pending or running:
        for step in list(pending):
            if any(blocked(n) for n in step.needs):
                pending.remove(step)
                failed.append(step.name)
                say(f"skipped: {step.name} (needs {', '.join(n for n in step.needs if blocked(n))})")
            elif len(running) < parallel and all(ready(n) for n in step.needs):
                pending.remove(step)
                with open(log_path(out, step), "w") as log, \
                        open(log_path(out, step).with_suffix(".out"), "w") as stdout:
                    proc = subprocess.Popen(step.argv, stdout=stdout, stderr=log, text=True, env=env)
                running[step.name] = (step, proc, time.monotonic())
                say(f"started: {step.name} (log: {log_path(out, step)})")
        if not running and pending:
            for step in pending:  # what is left waits on steps that cannot finish
                failed.append(step.name)
                say(f"skipped: {step.name} (needs {', '.join(step.needs)})")
            break
        time.sleep(1.0)
        for name, (step, proc, started) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[name]
            minutes = (time.monotonic() - started) / 60
            if _finish(step, proc, out):
                done.add(name)
                say(f"finished: {name} in {minutes:.1f} min")
            else:
                failed.append(name)
                say(f"FAILED: {name} (exit {proc.returncode}) after {minutes:.1f} min; "
                    f"log: {log_path(out, step)}")
    return failed
