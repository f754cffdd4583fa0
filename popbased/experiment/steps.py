"""An experiment's steps as popbased commands (popbased.study.steps.Step: one process each,
done when its marker exists): per arm and seed, train on the fast env, export the champion
(pbt, league), evaluate it on real Melting Pot, and for pbt and league arms evaluate the whole
population too (`population:RUN_FOLDER`, or `population:RUN_FOLDER/POP` for a league's
champion population: its members mixed in the seats as they trained, member i of n in every
seat j with j % n == i; not planned when the population has more members than the substrate
has seats); random play and the reference once. Every evaluation plays episode seeds
0..episodes-1 (`--seed 0`): the same episode seeds for every policy (not the same episodes:
on Melting Pot the policies' actions consume the env's random stream differently).

Folders under OUT:
    files/ARM.toml          a pbt arm's population file with the arm's overrides
    runs/ARM/seed-S         the training run
    champions/ARM/seed-S/POP  the exported champion (pbt, league); a train run's is its m0.pt
    eval/ARM/seed-S         its evaluation (a champion arm: eval/ARM; eval/random, eval/reference)
    eval/ARM/seed-S-population  the population's evaluation (step eval/ARM/seed-S/population)
    matrix/seed-S           cross-play ([matrix]): the matrix arms' seed-S champions, random and
                            the reference, each focal against each other (evaluate matrix)
    suite/ARM/seed-S        the champion on the experiment's held-out suite ([experiment] suite),
                            with random's and the reference's returns from suite/baselines
    steps/*.json, logs/     markers and logs (popbased.study.run)

A folder planned before population evaluations existed gets them on a rerun: the steps that
are done keep their markers, and the new steps run once their training is done.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from popbased.experiment.files import write_population
from popbased.experiment.spec import Arm, Experiment
from popbased.study.steps import CLI, Step, write_marker

EVAL_SEED = 0
"""Every evaluation's --seed: episode k starts from the same episode seed for every policy."""
STAGES = ("train", "export", "eval", "suite", "matrix")


@dataclass(frozen=True)
class Planned:
    """A step and where it sits in the experiment."""

    step: Step
    stage: str
    """train, export, eval, suite or matrix."""
    arm: str | None
    """None for the baselines (random, reference)."""
    seed: int | None
    """None for what is played once (baselines, champion arms)."""
    units: int
    """What its duration scales with: agent-steps (train), episodes (eval), 1 (export)."""
    agent_steps: int = 0
    population: bool = False
    """An evaluation of a run's whole population (its members mixed in the seats), not of
    its champion."""

    @property
    def name(self) -> str:
        return self.step.name


def key(arm: str, seed: int | None) -> str:
    return arm if seed is None else f"{arm}/seed-{seed}"


def marker(out: Path, stage: str, name: str) -> Path:
    return out / "steps" / f"{stage}-{name.replace('/', '-')}.json"


LINEAGE = "lineage.jsonl"
"""A pbt or league run's lineage (every PBT event), in its run folder."""


def run_folder(out: Path, arm: str, seed: int) -> Path:
    return out / "runs" / arm / f"seed-{seed}"


def lineages(out: Path, arm: str, seed: int) -> tuple[Path, Path]:
    """(the run's own lineage.jsonl, the copy kept of it: OUT/lineage/ARM/seed-S.jsonl, where
    popbased.experiment.carry restores it; never in the run folder, which a retraining reuses)."""
    return run_folder(out, arm, seed) / LINEAGE, out / "lineage" / arm / f"seed-{seed}.jsonl"


def lineage_file(out: Path, arm: str, seed: int) -> Path | None:
    """The run's lineage to read: its own where its run folder has it, else the copy kept;
    None where neither exists."""
    return next((p for p in lineages(out, arm, seed) if p.is_file()), None)


def eval_folder(out: Path, arm: str, seed: int | None) -> Path:
    return out / "eval" / key(arm, seed)


def population_eval_folder(out: Path, arm: str, seed: int) -> Path:
    return out / "eval" / arm / f"seed-{seed}-population"


def population_policy(out: Path, arm: Arm, seed: int) -> str:
    """The reference to a run's population (popbased.evaluation.policies): a PBT run's one
    population, a league's champion population."""
    folder = run_folder(out, arm.name, seed)
    return f"population:{folder}" + (f"/{arm.champion_population}" if arm.kind == "league" else "")


def population_size(arm: Arm) -> int:
    """The members of the population a population evaluation seats (pbt: the arm's; league:
    its champion population's)."""
    if arm.kind != "league":
        return arm.members
    from popbased.league.spec import load

    return next(p.size for p in load(arm.file).populations if p.name == arm.champion_population)


def population_file(out: Path, arm: Arm) -> Path:
    return out / "files" / f"{arm.name}.toml"


def champion(out: Path, arm: Arm, seed: int | None) -> str:
    """The policy a run's evaluation plays."""
    if arm.kind == "champion":
        return str(arm.policy)
    if arm.kind == "train":
        return str(run_folder(out, arm.name, seed) / "m0.pt")
    return str(out / "champions" / arm.name / f"seed-{seed}" / str(arm.champion_population))


def _shape(exp: Experiment) -> tuple[str, ...]:
    flags = {"workers": "--workers", "envs_per_worker": "--envs-per-worker",
             "rollout_length": "--rollout-length"}
    return tuple(x for k, v in exp.round_shape.items() for x in (flags[k], str(v)))


def _generations_done(folder: Path) -> int:
    try:
        return int(json.loads((folder / "state.json").read_text()).get("generation", 0))
    except (OSError, ValueError, AttributeError):
        return 0


def train_step(exp: Experiment, arm: Arm, seed: int, out: Path, uri: str, device: str) -> Planned:
    folder = run_folder(out, arm.name, seed)
    name = f"train/{key(arm.name, seed)}"
    common = ("--out", str(folder), "--seed", str(seed), "--device", device, "--env", "fast",
              "--json") + _shape(exp)
    fresh = None if (folder / "state.json").is_file() else folder
    if arm.kind == "train":
        argv = CLI + ("train", arm.substrate, "--total-steps", str(arm.budget(exp.agent_steps)), "--members",
                      str(arm.members)) + common
        argv += tuple(x for k, v in arm.params.items() for x in ("-p", f"{k}={v}"))
        argv += tuple(x for k, v in arm.shaping.items() for x in ("--shaping", f"{k}={v:g}"))
        argv += tuple(x for k, v in arm.ppo.items() for x in ("--ppo", f"{k}={v}"))
        fresh = folder  # a train run cannot resume: it starts again
    elif fresh is None:  # a pbt run or league stopped part-way goes on as it was launched
        argv = CLI + ("resume", str(folder), "--generations", str(arm.generations),
                      "--tracking-uri", uri, "--device", device, "--json")
    else:
        head = ("pbt", str(population_file(out, arm))) if arm.kind == "pbt" else \
            ("league", "launch", str(arm.file))
        argv = CLI + head + ("--generations", str(arm.generations), "--steps-per-generation",
                             str(arm.steps_per_generation(exp.agent_steps)),
                             "--tracking-uri", uri) + common
    step = Step(name, argv, marker(out, "train", key(arm.name, seed)), fresh=fresh)
    budget = arm.budget(exp.agent_steps)
    return Planned(step, "train", arm.name, seed, budget, budget)


def export_step(arm: Arm, seed: int, out: Path, uri: str) -> Planned:
    name = key(arm.name, seed)
    argv = CLI + ("export", "champion", str(run_folder(out, arm.name, seed)),
                  "-o", str(out / "champions" / arm.name / f"seed-{seed}"),
                  "--population", str(arm.champion_population), "--force", "--no-register",
                  "--tracking-uri", uri)
    step = Step(f"export/{name}", argv, marker(out, "export", name), needs=(f"train/{name}",))
    return Planned(step, "export", arm.name, seed, 1)


def eval_step(exp: Experiment, out: Path, uri: str, policy: str, folder: Path, name: str,
              needs: tuple[str, ...] = ()) -> Step:
    argv = CLI + ("evaluate", "run", policy, "--substrate", exp.substrate, "--episodes",
                  str(exp.episodes), "--seed", str(EVAL_SEED), "--env", "meltingpot",
                  "--tracking-uri", uri, "-o", str(folder))
    if exp.max_episode_steps:
        argv += ("--max-episode-steps", str(exp.max_episode_steps))
    return Step(f"eval/{name}", argv, marker(out, "eval", name), needs=needs, fresh=folder)


SUITE_BASELINES = "baselines"


def suite_step(exp: Experiment, out: Path, uri: str, arm: Arm | None, seed: int | None,
               needs: tuple[str, ...] = (), *, suite: tuple[Path, str]) -> Planned:
    """The champion of (arm, seed) focal in every scenario of a suite of the experiment (`suite`:
    (file, tag), from exp.suite_tags), random's and the reference's returns read from the
    suite/[TAG/]baselines step; arm None: that step (random and the reference focal, played once)."""
    file, tag = suite
    root = out / "suite" / tag if tag else out / "suite"
    name = SUITE_BASELINES if arm is None else key(arm.name, seed)
    folder = root / name
    baselines = root / SUITE_BASELINES / "suite.json"
    policy = () if arm is None else (champion(out, arm, seed), "--baselines", str(baselines))
    argv = CLI + ("evaluate", "suite", str(file)) + policy + (
        "--episodes", str(exp.suite_episodes), "--seed", str(EVAL_SEED), "--env", "meltingpot",
        "--tracking-uri", uri, "-o", str(folder), "--keep-tasks", str(tasks_folder(out, tag, name)))
    if exp.max_episode_steps:
        argv += ("--max-episode-steps", str(exp.max_episode_steps))
    prefix = f"{tag}/" if tag else ""
    needs = needs + (() if arm is None else (f"suite/{prefix}{SUITE_BASELINES}",))
    step = Step(f"suite/{prefix}{name}", argv, marker(out, "suite", prefix + name), needs=needs, fresh=folder)
    from popbased.evaluation.suite import load as load_suite  # deferred: reads Melting Pot's configs

    chosen = load_suite(file)
    return Planned(step, "suite", None if arm is None else arm.name, seed,
                   exp.suite_episodes * len(chosen.scenarios) * (len(chosen.played) if arm is None else 1))


def tasks_folder(out: Path, tag: str, name: str) -> Path:
    """Where a suite step keeps its finished tasks (`evaluate suite --keep-tasks`): outside the
    step's folder, which a rerun of the step starts afresh, so that a step killed part-way
    (hours of Melting Pot episodes) goes on where it stopped."""
    return out / "tasks" / "suite" / (tag or "-") / name


def suite_tag(name: str) -> str:
    """The suite tag of a suite step's name (suite/[TAG/]baselines, suite/[TAG/]ARM[/seed-S]):
    empty for an experiment's one suite."""
    parts = name.split("/")[1:]
    if parts[-1] == SUITE_BASELINES:
        return "/".join(parts[:-1])
    return "/".join(parts[:-2] if parts[-1].startswith("seed-") else parts[:-1])


def matrix_roles(exp: Experiment) -> list[str]:
    """Who plays in a cross-play matrix, in the order its command gives them: the matrix arms'
    champions, then its baselines (random play, the reference)."""
    return list(exp.matrix.arms) + [b for b in exp.matrix.baselines if b != "reference" or exp.reference]


def matrix_step(exp: Experiment, out: Path, uri: str, seed: int) -> Planned:
    policies, needs = [], []
    for name in exp.matrix.arms:
        arm = exp.arm(name)
        policies.append(champion(out, arm, None if arm.kind == "champion" else seed))
        if arm.kind in ("pbt", "league"):
            needs.append(f"export/{key(name, seed)}")
        elif arm.kind == "train":
            needs.append(f"train/{key(name, seed)}")
    policies += [b if b == "random" else exp.reference for b in matrix_roles(exp)[len(exp.matrix.arms):]]
    folder = out / "matrix" / f"seed-{seed}"
    argv = CLI + ("evaluate", "matrix", *policies, "--substrate", exp.substrate, "--modes",
                  ",".join(exp.matrix.modes), "--episodes", str(exp.matrix.episodes), "--seed",
                  str(EVAL_SEED), "--env", "meltingpot", "--tracking-uri", uri, "-o", str(folder))
    if exp.max_episode_steps:
        argv += ("--max-episode-steps", str(exp.max_episode_steps))
    name = f"seed-{seed}"
    step = Step(f"matrix/{name}", argv, marker(out, "matrix", name), needs=tuple(needs), fresh=folder)
    n = len(policies)
    return Planned(step, "matrix", None, seed, exp.matrix.episodes * n * (n - 1) * len(exp.matrix.modes))


def plan(exp: Experiment, out: Path, uri: str, device: str = "auto") -> list[Planned]:
    """Every step of the experiment, in the order they start: the baselines and champion arms,
    then seed by seed each arm's training, export and evaluation, then its population's
    evaluation (pbt, league; a run's evaluations start as soon as they can, so an experiment
    stopped early has whole seeds)."""
    out = out.resolve()
    steps = []
    from popbased.substrates import resolve  # deferred: Melting Pot's configs

    seats = resolve(exp.substrate).num_players
    for name, policy in (("random", "random"), ("reference", exp.reference)):
        if policy:
            steps.append(Planned(eval_step(exp, out, uri, policy, out / "eval" / name, name),
                                 "eval", None, None, exp.episodes))
    for suite in exp.suite_tags:
        steps.append(suite_step(exp, out, uri, None, None, suite=suite))
    for arm in exp.arms:
        if arm.kind == "champion":
            step = eval_step(exp, out, uri, champion(out, arm, None), eval_folder(out, arm.name, None),
                             arm.name)
            steps.append(Planned(step, "eval", arm.name, None, exp.episodes))
            for suite in exp.suite_tags:
                steps.append(suite_step(exp, out, uri, arm, None, suite=suite))
    for seed in exp.seeds:
        for arm in exp.arms:
            if arm.kind == "champion":
                continue
            steps.append(train_step(exp, arm, seed, out, uri, device))
            need = f"train/{key(arm.name, seed)}"
            if arm.kind in ("pbt", "league"):
                steps.append(export_step(arm, seed, out, uri))
                need = steps[-1].name
            step = eval_step(exp, out, uri, champion(out, arm, seed),
                             eval_folder(out, arm.name, seed), key(arm.name, seed), (need,))
            steps.append(Planned(step, "eval", arm.name, seed, exp.episodes))
            for suite in exp.suite_tags:
                steps.append(suite_step(exp, out, uri, arm, seed, (need,), suite=suite))
            if arm.kind in ("pbt", "league") and population_size(arm) <= seats:
                step = eval_step(exp, out, uri, population_policy(out, arm, seed),
                                 population_eval_folder(out, arm.name, seed),
                                 f"{key(arm.name, seed)}/population", (f"train/{key(arm.name, seed)}",))
                steps.append(Planned(step, "eval", arm.name, seed, exp.episodes, population=True))
        if exp.matrix:
            steps.append(matrix_step(exp, out, uri, seed))
    return steps


def write_files(exp: Experiment, out: Path) -> list[Path]:
    """The population files of the pbt arms (OUT/files/ARM.toml), from the arms' overrides."""
    return [write_population(population_file(out, a), a.population, a.file.name)
            for a in exp.arms if a.kind == "pbt"]


def recover(exp: Experiment, steps: list[Planned], out: Path) -> list[str]:
    """Marks done each pbt or league training whose folder holds every generation already (its
    experiment process died before writing the marker): a rerun exports it instead."""
    recovered = []
    for p in steps:
        if p.stage != "train" or p.step.done.exists() or exp.arm(p.arm).kind not in ("pbt", "league"):
            continue
        done = _generations_done(run_folder(out.resolve(), p.arm, p.seed))
        if done >= exp.arm(p.arm).generations:
            write_marker(p.name, p.step.done, {"recovered": True, "result": {"generation": done}})
            recovered.append(p.name)
    return recovered
