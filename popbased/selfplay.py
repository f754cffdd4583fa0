"""Self-play training of one population: K members share the seats of one substrate.

Each round, rollout workers (Ray actors) play a fragment of `rollout_length` steps in
every env with seats drawn among the members; each member then runs a PPO update on
the seats it played. With `overlap` (the default) the next fragment is collected with
the current weights while the learners update (a policy lag of one fragment, corrected
by PPO's importance ratio), so env workers and learners use the cores at the same time.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import torch

from popbased.errors import BadInput
from popbased.ppo import shaping
from popbased.ppo.config import NetConfig, PPOConfig
from popbased.env.engines import check_fast, has_fast
from popbased.env.instance import component_names
from popbased.ppo.joint import update_all
from popbased.ppo.learner import Learner, resolve_device
from popbased.population.reports import RoundReport
from popbased.rollout.cluster import ensure_ray
from popbased.rollout.collector import Collector
from popbased.rollout.fragment import Fragment
from popbased.substrates import resolve


ENVS = ("auto", "fast", "meltingpot")
MELTINGPOT_SHAPE = {"envs_per_worker": 2, "rollout_length": 250}
FAST_SHAPE = {"envs_per_worker": 10, "rollout_length": 50}
"""Round shapes by engine (workers x envs x players x length = 7,000 agent-steps with the
default 2 workers and 7 players): the fast env's worlds are cheap, so it plays more of them
for fewer steps, which keeps its tensors large enough to be fast."""


def default_env(spec, obs_size: int = 11) -> str:
    """'fast' where the substrate has a fast implementation, else 'meltingpot'."""
    return "fast" if has_fast(spec) and obs_size == 11 else "meltingpot"


@dataclass(frozen=True)
class TrainConfig:
    substrate: str
    """Substrate or variant name (see `popbased substrates list`)."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Variant parameters (map, no_zap, zap_cooldown, regrowth, farmer_weight, players)."""
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
    Off by default: on CPUs it measured slower than one update after another
    (bench/league.json, `scripts/bench_league --joint-update`)."""
    env: str = "auto"
    """Env engine: 'fast' (the fast commons_harvest in torch, popbased.env.fast, validated
    against Melting Pot by `popbased substrates validate`), 'meltingpot' (Melting Pot itself),
    'auto': fast where the substrate has a fast implementation (the commons_harvest family,
    11x11 views), else meltingpot."""
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
    """Reward-shaping weights per component (default: reward 1, farmer 1 where present)."""
    out: str | None = None
    """Folder for checkpoints and metrics.jsonl."""
    checkpoint_every_s: float = 300.0
    """Also write the checkpoints every this many seconds (and always at the end)."""
    ray_address: str | None = None
    """Join this Ray cluster (default: RAY_ADDRESS, else a local Ray)."""

    def __post_init__(self) -> None:
        if self.env_backend == "fast":
            object.__setattr__(self, "env", "fast")
            object.__setattr__(self, "env_backend", "auto")
        if self.env not in ENVS:
            raise BadInput(f"env={self.env!r}: allowed are {', '.join(ENVS)}")
        if self.env_backend not in ("auto", "process", "inline"):
            raise BadInput(f"env_backend={self.env_backend!r}: allowed are auto, process, inline")
        if self.env == "auto":
            object.__setattr__(self, "env", default_env(resolve(self.substrate, dict(self.params)),
                                                        self.obs_size))
        for name, value in FAST_SHAPE.items() if self.env == "fast" else MELTINGPOT_SHAPE.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        for name in ("steps", "members", "workers", "envs_per_worker", "rollout_length"):
            if getattr(self, name) < 1:
                raise BadInput(f"{name}={getattr(self, name)}: must be >= 1")
        if self.net.lstm and self.rollout_length % self.ppo.bptt:
            raise BadInput(f"rollout_length={self.rollout_length} must be a multiple of "
                           f"bptt={self.ppo.bptt} when the LSTM is on")


def env_backend(choice: str) -> str:
    """'auto' -> 'inline' on small machines, where hidden resets only move CPU work around
    and messages between processes cost more than they save; 'process' otherwise."""
    if choice != "auto":
        return choice
    return "inline" if (os.cpu_count() or 1) <= 4 else "process"


def seating(rng: np.random.Generator, members: list[str], workers: int, seats: int) -> list[list[str]]:
    """Self-play seating: every member gets an equal share of all seats (±1), shuffled."""
    total = workers * seats
    pool = np.array([members[i % len(members)] for i in range(total)], dtype=object)
    rng.shuffle(pool)
    return [list(pool[w * seats:(w + 1) * seats]) for w in range(workers)]


class EpisodeWindow:
    """Running means over the last episodes (what the progress line shows)."""

    def __init__(self, size: int = 20):
        self.episodes: deque = deque(maxlen=size)
        self.count = 0

    def add(self, summaries: list[dict]) -> None:
        self.episodes.extend(summaries)
        self.count += len(summaries)

    def summary(self) -> dict[str, float]:
        if not self.episodes:
            return {}
        eps = list(self.episodes)
        out = {"per_capita_return": float(np.mean([e["per_capita_return"] for e in eps])),
               "gini": float(np.mean([e["gini"] for e in eps])),
               "episode_steps": float(np.mean([e["steps"] for e in eps])),
               "zap_hits_per_capita": float(np.mean([np.mean(e["zap_hits"]) for e in eps]))}
        depleted = [e["depleted"] for e in eps if e.get("depleted") is not None]
        if depleted:
            out["depleted_fraction"] = float(np.mean(depleted))
        return out


def validate(config: TrainConfig):
    """Everything that can be checked before Ray starts: (spec, apples_in_view, shaping)."""
    spec = resolve(config.substrate, dict(config.params))
    if config.env == "fast":
        check_fast(spec, config.obs_size)
    use_view = shaping.needs_apples_in_view(config.shaping or {}) or spec.farmer_weight > 0
    apples_in_view = use_view if spec.instrumented else None
    shaping.check_engine(list(config.shaping or {}), config.env, "--shaping")
    components = component_names(spec, apples_in_view, fast=config.env == "fast")
    weights = shaping.validate(config.shaping or shaping.default_weights(components), components,
                               "--shaping")
    resolve_device(config.device)
    return spec, apples_in_view, weights


def uses_ray(config: TrainConfig) -> bool:
    """Ray rollout workers collect for Melting Pot, and for the fast env on a Ray cluster
    (each actor a shard of worlds); on one machine the fast env needs none."""
    return config.env != "fast" or bool(config.ray_address or os.environ.get("RAY_ADDRESS"))


def start_collector(config: TrainConfig, spec, apples_in_view, bots: tuple[str, str] | None = None):
    """(collector, ray_info): Ray rollout workers, or the DeviceCollector in this process
    (ray_info None) for the fast env on one machine. bots: (models root, Melting Pot substrate)
    where seats may be played by Melting Pot's bots (Ray workers on Melting Pot only)."""
    if bots is not None and config.env == "fast":
        raise BadInput("Melting Pot's bots play on Melting Pot itself; use env = \"meltingpot\"")
    if not uses_ray(config):
        from popbased.rollout.device import DeviceCollector

        return DeviceCollector(spec, worlds=config.workers * config.envs_per_worker,
                               device=resolve_device(config.device), seed=config.seed,
                               obs_size=config.obs_size, apples_in_view=apples_in_view,
                               max_episode_steps=config.max_episode_steps,
                               overlap=config.overlap), None
    ray_info = ensure_ray(config.ray_address)
    return make_collector(config, spec, apples_in_view, ray_info, bots), ray_info


def make_collector(config: TrainConfig, spec, apples_in_view, ray_info: dict,
                   bots: tuple[str, str] | None = None) -> Collector:
    return Collector(spec, workers=config.workers, envs_per_worker=config.envs_per_worker,
                     seed=config.seed, obs_size=config.obs_size, apples_in_view=apples_in_view,
                     max_episode_steps=config.max_episode_steps,
                     env_backend="fast" if config.env == "fast" else env_backend(config.env_backend),
                     worker_cpus=min(1.0, ray_info["cpus"] / config.workers), bots=bots)


def learner_threads(config: TrainConfig, collector=None) -> None:
    """CPU learners: one torch thread when collection overlaps learning (Ray workers, or the
    device collector's background thread, use the other cores); every core when they take
    turns (no overlap)."""
    overlapping = config.overlap and getattr(collector, "asynchronous", True)
    torch.set_num_threads(config.learner_threads or (1 if overlapping else (os.cpu_count() or 1)))


def train(config: TrainConfig, on_round: Callable[[RoundReport], Any] | None = None) -> dict[str, Any]:
    """Trains; returns the final report (and writes checkpoints + metrics when `out` is set):
    the last round's report (RoundReport.to_json()) with `checkpoints`, `ray` and `interrupted`.

    `on_round(report)` is called after every round; returning True stops training there.
    The rounds run on the machinery PBT and leagues share (population/rounds.py SelfPlay).
    """
    from popbased.population.rounds import SelfPlay  # it builds on this module's pieces

    return SelfPlay(config, on_round).run()


class Session:
    """Rounds of self-play: the collector's workers play a fragment with seats drawn among
    the learners, then each learner updates on the seats it played.

    With `overlap`, each worker starts the next fragment (with the weights published before
    this round's update) as soon as its part of this one is in. A batch collected by a
    learner that has since been replaced (another `uid`: PBT copied a donor into it) is
    dropped, not learned from: its actions came from weights that no longer exist.
    """

    def __init__(self, config: TrainConfig, collector: Collector, learners: dict[str, Learner]):
        self.config = config
        self.collector = collector
        self.learners = learners
        self.rng = np.random.default_rng(config.seed)
        self.bptt = config.ppo.bptt if config.net.lstm else None
        self.handles: dict | None = None
        self.frozen_handles: dict = {}
        self.totals = {"collect_wait_s": 0.0, "learn_s": 0.0, "env_s": 0.0, "inference_s": 0.0}
        self.dropped_batches = 0

    @property
    def round_steps(self) -> int:
        return self.collector.num_seats * self.config.rollout_length

    def plan(self) -> tuple[list[list[str]], list | None]:
        """Seat labels per worker, and the matches per worker (None: self-play, reseated
        every fragment). The league overrides this."""
        return seating(self.rng, list(self.learners), self.collector.shards,
                       self.collector.seats_per_worker), None

    def set_frozen(self, publications: list[dict]) -> None:
        """Frozen players (snapshots) the seats may name: published once, never trained."""
        self.frozen_handles = self.collector.publish(publications) if publications else {}
        self.refresh()

    def refresh(self) -> None:
        """Publishes the current weights now (after PBT replaced some), so the next fragment
        already plays them."""
        self._publish()

    def _publish(self) -> None:
        self.handles = {**self.frozen_handles,
                        **self.collector.publish([l.publication() for l in self.learners.values()])}

    def round(self, more: bool = True, learn: bool = True) -> tuple[Fragment, dict[str, dict]]:
        """Plays one fragment and updates (unless not `learn`: evaluation); `more`: another
        round follows (start it now)."""
        length = self.config.rollout_length
        if not self.collector.pending:
            self._publish()
            self.collector.submit(self.handles, *self._plan_args(length))
        t0 = time.perf_counter()
        overlap = self.config.overlap and self.collector.asynchronous
        follow = ((self.handles,) + self._plan_args(length)) if overlap and more else None
        fragment = self.collector.gather(then=follow)
        t1 = time.perf_counter()
        keep, dropped = {}, []
        for m, batch in fragment.batches.items():
            if tuple(batch.policy_version)[:1] != (self.learners[m].uid,) or not learn:
                dropped.append(m)
            else:
                keep[m] = batch
        stats = update_all(self.learners, keep, joint=self.config.joint_update)
        self.dropped_batches += len(dropped) if learn else 0
        fragment = dataclasses.replace(fragment, dropped=tuple(dropped))
        self._publish()
        self.totals["collect_wait_s"] += t1 - t0
        self.totals["learn_s"] += time.perf_counter() - t1
        self.totals["env_s"] += fragment.timing["env_s"]
        self.totals["inference_s"] += fragment.timing["inference_s"]
        return fragment, stats

    def _plan_args(self, length: int) -> tuple:
        seats, matches = self.plan()
        return seats, length, self.bptt, matches

    def finish(self) -> None:
        """Waits for a fragment still being collected (its data is not used)."""
        if self.collector.pending:
            self.collector.gather()


__all__ = ["TrainConfig", "train", "seating"]
