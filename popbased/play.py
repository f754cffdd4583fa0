"""Playing episodes: uniform random actions (the baseline every trained population is
compared with), or a trained policy checkpoint in every seat."""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Callable, Mapping

import numpy as np

from popbased.env.metrics import aggregate
from popbased.env.pool import BatchedEnv
from popbased.errors import BadInput
from popbased.substrates import resolve


def random_play(name: str, params: Mapping[str, Any] | None = None, *, episodes: int = 1,
                max_steps: int | None = None, seed: int = 0, num_envs: int | None = None,
                backend: str = "process", obs_size: int = 11, policy: str | None = None,
                progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Plays `episodes` episodes with uniform random actions, or with the policy checkpoint
    or export folder `policy` in every seat; returns metrics per episode and aggregated. Each env plays its
    share of episodes back to back, and only those count, so short episodes are not
    over-represented."""
    if episodes < 1:
        raise BadInput(f"--episodes {episodes}: must be >= 1")
    spec = resolve(name, params)
    agent = None
    if policy is not None:
        from popbased.play_policy import agent_for

        agent = agent_for(policy, spec.action_names, seed=seed)
        obs_size = agent.obs_size
    num_envs = num_envs or max(1, min(episodes, os.cpu_count() or 1))
    quota = [episodes // num_envs + (1 if e < episodes % num_envs else 0) for e in range(num_envs)]
    done_per_env = [0] * num_envs
    results: list[dict[str, Any]] = []
    rng = np.random.default_rng(seed)
    with BatchedEnv(spec, num_envs=num_envs, seed=seed, backend=backend, obs_size=obs_size,
                    max_episode_steps=max_steps) as env:
        obs = env.reset()
        while len(results) < episodes:
            actions = (rng.integers(0, env.num_actions, env.num_seats) if agent is None
                       else agent.act(obs))
            out = env.step(actions)
            obs = out.obs
            if agent is not None:
                agent.observe_done(out.done)
            for summary in out.episodes:
                e = summary["env"]
                if done_per_env[e] < quota[e]:
                    done_per_env[e] += 1
                    results.append(summary)
                    if progress:
                        progress(len(results), episodes)
    return {
        "substrate": name,
        "params": dataclasses.asdict(spec.params) if spec.params else {},
        "players": spec.num_players,
        "actions": list(spec.action_names),
        "seed": seed,
        "policy": policy,
        "summary": aggregate(results),
        "episodes": results,
    }


def json_safe(value: Any) -> Any:
    """Strict JSON: NaN/inf -> None, numpy scalars -> Python numbers, keys -> str."""
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
