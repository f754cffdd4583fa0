"""Playing an evaluation: every (policy, grid point) pair is one Ray task that plays its
episodes in a BatchedEnv (env processes with resets hidden by spares), so an evaluation
uses every core of the machine or cluster; or, on an engine that plays them as one batch
(the fast env), in one FastBatchedEnv of all its episodes' worlds. Every point plays the same seeds."""

from __future__ import annotations

import time
from typing import Any, Callable

from popbased.env import engines
from popbased.errors import BadInput
from popbased.evaluation.policies import PolicyRef
from popbased.play import random_play
from popbased.substrates import resolve


def _play(substrate: str, params: dict[str, str], seats: list[str | None], episodes: int, seed: int,
          max_steps: int | None, envs: int, env: str = "meltingpot") -> list[dict[str, Any]]:
    if not engines.get(env).one_batch:
        import torch  # deferred: heavy, only to play

        # Melting Pot's envs step in their own processes; the policies here act on a few rows at
        # a time, fastest on one thread (two threads beside the env processes on the same cores
        # took 14-23 ms an action instead of 0.4-1.5 ms).
        torch.set_num_threads(1)
    played = random_play(substrate, params, episodes=episodes, max_steps=max_steps, seed=seed,
                         num_envs=envs, backend=engines.get(env).play_backend, seats=seats)
    return played["episodes"]


def default_envs(episodes: int) -> int:
    import ray  # deferred: heavy, only to play

    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(1, min(episodes, cpus))


def _run(jobs: list[dict[str, Any]], substrate: str, episodes: int, seed: int, max_steps: int | None,
         envs: int | None, progress: Callable[[int, int], None] | None,
         env: str = "meltingpot",
         on_done: Callable[[int, dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Plays every job ({'params', 'seats', ...labels}) as a Ray task; results in job order
    (`on_done(i, result)` as each finishes). On the fast env a task plays all its episodes as
    one batch of worlds on one CPU."""
    import ray  # deferred: heavy, only to play

    if engines.get(env).one_batch:
        cpus, envs = 1, envs or episodes
    else:
        envs = cpus = envs or default_envs(episodes)
    task = ray.remote(num_cpus=cpus, max_retries=2)(_play)
    started = {task.remote(substrate, job["params"], job["seats"], episodes, seed, max_steps, envs, env):
               (i, time.perf_counter()) for i, job in enumerate(jobs)}
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    waiting = list(started)
    while waiting:
        done, waiting = ray.wait(waiting, num_returns=1)
        i, t0 = started[done[0]]
        job = {k: v for k, v in jobs[i].items() if k != "seats"}
        try:
            played = ray.get(done[0])
        except ray.exceptions.RayTaskError as err:
            cause = getattr(err, "cause", None)
            if not isinstance(cause, BadInput):
                raise
            for ref in waiting:  # the other tasks would fail alike or play for nothing
                ray.cancel(ref, force=True)
            for ref in waiting:  # collected, so that Ray does not print their errors at exit
                try:
                    ray.get(ref, timeout=30)
                except Exception:  # noqa: BLE001 - cancelled, or the same bad input
                    pass
            raise BadInput(str(cause)) from None  # one line, as if it had been checked here
        results[i] = {**job, "episodes": played, "seconds": time.perf_counter() - t0}
        if on_done:
            on_done(i, results[i])
        if progress:
            progress(len(jobs) - len(waiting), len(jobs))
    return results


def evaluate(policies: list[PolicyRef], substrate: str, points: list[dict[str, str]], *, episodes: int,
             seed: int, max_steps: int | None, envs: int | None = None, env: str = "meltingpot",
             progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """[{policy, params, episodes: [summary, ...], seconds}] for every policy x point, the
    policy in every seat (a population: its members mixed, PolicyRef.seats)."""
    jobs = [{"policy": p.label, "kind": p.kind, "params": q,
             "seats": p.seats(resolve(substrate, q).num_players)} for p in policies for q in points]
    return _run(jobs, substrate, episodes, seed, max_steps, envs, progress, env)


def check_matrix(policies: list[PolicyRef]) -> None:
    """BadInput (one line) for a population in a matrix."""
    for p in policies:
        if p.members:
            raise BadInput(f"policy {p.label!r}: a population (its members mixed in the seats) "
                           f"plays in `evaluate run` and `sweep`, not in `matrix`; give one of its "
                           f"members (LEAGUE/MEMBER) or its exported champion instead")


def matrix(policies: list[PolicyRef], substrate: str, params: dict[str, str], modes: dict[str, int], *,
           episodes: int, seed: int, max_steps: int | None, envs: int | None = None,
           env: str = "meltingpot",
           progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Each policy focal against each other as background, in each mode: `modes` maps
    resident / visitor to the focal seat count; focal players take the first seats. A
    population (its members mixed in the seats) is not a focal or a background policy here."""
    check_matrix(policies)
    players = resolve(substrate, params).num_players
    jobs = []
    for mode, k in modes.items():
        for focal in policies:
            for background in policies:
                if background is not focal:
                    jobs.append({"policy": focal.label, "kind": focal.kind, "params": params,
                                 "background": background.label, "mode": mode,
                                 "focal_seats": list(range(k)),
                                 "seats": [focal.path] * k + [background.path] * (players - k)})
    return _run(jobs, substrate, episodes, seed, max_steps, envs, progress, env)
