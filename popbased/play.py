"""Random play: the baseline every trained population is compared with."""

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
                backend: str = "process", obs_size: int = 11,
                progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Plays `episodes` episodes with uniform random actions; returns metrics per episode
    and aggregated. Each env plays its share of episodes back to back, and only those
    count, so short episodes are not over-represented."""
    if episodes < 1:
        raise BadInput(f"--episodes {episodes}: must be >= 1")
    spec = resolve(name, params)
    num_envs = num_envs or max(1, min(episodes, os.cpu_count() or 1))
    quota = [episodes // num_envs + (1 if e < episodes % num_envs else 0) for e in range(num_envs)]
    done_per_env = [0] * num_envs
    results: list[dict[str, Any]] = []
    rng = np.random.default_rng(seed)
    with BatchedEnv(spec, num_envs=num_envs, seed=seed, backend=backend, obs_size=obs_size,
                    max_episode_steps=max_steps) as env:
        env.reset()
        while len(results) < episodes:
            out = env.step(rng.integers(0, env.num_actions, env.num_seats))
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
        "summary": aggregate(results),
        "episodes": results,
    }


def json_safe(value: Any) -> Any:
    """NaN/inf -> None so the output is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
