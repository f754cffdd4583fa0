"""A PettingZoo ParallelEnv view of any substrate or variant, for other RL libraries.

    from popbased.env.pettingzoo import parallel_env
    env = parallel_env("no_zap", params={"regrowth": "0.5"})
    observations, infos = env.reset(seed=0)

Observations are dicts {"RGB": uint8 [s, s, 3], "READY_TO_SHOOT": float32 []}. The
reward is the substrate's reward plus the variant's `farmer` component where it has
one; `infos[agent]["components"]` holds every reward component by name, and the
episode's metrics arrive in `infos[agent]["episode"]` on its last step.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from popbased.env.instance import EnvRunner
from popbased.substrates import resolve


class AgentSpaces:
    """Every agent's observation space (RGB view, READY_TO_SHOOT) and action space, the same
    for all agents (both PettingZoo views use it)."""

    def _make_spaces(self, obs_size: int, num_actions: int) -> None:
        # Built once: lru_cache on methods would keep every instance alive.
        self._observation_space = spaces.Dict({
            "RGB": spaces.Box(0, 255, (obs_size, obs_size, 3), dtype=np.uint8),
            "READY_TO_SHOOT": spaces.Box(0.0, 1.0, (), dtype=np.float32),
        })
        self._action_space = spaces.Discrete(num_actions)

    def observation_space(self, agent: str) -> spaces.Space:
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Space:
        return self._action_space


class MeltingPotParallelEnv(AgentSpaces, ParallelEnv):
    metadata = {"name": "popbased_meltingpot", "render_modes": ["rgb_array"]}

    def __init__(self, name: str, params: Mapping[str, Any] | None = None, *, obs_size: int = 11,
                 max_episode_steps: int | None = None, render_mode: str | None = None):
        self.spec = resolve(name, params)
        self.obs_size = obs_size
        self.render_mode = render_mode
        self._max_steps = max_episode_steps
        self.possible_agents = [f"player_{i}" for i in range(self.spec.num_players)]
        self.agents: list[str] = []
        self._runner: EnvRunner | None = None
        players = self.spec.num_players
        self._rgb = np.zeros((players, obs_size, obs_size, 3), dtype=np.uint8)
        self._ready = np.zeros(players, dtype=np.float32)
        self._rewards: np.ndarray | None = None
        self._make_spaces(obs_size, len(self.spec.action_names))

    def _observations(self) -> dict[str, dict[str, np.ndarray]]:
        return {agent: {"RGB": self._rgb[i].copy(), "READY_TO_SHOOT": np.float32(self._ready[i])}
                for i, agent in enumerate(self.possible_agents)}

    def reset(self, seed: int | None = None, options: dict | None = None):
        if self._runner is None or seed is not None:
            if self._runner is not None:
                self._runner.close()
            self._runner = EnvRunner(self.spec, np.random.default_rng(seed),
                                     max_episode_steps=self._max_steps)
            self._rewards = np.zeros((self.spec.num_players, len(self._runner.components)),
                                     dtype=np.float32)
        self._runner.begin(self._rgb, self._ready)
        self.agents = list(self.possible_agents)
        return self._observations(), {agent: {} for agent in self.agents}

    def step(self, actions: Mapping[str, int]):
        if not self.agents:
            raise RuntimeError("episode is over: call reset()")
        act = np.array([int(actions[agent]) for agent in self.possible_agents], dtype=np.int64)
        summary = self._runner.step(act, self._rgb, self._ready, self._rewards)
        step = step_dicts(self.possible_agents, self._runner.components, self._rewards, summary)
        if summary is not None:
            self.agents = []
        return (self._observations(), *step)

    def render(self) -> np.ndarray | None:
        if self._runner is None or self._runner.instance is None:
            return None
        return self._runner.instance.world_rgb()

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None


def step_dicts(agents, names, rewards: np.ndarray, summary) -> tuple[dict, dict, dict, dict]:
    """PettingZoo's per-agent rewards (the substrate's reward, plus the farmer bonus where the
    variant has one), terminations, truncations and infos for one step; `rewards` [players,
    components] named by `names`; `summary`: the episode's, if it ended this step."""
    reward = rewards[:, names.index("reward")].astype(np.float64)
    if "farmer" in names:
        reward = reward + rewards[:, names.index("farmer")]
    ended = summary is not None
    truncated = bool(summary and summary.get("truncated"))
    infos = {a: {"components": dict(zip(names, rewards[i].tolist()))} for i, a in enumerate(agents)}
    if ended:
        for info in infos.values():
            info["episode"] = summary
    return ({a: float(reward[i]) for i, a in enumerate(agents)},
            {a: ended and not truncated for a in agents}, {a: truncated for a in agents}, infos)


def parallel_env(name: str, params: Mapping[str, Any] | None = None, **kwargs) -> MeltingPotParallelEnv:
    return MeltingPotParallelEnv(name, params, **kwargs)
