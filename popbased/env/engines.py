"""The env engines, one object each, behind one interface:

    MELTINGPOT  Melting Pot itself (BatchedEnv): every substrate, the truth
    FAST        the fast commons_harvest (FastBatchedEnv: torch, B worlds at once, validated
                against Melting Pot by `popbased substrates validate`)

Both give the same observations, rewards, done flags and episode summaries. An engine owns
what differs between them: which substrates it plays and what it refuses, the reward
components it counts, how its envs are played (backends), the default round shape, whether a
run on it needs Ray, and how a run names it. A run's `env` is 'auto' or an engine's name;
`choose` resolves 'auto' (the only place that does).
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

from popbased.errors import BadInput
from popbased.substrates.params import CommonsParams

BACKENDS = ("process", "inline", "fast")
"""How a batch of envs runs: process / inline: Melting Pot (envs in their own processes, or in
this one); fast: the fast commons_harvest."""


def has_fast(spec) -> bool:
    """Whether `spec` (a resolved substrate) has a fast implementation: the commons_harvest family."""
    return isinstance(getattr(spec, "params", None), CommonsParams)


class Engine:
    """An env engine (see the module docstring)."""

    name: str
    title: str
    """How messages name it."""
    shape: Mapping[str, int]
    """Default round shape: envs per worker and steps per env per fragment."""
    play_backend: str
    """The backend (BACKENDS) that plays evaluation and random-play episodes on it."""
    plays_bots = False
    """Whether Melting Pot's bots (TensorFlow saved models) can take seats on it."""
    one_batch = False
    """Whether an evaluation task plays all its episodes as one batch of worlds on one CPU."""

    def check(self, spec, obs_size: int = 11) -> None:
        """BadInput unless it plays `spec` at `obs_size`."""

    def plays(self, spec, obs_size: int = 11) -> bool:
        try:
            self.check(spec, obs_size)
        except BadInput:
            return False
        return True

    def components(self, spec, apples_in_view: bool | None = None) -> tuple[str, ...]:
        """The reward components it counts for `spec`, in the order of the rewards' last axis."""
        from popbased.env.instance import component_names  # deferred: it loads Lab2d

        return component_names(spec, apples_in_view, fast=self is FAST)

    def check_components(self, names: Sequence[str], where: str) -> None:
        """Components only another engine counts are refused."""
        from popbased.env.instance import FAST_COMPONENTS  # deferred: it loads Lab2d

        if self is not FAST:
            for name in names:
                if name in FAST_COMPONENTS:
                    raise BadInput(f"{where}: reward component {name!r} is counted by the fast env "
                                   f"only; allowed: --env fast (or env = \"fast\" in the file)")

    def check_bots(self, where: str) -> None:
        if not self.plays_bots:
            raise BadInput(f"{where}: Melting Pot's bots play on Melting Pot itself, not the "
                           f"{self.title}; use env = \"meltingpot\"")

    def worker_backend(self, choice: str) -> str:
        """The backend Ray rollout workers run its envs with (`choice`: TrainConfig.env_backend)."""
        raise NotImplementedError

    def uses_ray(self, ray_address: str | None) -> bool:
        """Whether a run on it collects with Ray rollout workers."""
        return True

    def training_line(self, substrate: str) -> str:
        """The first line of a training command on it."""
        raise NotImplementedError

    def make_env(self, spec, num_envs: int, *, backend: str | None = None, **kwargs):
        """A batch of `num_envs` envs of `spec` (make_env's keywords)."""
        return make_env(spec, num_envs, backend=backend or self.play_backend, **kwargs)


class MeltingPot(Engine):
    name, title = "meltingpot", "Melting Pot"
    shape = {"envs_per_worker": 2, "rollout_length": 250}
    play_backend = "process"
    plays_bots = True

    def worker_backend(self, choice: str) -> str:
        """'auto' -> 'inline' on small machines, where hidden resets only move CPU work around
        and messages between processes cost more than they save; 'process' otherwise."""
        if choice != "auto":
            return choice
        return "inline" if (os.cpu_count() or 1) <= 4 else "process"

    def training_line(self, substrate: str) -> str:
        return f"training on Melting Pot ({substrate})"


class Fast(Engine):
    name, title = "fast", "fast env"
    shape = {"envs_per_worker": 10, "rollout_length": 50}
    """The fast env's worlds are cheap: it plays more of them for fewer steps, which keeps its
    tensors large enough to be fast (both shapes make 7,000 agent-steps a round with 2 workers
    and 7 players)."""
    play_backend = "fast"
    one_batch = True

    def check(self, spec, obs_size: int = 11) -> None:
        if not has_fast(spec):
            raise BadInput(f"--env fast: {spec.name} has no fast implementation (the commons_harvest "
                           f"family has: open, no_zap, farmer, scarcity, ...); use --env meltingpot")
        if obs_size != 11:
            raise BadInput(f"--env fast renders 11x11 views; obs_size={obs_size} needs --env meltingpot")

    def worker_backend(self, choice: str) -> str:
        return "fast"  # each Ray actor a shard of fast worlds on its own device

    def uses_ray(self, ray_address: str | None) -> bool:
        """Only on a Ray cluster (each actor a shard of worlds); on one machine the fast env
        runs on the learner's device in this process."""
        return bool(ray_address or os.environ.get("RAY_ADDRESS"))

    def training_line(self, substrate: str) -> str:
        return ("training on the fast commons_harvest (torch, validated against Melting Pot; "
                "--env meltingpot trains on Melting Pot itself)")


MELTINGPOT, FAST = MeltingPot(), Fast()
ENGINES = {e.name: e for e in (FAST, MELTINGPOT)}
"""The engines by name."""
ENVS = ("auto", *ENGINES)
"""What a run's `env` may say: an engine's name, or 'auto' (see `choose`)."""


def get(name: str) -> Engine:
    """The engine called `name` (BadInput naming the allowed ones)."""
    if name not in ENGINES:
        raise BadInput(f"env={name!r}: allowed are {', '.join(ENVS)}")
    return ENGINES[name]


def choose(choice: str, spec, obs_size: int = 11) -> Engine:
    """The engine a run plays: `choice` by name, or for 'auto' the fast env where it plays the
    substrate (the commons_harvest family, 11x11 views), else Melting Pot."""
    if choice == "auto":
        return FAST if FAST.plays(spec, obs_size) else MELTINGPOT
    return get(choice)


def make_env(spec, num_envs: int, *, backend: str = "inline", seed: int = 0, obs_size: int = 11,
             apples_in_view: bool | None = None, max_episode_steps: int | None = None,
             device: str = "cpu", world_state: bool = False, spares: int | None = None):
    """A batch of envs run by `backend` (BACKENDS); world_state: each observation carries the
    world state (Observation.world; the fast env's always does), for scripted players; spares:
    Melting Pot's spare env processes that hide resets (None: the pool's default; 0 where no
    env plays a second episode)."""
    # deferred: an engine's module loads when it is chosen (the fast env brings torch, Melting
    # Pot's brings Lab2d and cv2), so that checking a choice (check, plays) stays light
    if backend == "fast":
        from popbased.env.fast.env import FastBatchedEnv

        FAST.check(spec, obs_size)
        return FastBatchedEnv(spec, num_envs, seed=seed, device=device, obs_size=obs_size,
                              apples_in_view=apples_in_view, max_episode_steps=max_episode_steps)
    if backend not in BACKENDS:
        raise BadInput(f"env backend {backend!r}: allowed are {', '.join(BACKENDS)}")
    from popbased.env.pool import BatchedEnv
    from popbased.substrates.commons_harvest import with_state_dump

    return BatchedEnv(with_state_dump(spec) if world_state else spec, num_envs, seed=seed,
                      obs_size=obs_size, backend=backend,
                      spares=spares if backend == "process" else 0, apples_in_view=apples_in_view,
                      max_episode_steps=max_episode_steps, world_state=world_state)
