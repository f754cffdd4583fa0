"""A trained policy (a checkpoint, or an exported policy folder) playing every seat of a
BatchedEnv (no Ray, no learner)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from popbased.ppo import checkpoint
from popbased.ppo.actions import ActionMap
from popbased.ppo.policy import act


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
        from popbased.export.runtime import ExportedAgent

        self.agent = ExportedAgent(folder, seed=seed)
        self.obs_size = self.agent.policy.input_size
        self.actions = ActionMap(self.agent.policy.action_names, arena_actions)

    def act(self, obs) -> np.ndarray:
        mask = self.actions.member_mask(obs.action_mask)
        return self.actions.to_arena[self.agent.act(obs.rgb, mask)]

    def observe_done(self, done: np.ndarray) -> None:
        self.agent.observe_done(done)


def agent_for(policy: str, arena_actions: Sequence[str], seed: int = 0):
    """A checkpoint file or an export folder -> the agent that plays it."""
    from popbased.export.runtime import is_export

    return (ExportAgent if is_export(policy) else PolicyAgent)(policy, arena_actions, seed=seed)

