"""A trained policy checkpoint playing every seat of a BatchedEnv (no Ray, no learner)."""

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
