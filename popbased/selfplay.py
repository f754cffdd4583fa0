"""The settings of a training run and what is checked before it starts.

TrainConfig holds what `train`, `pbt` and `league` runs share (substrate, engine, round shape,
PPO and network settings, shaping weights, seeds); `validate` checks everything that can be
checked before Ray starts; `start_collector` starts what plays the rounds: Ray rollout
workers, or the fast env on the learner's device (popbased.run.loop runs the rounds).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from popbased.errors import BadInput
from popbased.ppo import shaping
from popbased.ppo.config import NetConfig, PPOConfig
from popbased.env import arenas, engines
from popbased.ppo.learner import resolve_device
from popbased.rollout.cluster import ensure_ray
from popbased.rollout.collector import Collector
from popbased.rollout.device import DeviceCollector
from popbased.substrates import resolve


@dataclass(frozen=True)
class TrainConfig:
    substrate: str
    """Substrate or variant name (see `popbased substrates list`)."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Variant parameters (map, no_zap, zap_cooldown, regrowth, farmer_weight, players, social,
    inequity_decay, svo_angle)."""
    steps: int = 1_000_000
    """Agent-steps to train for (all members together)."""
    members: int = 1
    """Population size: members sharing the seats."""
    workers: int = 2
    """Rollout workers (Ray actors)."""
    envs_per_worker: int | None = None
    """Envs per worker (default: 2 on Melting Pot, each in its own process, plus spares for
    hidden resets; 10 on the fast env, whose worlds are cheap)."""
    rollout_length: int | None = None
    """Steps per env per fragment: a round is workers x envs x players x length agent-steps
    (default: 250 on Melting Pot, 50 on the fast env: both 7,000 agent-steps for 7 players)."""
    obs_size: int = 11
    """Observation side in pixels (11 = one pixel per sprite, 88 = full resolution)."""
    device: str = "auto"
    """Learner device: auto, cpu, cuda."""
    seed: int = 0
    """Seeds members' initialisation, seating and envs."""
    overlap: bool = True
    """Collect the next fragment while the learners update (lag of one fragment)."""
    learner_threads: int | None = None
    """torch threads for CPU learners (default: 1 when overlapping, else all cores)."""
    joint_update: bool = False
    """Members of one architecture take their PPO steps together, one stacked forward and
    backward per step (popbased.ppo.joint; equal to their own updates to float rounding).
    Off by default: on CPUs one update after another is faster (bench/league_joint.json,
    `scripts/bench_league --joint-update`)."""
    env: str = "auto"
    """Env engine (popbased.env.engines): 'fast' (the fast commons_harvest in torch, validated
    against Melting Pot by `popbased substrates validate`), 'meltingpot' (Melting Pot itself),
    'auto': resolved once, here, by engines.choose (fast where it plays the substrate: the
    commons_harvest family, 11x11 views; else meltingpot). `engine` is the object."""
    env_backend: str = "auto"
    """How Melting Pot envs run: 'process': each env in its own process, resets hidden by
    spare processes (for machines with cores to spare); 'inline': envs stepped inside the
    rollout worker (least CPU per step: no messages, no context switches); 'auto': inline on
    machines with <= 4 CPUs. ('fast' is the old spelling of env='fast'.)"""
    max_episode_steps: int | None = None
    """Cut episodes after this many steps (default: Melting Pot's own episode ends)."""
    ppo: PPOConfig = PPOConfig()
    net: NetConfig = NetConfig()
    shaping: Mapping[str, float] | None = None
    """Reward-shaping weights given by the user, per component: each overrides the default
    (reward 1, farmer 1 where present) or adds its component; weight 0 drops one
    (shaping.effective_weights)."""
    weighed: tuple[str, ...] = ()
    """Reward components the members weigh with weights of their own besides `shaping` (a
    population's shaping genes): the envs count them (apples_in_view where one needs it) and
    the engine must give them."""
    out: str | None = None
    """Folder for checkpoints and metrics.jsonl."""
    checkpoint_every_s: float = 300.0
    """Also write the checkpoints every this many seconds (and always at the end)."""
    ray_address: str | None = None
    """Join this Ray cluster (default: RAY_ADDRESS, else a local Ray)."""
    arenas: tuple = ()
    """Arenas to train across (popbased.env.arenas.Arena, from a population or league file's
    [arenas]): the worlds split between them by weight; empty: every world plays `substrate`."""

    def __post_init__(self) -> None:
        if self.env_backend == "fast":
            object.__setattr__(self, "env", "fast")
            object.__setattr__(self, "env_backend", "auto")
        if self.env != "auto":
            engines.get(self.env)  # BadInput naming the allowed ones
        if self.env_backend not in ("auto", "process", "inline"):
            raise BadInput(f"env_backend={self.env_backend!r}: allowed are auto, process, inline")
        if self.env == "auto":
            spec = resolve(self.substrate, dict(self.params))
            object.__setattr__(self, "env", engines.choose(self.env, spec, self.obs_size).name)
        for name, value in self.engine.shape.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        for name in ("steps", "members", "workers", "envs_per_worker", "rollout_length"):
            if getattr(self, name) < 1:
                raise BadInput(f"{name}={getattr(self, name)}: must be >= 1")
        if self.net.lstm and self.rollout_length % self.ppo.bptt:
            raise BadInput(f"rollout_length={self.rollout_length} must be a multiple of "
                           f"bptt={self.ppo.bptt} when the LSTM is on")

    @property
    def engine(self) -> engines.Engine:
        """The env engine it plays (`env`, resolved)."""
        return engines.get(self.env)


def validate(config: TrainConfig):
    """Everything that can be checked before Ray starts: (spec, apples_in_view, shaping): the
    effective weights, the defaults overridden per component by `config.shaping`. The envs
    count apples in view when a given weight or a weighed component needs them."""
    spec = resolve(config.substrate, dict(config.params))
    engine = config.engine
    engine.check(spec, config.obs_size)
    given = dict(config.shaping or {})
    use_view = (shaping.needs_apples_in_view(given)
                or shaping.counts_apples_in_view(config.weighed, spec.farmer_weight))
    apples_in_view = use_view if spec.instrumented else None
    engine.check_components(list(given), "--shaping")
    engine.check_components(config.weighed, "shaping genes")
    components = engine.components(spec, apples_in_view)
    shaping.validate(dict.fromkeys(config.weighed, 1.0), components, "shaping genes")
    weights = shaping.effective_weights(given, components, where="--shaping")
    if config.arenas:
        arenas.check(config.arenas, engine, config.obs_size, apples_in_view, "arenas:", home=spec)
    resolve_device(config.device)
    return spec, apples_in_view, weights


def uses_ray(config: TrainConfig) -> bool:
    """Whether the run collects with Ray rollout workers (its engine decides: see
    popbased.env.engines)."""
    return config.engine.uses_ray(config.ray_address)


def start_collector(config: TrainConfig, spec, apples_in_view, bots: tuple[str, str] | None = None,
                    scripted: bool = False):
    """(collector, ray_info): Ray rollout workers, or the DeviceCollector in this process
    (ray_info None) for the fast env on one machine. bots: (models root, Melting Pot substrate)
    where seats may be played by Melting Pot's bots (Ray workers on Melting Pot only);
    scripted: seats may be played by scripted players (Melting Pot's envs carry the world
    state; the fast env always does)."""
    if bots is not None:
        config.engine.check_bots("bots")
    mixed = None
    if config.arenas:
        specs = arenas.check(config.arenas, config.engine, config.obs_size, apples_in_view, "arenas:",
                             home=spec)
        mixed = list(zip(config.arenas, specs))
    if not uses_ray(config):
        return DeviceCollector(spec, worlds=config.workers * config.envs_per_worker,
                               device=resolve_device(config.device), seed=config.seed,
                               obs_size=config.obs_size, apples_in_view=apples_in_view,
                               max_episode_steps=config.max_episode_steps,
                               overlap=config.overlap, arenas=mixed), None
    ray_info = ensure_ray(config.ray_address)
    return make_collector(config, spec, apples_in_view, ray_info, bots, scripted, mixed), ray_info


def make_collector(config: TrainConfig, spec, apples_in_view, ray_info: dict,
                   bots: tuple[str, str] | None = None, scripted: bool = False,
                   arenas=None) -> Collector:
    return Collector(spec, workers=config.workers, envs_per_worker=config.envs_per_worker,
                     seed=config.seed, obs_size=config.obs_size, apples_in_view=apples_in_view,
                     max_episode_steps=config.max_episode_steps,
                     env_backend=config.engine.worker_backend(config.env_backend),
                     worker_cpus=min(1.0, ray_info["cpus"] / config.workers), bots=bots,
                     scripted=scripted, arenas=arenas,
                     learner_gpu=resolve_device(config.device).type == "cuda")


def learner_threads(config: TrainConfig, collector=None) -> None:
    """CPU learners: one torch thread when collection overlaps learning (Ray workers, or the
    device collector's background thread, use the other cores); every core when they take
    turns (no overlap)."""
    overlapping = config.overlap and getattr(collector, "asynchronous", True)
    torch.set_num_threads(config.learner_threads or (1 if overlapping else (os.cpu_count() or 1)))


__all__ = ["TrainConfig", "validate", "start_collector"]
