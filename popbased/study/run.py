"""Runs the study's steps (popbased.study.steps): up to `parallel` at once, each in its own
process, a step only once the steps it needs are done; what is done is skipped on a rerun.

A finished step's marker holds its command line, what it printed (its JSON report where it
has one), its duration in seconds and the code that ran it (popbased.provenance). A failed step leaves its log (OUT/logs/STEP.log) and no
marker; the steps that need it are skipped (an evaluation drops only the failed runs'
policies), the others still run, and the study ends with the list of what failed. A run that stopped early (SIGTERM: its report says
`interrupted`) has not finished. When the study itself stops, its running steps stop too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence

from popbased import provenance
from popbased.study.steps import Step, write_marker


def log_path(out: Path, step: Step) -> Path:
    return out / "logs" / (step.name.replace("/", "-") + ".log")


def _finish(step: Step, argv: Sequence[str], proc: subprocess.Popen, out: Path,
            seconds: float, code: dict | None = None) -> bool:
    if proc.returncode != 0:
        return False
    stdout = log_path(out, step).with_suffix(".out").read_text()
    try:
        record = json.loads(stdout) if stdout.strip().startswith(("{", "[")) else {"stdout": stdout}
    except json.JSONDecodeError:
        record = {"stdout": stdout}
    if isinstance(record, dict) and record.get("interrupted"):
        return False
    write_marker(step.name, step.done, {"argv": list(argv), "seconds": round(seconds, 3),
                                        "code": provenance.during(code), "result": record})
    return True


class _Runner:
    def __init__(self, steps: Sequence[Step], out: Path, parallel: int, say, env, known):
        self.steps, self.out, self.parallel, self.say, self.env = steps, out, parallel, say, env
        self.markers = {s.name: s.done for s in (*known, *steps)}
        self.own = {s.name for s in steps}
        self.pending = [s for s in steps if not s.done.exists()]
        self.done = {s.name for s in steps if s.done.exists()}
        self.failed: list[str] = []
        self.running: dict[str, tuple[Step, tuple[str, ...], subprocess.Popen, float]] = {}
        self.code: dict[str, dict] = {}
        """The code each running step was launched with (popbased.provenance)."""

    def ready(self, name: str) -> bool:
        if name not in self.done and name in self.markers and self.markers[name].exists():
            self.done.add(name)
        return name in self.done

    def blocked(self, name: str) -> bool:
        """A need that no step here can finish (failed, or outside the selection and not done)."""
        return name in self.failed or (name not in self.own and not self.ready(name))

    def settled(self, name: str) -> bool:
        return self.ready(name) or self.blocked(name)

    def start(self, step: Step) -> None:
        argv = step.argv_without({n for n, _ in step.optional if self.blocked(n)})
        self.pending.remove(step)
        if argv is None:
            self.failed.append(step.name)
            self.say(f"skipped: {step.name} (too few of its policies trained: "
                     f"{', '.join(n for n, _ in step.optional if self.blocked(n))} did not)")
            return
        if step.fresh is not None and step.fresh.exists():
            shutil.rmtree(step.fresh)
        self.code[step.name] = provenance.code()
        with open(log_path(self.out, step), "w") as log, \
                open(log_path(self.out, step).with_suffix(".out"), "w") as stdout:
            proc = subprocess.Popen(argv, stdout=stdout, stderr=log, text=True, env=self.env)
        self.running[step.name] = (step, argv, proc, time.monotonic())
        dropped = [n for n, _ in step.optional if self.blocked(n)]
        self.say(f"started: {step.name} (log: {log_path(self.out, step)})"
                 + (f", without {', '.join(dropped)}" if dropped else ""))

    def schedule(self) -> None:
        for step in list(self.pending):
            if any(self.blocked(n) for n in step.needs):
                self.pending.remove(step)
                self.failed.append(step.name)
                self.say(f"skipped: {step.name} (needs "
                         f"{', '.join(n for n in step.needs if self.blocked(n))})")
            elif (len(self.running) < self.parallel and all(self.ready(n) for n in step.needs)
                  and all(self.settled(n) for n, _ in step.optional)):
                self.start(step)

    def reap(self) -> None:
        for name, (step, argv, proc, started) in list(self.running.items()):
            if proc.poll() is None:
                continue
            del self.running[name]
            seconds = time.monotonic() - started
            minutes = seconds / 60
            if _finish(step, argv, proc, self.out, seconds, self.code.pop(name, None)):
                self.done.add(name)
                self.say(f"finished: {name} in {minutes:.1f} min")
            else:
                self.failed.append(name)
                self.say(f"FAILED: {name} (exit {proc.returncode}) after {minutes:.1f} min; "
                         f"log: {log_path(self.out, step)}")

    def stop_all(self) -> None:
        for name, (_, _, proc, _) in self.running.items():
            if proc.poll() is None:
                proc.terminate()  # popbased commands save what they have on SIGTERM
        for name, (_, _, proc, _) in self.running.items():
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
            self.say(f"stopped: {name}")


def execute(steps: Sequence[Step], out: Path, parallel: int = 1,
            say: Callable[[str], None] = print, env: dict | None = None,
            known: Sequence[Step] = ()) -> list[str]:
    """Runs `steps`; returns the names of the steps that failed or could not run. known: every
    step of the study, so that a need outside `steps` counts when its marker exists (an earlier
    run of the study finished it); one without its marker is not waited for."""
    (out / "logs").mkdir(parents=True, exist_ok=True)
    runner = _Runner(steps, out, parallel, say, env, known)
    for name in sorted(runner.done):
        say(f"done already: {name}")
    try:
        while runner.pending or runner.running:
            runner.schedule()
            if not runner.running and runner.pending:
                for step in runner.pending:  # what is left waits on steps that cannot finish
                    runner.failed.append(step.name)
                    say(f"skipped: {step.name} (needs {', '.join(step.needs)})")
                break
            time.sleep(1.0)
            runner.reap()
    finally:
        if runner.running:
            runner.stop_all()
    return runner.failed
