"""The two env engines behind one constructor: Melting Pot itself (BatchedEnv: every
substrate, the truth) and the fast commons_harvest (FastBatchedEnv: torch, B worlds at once,
validated against Melting Pot by `popbased substrates validate`). Both give the same
observations, rewards, done flags and episode summaries."""

from __future__ import annotations

from popbased.errors import BadInput
from popbased.substrates.params import CommonsParams

ENGINES = ("fast", "meltingpot")
"""The env engines: the fast commons_harvest (torch) and Melting Pot itself."""
ENVS = ("auto", *ENGINES)
"""What a run's `env` may say: an engine, or 'auto' (popbased.selfplay.default_env decides)."""

BACKENDS = ("process", "inline", "fast")
"""process / inline: Melting Pot (envs in their own processes, or in this one); fast: the
fast commons_harvest."""


def has_fast(spec) -> bool:
    """Whether `spec` (a resolved substrate) has a fast implementation: the commons_harvest family."""
    return isinstance(getattr(spec, "params", None), CommonsParams)


def check_fast(spec, obs_size: int = 11) -> None:
    if not has_fast(spec):
        raise BadInput(f"--env fast: {spec.name} has no fast implementation (the commons_harvest "
                       f"family has: open, no_zap, farmer, scarcity, ...); use --env meltingpot")
    if obs_size != 11:
        raise BadInput(f"--env fast renders 11x11 views; obs_size={obs_size} needs --env meltingpot")


def make_env(spec, num_envs: int, *, backend: str = "inline", seed: int = 0, obs_size: int = 11,
             apples_in_view: bool | None = None, max_episode_steps: int | None = None,
             device: str = "cpu"):
    # deferred: an engine's module loads when it is chosen (the fast env brings torch, Melting
    # Pot's brings Lab2d and cv2), so that checking a choice (has_fast, check_fast) stays light
    if backend == "fast":
        from popbased.env.fast.env import FastBatchedEnv

        check_fast(spec, obs_size)
        return FastBatchedEnv(spec, num_envs, seed=seed, device=device, obs_size=obs_size,
                              apples_in_view=apples_in_view, max_episode_steps=max_episode_steps)
    if backend not in BACKENDS:
        raise BadInput(f"env backend {backend!r}: allowed are {', '.join(BACKENDS)}")
    from popbased.env.pool import BatchedEnv

    return BatchedEnv(spec, num_envs, seed=seed, obs_size=obs_size, backend=backend,
                      spares=None if backend == "process" else 0, apples_in_view=apples_in_view,
                      max_episode_steps=max_episode_steps)
