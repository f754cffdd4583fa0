"""A run settled once: RunPlan, built from launch options by `settle` (the CLI's flags, a
population or league file, or a folder's options.json on resume) before anything starts.

    plan = settle({"command": "pbt", "population": "populations/open.toml", "generations": 4,
                   "out": "runs/open", ...})
    plan.run(on_round=print)

Everything a run needs is decided here: its kind (train, pbt, league), its population or
league spec (with the options that override the file), its TrainConfig (engine resolved,
round shape filled) and its generations; bad input fails here as one BadInput line.
`plan.options` is what the run folder's options.json holds: the plan written down, which a
resume settles again (`resume_plan`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from popbased.env.engines import Engine
from popbased.errors import BadInput
from popbased.league import run as league_run
from popbased.league.spec import LeagueSpec, load as load_league
from popbased.population import run as pbt_run
from popbased.population.spec import PopulationSpec, load as load_population
from popbased.ppo.config import NetConfig, PPOConfig, from_mapping
from popbased.run.train import train
from popbased.runs import state as files
from popbased.selfplay import TrainConfig, validate

KINDS = ("train", "pbt", "league")
SHARED = ("seed", "device", "workers", "envs_per_worker", "rollout_length", "lstm", "env")
"""Launch options every kind of run takes (TrainConfig's fields of the same names; lstm is
NetConfig's)."""


@dataclass(frozen=True)
class RunPlan:
    """A settled run (see the module docstring)."""

    kind: str
    """'train', 'pbt' or 'league'."""
    config: TrainConfig
    """Its training settings, engine resolved and round shape filled."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """The launch options (options.json), with `command` naming the kind."""
    spec: PopulationSpec | LeagueSpec | None = None
    """The population (pbt) or league (league) file's spec, with the options' overrides."""
    generations: int = 1
    """Generations to complete in total (train: one, of `config.steps` agent-steps)."""
    resume: bool = False
    """Continue the run folder's last committed generation."""

    @property
    def engine(self) -> Engine:
        return self.config.engine

    @property
    def out(self) -> Path | None:
        return Path(self.config.out) if self.config.out else None

    @property
    def name(self) -> str:
        return self.config.substrate if self.spec is None else self.spec.name

    def run(self, on_round: Callable | None = None, on_generation: Callable | None = None,
            prepare: Callable | None = None) -> dict[str, Any]:
        """Runs (or resumes) it to the end; the final report (see popbased.run.loop)."""
        if self.kind == "train":
            return train(self.config, on_round)
        runner = pbt_run.run if self.kind == "pbt" else league_run.run
        return runner(self.spec, self.config, self.generations, resume=self.resume,
                      on_round=on_round, on_generation=on_generation, prepare=prepare)


def kind_of(options: Mapping[str, Any]) -> str:
    """The kind of run `options` launch: its `command`, or (options.json from before it was
    written) what it names."""
    kind = options.get("command")
    if kind in KINDS:
        return kind
    for key, kind in (("league", "league"), ("population", "pbt"), ("substrate", "train")):
        if key in options:
            return kind
    raise BadInput(f"launch options {sorted(options)}: name a league, a population or a "
                   f"substrate (command: one of {', '.join(KINDS)})")


def settle(options: Mapping[str, Any], *, resume: bool = False,
           ray_address: str | None = None) -> RunPlan:
    """The RunPlan of `options` (see the module docstring); BadInput if anything is wrong."""
    kind = kind_of(options)
    opts = {**options, "command": kind}
    out = opts.get("out")
    shared = {k: opts[k] for k in SHARED if opts.get(k) is not None and k != "lstm"}
    # options.json of folders from before `env` existed has none: those runs played Melting Pot
    shared["env"] = opts.get("env") or ("auto" if kind == "train" else "meltingpot")
    net = NetConfig(lstm=opts.get("lstm") or 0)
    if kind == "train":
        config = TrainConfig(opts["substrate"], dict(opts.get("params") or {}),
                             steps=opts["steps"], members=opts.get("members", 1), net=net,
                             ppo=from_mapping(PPOConfig, dict(opts.get("ppo") or {}), "--ppo"),
                             shaping=dict(opts.get("shaping_given") or {}) or None,
                             overlap=opts.get("overlap", True), out=out, ray_address=ray_address,
                             **shared)
        _, _, weights = validate(config)
        return RunPlan(kind, config, train_options(config, weights))
    generations = opts["generations"]
    if kind == "pbt":
        spec = load_population(opts["population"])
        if opts.get("steps_per_generation"):
            spec = dataclasses.replace(spec, steps_per_generation=opts["steps_per_generation"])
        out = out or f"runs/pbt-{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        config = pbt_run.train_config(spec, generations, net=net, out=out, ray_address=ray_address,
                                      max_episode_steps=opts.get("max_episode_steps"), **shared)
    else:
        spec = league_spec(opts)
        if not out:
            raise BadInput("a league needs an output folder (--out)")
        config = league_run.train_config(spec, generations, net=net, out=out,
                                         ray_address=ray_address, **shared)
    validate(config)
    return RunPlan(kind, config, {**opts, "out": out}, spec, generations, resume)


def train_options(config: TrainConfig, weights: Mapping[str, float]) -> dict[str, Any]:
    """A train run's options.json: its settled options (engine resolved, round shape filled,
    every PPO setting), and the reward weights it trains with (`shaping`: the defaults
    overridden by `shaping_given`, the weights given)."""
    return {"command": "train", "substrate": config.substrate,
            "params": {k: str(v) for k, v in config.params.items()}, "steps": config.steps,
            "members": config.members, "seed": config.seed, "device": config.device,
            "env": config.env, "workers": config.workers, "envs_per_worker": config.envs_per_worker,
            "rollout_length": config.rollout_length, "lstm": config.net.lstm,
            "overlap": config.overlap, "ppo": dataclasses.asdict(config.ppo),
            "shaping": dict(weights), "shaping_given": dict(config.shaping or {}), "out": config.out}


def league_spec(opts: Mapping[str, Any]) -> LeagueSpec:
    """The league file of `opts`, with the options that override it."""
    spec = load_league(opts["league"])
    changes = {k: opts[k] for k in ("steps_per_generation", "episode_steps") if opts.get(k)}
    return dataclasses.replace(spec, **changes)


def resume_options(folder: Path, opts: Mapping[str, Any], generations: int | None,
                   changes: Mapping[str, Any] | None = None) -> tuple[dict, int]:
    """(the launch options `opts` of the run in `folder` with a resume's `changes` (workers,
    device), the generations to complete in total: `generations`, or one more than the folder
    has done)."""
    done = files.read(folder)["generation"]
    return {**opts, **(changes or {}), "out": str(folder)}, generations or done + 1


def resume_plan(folder: Path, generations: int | None = None, changes: Mapping[str, Any] | None = None,
                ray_address: str | None = None) -> RunPlan:
    """The plan of the run in `folder` (its options.json) as `resume_options` changes it."""
    opts, total = resume_options(folder, files.read_options(folder, "PBT or league run"),
                                 generations, changes)
    return settle({**opts, "generations": total}, resume=True, ray_address=ray_address)
