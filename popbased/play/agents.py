"""Who acts in a seat outside training (no Ray, no learner), all with one protocol:

    agent.obs_size            the view side it reads (None: it reads no view)
    agent.act(SeatView)       arena actions for those seats, legal under their masks
    agent.observe_done(done)  the seats' episodes ended (recurrent state resets)

RandomAgent plays uniformly among the legal actions (the study's baseline), PolicyAgent a
checkpoint, ExportAgent an exported policy folder; agent_for picks one for a reference.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch

from popbased.export.runtime import ExportedAgent, is_export
from popbased.ppo import checkpoint
from popbased.ppo.actions import RANDOM, ActionMap, random_legal
from popbased.ppo.policy import act


@dataclasses.dataclass
class SeatView:
    """What an agent reads for some seats: their views and legal-action masks (arena order)."""

    rgb: np.ndarray
    action_mask: np.ndarray


class RandomAgent:
    """Uniformly random among each seat's legal actions."""

    obs_size = None

    def __init__(self, arena_actions: Sequence[str], seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def act(self, obs) -> np.ndarray:
        return random_legal(obs.action_mask, self.rng)

    def observe_done(self, done: np.ndarray) -> None:
        pass


class PolicyAgent:
    def __init__(self, path: str, arena_actions: Sequence[str], seed: int = 0):
        self.policy = checkpoint.load_policy(path)
        self.policy.requires_grad_(False)
        self.obs_size = self.policy.obs_size
        self.actions = ActionMap(self.policy.action_names, arena_actions)
        self.generator = torch.Generator().manual_seed(seed)
        self.state = None
        self.starts = None

    def act(self, obs) -> np.ndarray:
        n = obs.rgb.shape[0]
        if self.policy.recurrent and self.state is None:
            self.state = self.policy.initial_state(n)
        starts = np.zeros(n, dtype=bool) if self.starts is None else self.starts
        mask = self.actions.member_mask(obs.action_mask)
        action, _, _, self.state = act(self.policy, obs.rgb, mask, self.state, starts, self.generator)
        return self.actions.to_arena[action]

    def observe_done(self, done: np.ndarray) -> None:
        self.starts = np.asarray(done, dtype=bool)


class ExportAgent:
    """An exported policy folder (`popbased export champion`) in every seat."""

    def __init__(self, folder: str, arena_actions: Sequence[str], seed: int = 0):
        self.agent = ExportedAgent(folder, seed=seed)
        self.obs_size = self.agent.policy.input_size
        self.actions = ActionMap(self.agent.policy.action_names, arena_actions)

    def act(self, obs) -> np.ndarray:
        mask = self.actions.member_mask(obs.action_mask)
        return self.actions.to_arena[self.agent.act(obs.rgb, mask)]

    def observe_done(self, done: np.ndarray) -> None:
        self.agent.observe_done(done)


def agent_for(policy: str | None, arena_actions: Sequence[str], seed: int = 0):
    """None or 'random', a checkpoint file or an export folder -> the agent that plays it."""
    if policy is None or policy == RANDOM:
        return RandomAgent(arena_actions, seed=seed)
    return (ExportAgent if is_export(policy) else PolicyAgent)(policy, arena_actions, seed=seed)

