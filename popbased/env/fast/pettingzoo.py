"""A PettingZoo ParallelEnv view of one fast commons_harvest world (as popbased.env.pettingzoo
does for Melting Pot): the same observations, rewards, infos and episode metrics.

    from popbased.env.fast.pettingzoo import parallel_env
    env = parallel_env("no_zap", params={"regrowth": "0.5"})
    observations, infos = env.reset(seed=0)
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from pettingzoo import ParallelEnv

from popbased.env.fast.env import FastBatchedEnv
from popbased.env.pettingzoo import AgentSpaces, step_dicts
from popbased.substrates import resolve


class FastParallelEnv(AgentSpaces, ParallelEnv):
    metadata = {"name": "popbased_fast_commons_harvest", "render_modes": []}

    def __init__(self, name: str, params: Mapping[str, Any] | None = None, *,
                 max_episode_steps: int | None = None, device: str = "cpu"):
        self.spec = resolve(name, params)
        self.render_mode = None
        self._max_steps = max_episode_steps
        self._device = device
        self.possible_agents = [f"player_{i}" for i in range(self.spec.num_players)]
        self.agents: list[str] = []
        self._env: FastBatchedEnv | None = None
        self._obs = None
        self._make_spaces(11, len(self.spec.action_names))

    def _observations(self):
        return {agent: {"RGB": self._obs.rgb[i].copy(), "READY_TO_SHOOT": np.float32(self._obs.ready_to_shoot[i])}
                for i, agent in enumerate(self.possible_agents)}

    def reset(self, seed: int | None = None, options: dict | None = None):
        if self._env is None or seed is not None:
            self._env = FastBatchedEnv(self.spec, 1, seed=0 if seed is None else seed,
                                       device=self._device, max_episode_steps=self._max_steps)
            self._obs = self._env.reset()
        # After an episode's end the env has already started the next one (its first
        # observation is the one the last step returned).
        self.agents = list(self.possible_agents)
        return self._observations(), {agent: {} for agent in self.agents}

    def step(self, actions: Mapping[str, int]):
        if not self.agents:
            raise RuntimeError("episode is over: call reset()")
        act = np.array([int(actions[agent]) for agent in self.possible_agents], dtype=np.int64)
        out = self._env.step(act)
        self._obs = out.obs
        summary = out.episodes[0] if out.episodes else None
        step = step_dicts(self.possible_agents, self._env.components, out.rewards, summary)
        if summary is not None:
            self.agents = []
        return (self._observations(), *step)

    def render(self):
        return None

    def close(self) -> None:
        self._env = None


def parallel_env(name: str, params: Mapping[str, Any] | None = None, **kwargs) -> FastParallelEnv:
    return FastParallelEnv(name, params, **kwargs)
