"""Playing an evaluation: every (policy, grid point) pair is one Ray task that plays its
episodes in a BatchedEnv (env processes with resets hidden by spares), so an evaluation
uses every core of the machine or cluster. Every point plays the same seeds."""

from __future__ import annotations

import time
from typing import Any, Callable

from popbased.evaluation.policies import PolicyRef


def _play(substrate: str, params: dict[str, str], policy: str | None, episodes: int, seed: int,
          max_steps: int | None, envs: int) -> list[dict[str, Any]]:
    from popbased.play import random_play

    played = random_play(substrate, params, episodes=episodes, max_steps=max_steps, seed=seed,
                         num_envs=envs, backend="process", policy=policy)
    return played["episodes"]


def default_envs(episodes: int) -> int:
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(1, min(episodes, cpus))


def evaluate(policies: list[PolicyRef], substrate: str, points: list[dict[str, str]], *, episodes: int,
             seed: int, max_steps: int | None, envs: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """[{policy, params, episodes: [summary, ...], seconds}] for every policy x point."""
    import ray

    envs = envs or default_envs(episodes)
    task = ray.remote(num_cpus=envs, max_retries=2)(_play)
    started: dict[Any, tuple[PolicyRef, dict[str, str], float]] = {}
    for policy in policies:
        for params in points:
            ref = task.remote(substrate, params, policy.path, episodes, seed, max_steps, envs)
            started[ref] = (policy, params, time.perf_counter())
    results, waiting = [], list(started)
    while waiting:
        done, waiting = ray.wait(waiting, num_returns=1)
        policy, params, t0 = started[done[0]]
        results.append({"policy": policy.label, "kind": policy.kind, "params": params,
                        "episodes": ray.get(done[0]), "seconds": time.perf_counter() - t0})
        if progress:
            progress(len(results), len(started))
    order = {(p.label, tuple(sorted(q.items()))): i for i, (p, q) in
             enumerate((p, q) for p in policies for q in points)}
    return sorted(results, key=lambda r: order[(r["policy"], tuple(sorted(r["params"].items())))])
