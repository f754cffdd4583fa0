"""Playing episodes: uniform random actions (the baseline every trained population is
compared with), a trained or scripted policy in every seat, or one agent per seat (see agents)."""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from popbased.env.engines import make_env
from popbased.env.instance import downsample
from popbased.env.metrics import aggregate
from popbased.errors import BadInput
from popbased.play.agents import SeatView, agent_for
from popbased.substrates import resolve


def random_play(name: str, params: Mapping[str, Any] | None = None, *, episodes: int = 1,
                max_steps: int | None = None, seed: int = 0, num_envs: int | None = None,
                backend: str = "process", obs_size: int = 11, policy: str | None = None,
                seats: Sequence[str | None] | None = None,
                progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Plays `episodes` episodes with uniform random actions, or with the policy checkpoint,
    export folder or scripted policy (`scripted:NAME`) `policy` in every seat, or with `seats`
    (one policy or None = random per player); returns metrics per episode and aggregated.
    Each env plays its share of episodes back to back, and only those count, so short
    episodes are not over-represented. Where an agent reads the world state (scripted
    players), the env's observations carry it (make_env's world_state)."""
    if episodes < 1:
        raise BadInput(f"--episodes {episodes}: must be >= 1")
    spec = resolve(name, params)
    seats = list(seats) if seats is not None else [policy] * spec.num_players
    if len(seats) != spec.num_players:
        raise BadInput(f"{len(seats)} seat policies for {name}'s {spec.num_players} players")
    agents = {p: agent_for(p, spec.action_names, seed=seed, params=spec.params)
              for p in dict.fromkeys(seats)}
    reads_world = any(getattr(a, "reads_world", False) for a in agents.values())
    obs_size = max([a.obs_size for a in agents.values() if a.obs_size], default=obs_size)
    num_envs = num_envs or (episodes if backend == "fast" else max(1, min(episodes, os.cpu_count() or 1)))
    quota = [episodes // num_envs + (1 if e < episodes % num_envs else 0) for e in range(num_envs)]
    done_per_env = [0] * num_envs
    results: list[dict[str, Any]] = []
    players = spec.num_players
    rows = {key: np.array([e * players + s for e in range(num_envs) for s in range(players) if seats[s] == key])
            for key in dict.fromkeys(seats)}
    # where no env plays a second episode, spare env processes (which hide resets) would start
    # for nothing: the counted episodes are the first of each env either way
    with make_env(spec, num_envs, seed=seed, backend=backend, obs_size=obs_size,
                  max_episode_steps=max_steps, world_state=reads_world,
                  spares=0 if max(quota) <= 1 else None) as env:
        obs = env.reset()
        actions = np.zeros(env.num_seats, dtype=np.int64)
        while len(results) < episodes:
            for key, agent in agents.items():
                actions[rows[key]] = agent.act(_view(obs, rows[key], agent.obs_size or obs_size))
            out = env.step(actions)
            obs = out.obs
            for key, agent in agents.items():
                agent.observe_done(out.done[rows[key]])
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
        "seats": seats,
        "summary": aggregate(results),
        "episodes": results,
    }


def _view(obs, rows: np.ndarray, size: int) -> SeatView:
    """The observation of some seats, at the view size their policy reads."""
    rgb = obs.rgb[rows]
    if rgb.shape[1] != size:
        small = np.zeros((len(rows), size, size, 3), np.uint8)
        downsample(rgb, small)
        rgb = small
    return SeatView(rgb, obs.action_mask[rows], rows, obs.world)


