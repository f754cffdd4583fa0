"""The study's steps as popbased commands: train each run, export its champion, then the
study's evaluations on real Melting Pot. Each step is one `python -m popbased.cli ...` process
(its own Ray and MLflow session, so a failed step leaves the others intact) and is done when
its marker file says so; a rerun of `scripts/study` skips what is done.

Folders under OUT: runs/NAME (the training run), champions/NAME (the ONNX export of a PBT
run's champion; a plain PPO run's champion is its checkpoint), eval/KIND (an evaluation's
results folder, as `popbased evaluate` writes it).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from popbased.textio import json_safe, write_atomic

from popbased.study.plan import RunPlan, StudyPlan

CLI = (sys.executable, "-m", "popbased.cli")


@dataclass(frozen=True)
class Step:
    name: str
    """Unique: train/NAME, export/NAME, eval/KIND."""
    argv: tuple[str, ...]
    done: Path
    """The marker a finished step writes (the command's JSON output where it has one)."""
    needs: tuple[str, ...] = ()
    """Steps that must be done first."""
    optional: tuple[tuple[str, str], ...] = ()
    """(step, argument): an argument (a policy) dropped from argv when that step failed; the
    step waits for them all, and runs while at least `at_least` of them are left."""
    at_least: int = 1
    fresh: Path | None = None
    """A folder emptied before the step starts (a run that cannot resume starts clean)."""

    def argv_without(self, failed) -> tuple[str, ...] | None:
        """argv without the arguments of failed optional steps (None: too few left)."""
        dropped = {arg for need, arg in self.optional if need in failed}
        if self.optional and len(self.optional) - len(dropped) < self.at_least:
            return None
        return tuple(a for a in self.argv if a not in dropped)


def run_folder(out: Path, name: str) -> Path:
    return out / "runs" / name


def champion(out: Path, run: RunPlan) -> Path:
    """The policy the evaluations play for `run` (an export folder or a checkpoint)."""
    if run.kind == "pbt":
        return out / "champions" / run.name
    return run_folder(out, run.name) / "m0.pt"


def train_step(plan: StudyPlan, run: RunPlan, out: Path, budget: int, generations: int,
               seed: int, tracking_uri: str, device: str) -> Step:
    folder = run_folder(out, run.name)
    done = out / "steps" / f"train-{run.name}.json"
    if run.kind == "pbt":
        per_gen = plan.steps_per_generation(run, budget, generations)
        if (folder / "state.json").exists():  # a rerun continues it, as it was launched
            argv = CLI + ("resume", str(folder), "--generations", str(generations),
                          "--tracking-uri", tracking_uri, "--device", device, "--json")
        else:
            argv = CLI + ("pbt", str(run.population), "--generations", str(generations),
                          "--steps-per-generation", str(per_gen), "--out", str(folder),
                          "--tracking-uri", tracking_uri, "--seed", str(seed), "--device", device,
                          "--env", "fast", "--json")
        return Step(f"train/{run.name}", argv, done)
    argv = CLI + ("train", run.substrate, "--total-steps", str(plan.share(budget)), "--members", "1",
                  "--out", str(folder), "--seed", str(seed), "--device", device, "--env", "fast",
                  "--json")
    for name, weight in run.shaping.items():
        argv += ("--shaping", f"{name}={weight:g}")
    return Step(f"train/{run.name}", argv, done, fresh=folder)


def write_marker(step: str, path: Path, record: dict) -> None:
    """A finished step's marker: its name and what it reported, written atomically."""
    write_atomic(path, json.dumps(json_safe({"step": step, **record}), indent=2,
                                  default=str).encode())


def recover(plan: StudyPlan, out: Path, generations: int) -> list[str]:
    """Writes the marker of each PBT run whose folder already holds every generation (its
    study process died before writing it): a rerun exports it instead of failing to resume."""
    recovered = []
    for run in plan.runs:
        marker = out / "steps" / f"train-{run.name}.json"
        state = run_folder(out, run.name) / "state.json"
        if run.kind != "pbt" or marker.exists() or not state.is_file():
            continue
        try:
            saved = json.loads(state.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if int(saved.get("generation", 0)) >= generations:
            write_marker(f"train/{run.name}", marker, {"recovered": True, "result": {
                "generation": saved["generation"], "agent_steps": saved.get("agent_steps")}})
            recovered.append(run.name)
    return recovered


def export_step(run: RunPlan, out: Path, tracking_uri: str) -> Step:
    argv = CLI + ("export", "champion", str(run_folder(out, run.name)), "-o", str(out / "champions"),
                  "--tracking-uri", tracking_uri, "--force")
    return Step(f"export/{run.name}", argv, out / "steps" / f"export-{run.name}.json",
                needs=(f"train/{run.name}",))


def eval_steps(plan: StudyPlan, out: Path, tracking_uri: str, seed: int,
               max_steps: int | None = None) -> list[Step]:
    """The study's evaluations on real Melting Pot, `plan.episodes` episodes per point
    (max_steps: cut episodes there, for smoke runs; the study's own never are)."""
    common = ("--episodes", str(plan.episodes), "--seed", str(seed), "--tracking-uri", tracking_uri,
              "--env", "meltingpot", "--force")
    common += ("--max-episode-steps", str(max_steps)) if max_steps else ()
    steps = []

    def policies(kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        runs = [plan.run(n) for n in plan.evaluation.get(kind, ())]
        needs = tuple(f"export/{r.name}" if r.kind == "pbt" else f"train/{r.name}" for r in runs)
        return tuple(str(champion(out, r)) for r in runs), needs

    def add(kind: str, head: tuple[str, ...], extra: tuple[str, ...] = (), with_random: bool = True):
        refs, needs = policies(kind)
        if not refs:
            return
        folder = out / "eval" / kind
        argv = CLI + ("evaluate",) + head + refs + (("random",) if with_random else ()) + extra
        steps.append(Step(f"eval/{kind}", argv + common + ("-o", str(folder)),
                          out / "steps" / f"eval-{kind}.json", optional=tuple(zip(needs, refs)),
                          at_least=2 if head == ("matrix",) else 1))

    # the goals' evaluations first: a study cut short still answers them
    add("home", ("run",), ("--substrate", "open"))
    add("scarcity", ("run",), ("--substrate", "scarcity"))
    add("regrowth_sweep", ("sweep", "regrowth"), ("--substrate", "open"), with_random=False)
    add("cooldown_sweep", ("sweep", "cooldown"), ("--substrate", "open"), with_random=False)
    add("matrix", ("matrix",), ("--substrate", "open"), with_random=False)
    add("private_property", ("run",), ("--substrate", "private_property"))
    return steps


def all_steps(plan: StudyPlan, out: Path, budget: int, generations: int, seed: int,
              tracking_uri: str, device: str, max_steps: int | None = None) -> list[Step]:
    steps = [train_step(plan, r, out, budget, generations, seed, tracking_uri, device)
             for r in plan.runs]
    steps += [export_step(r, out, tracking_uri) for r in plan.runs if r.kind == "pbt"]
    return steps + eval_steps(plan, out, tracking_uri, seed, max_steps)
