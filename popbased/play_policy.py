"""A trained policy checkpoint playing every seat of a BatchedEnv (no Ray, no learner)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from popbased.ppo import checkpoint
from popbased.ppo.actions import ActionMap
from popbased.ppo.policy import masked_log_softmax, sample


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
        starts = torch.zeros(n, dtype=torch.bool) if self.starts is None else self.starts
        mask = torch.from_numpy(self.actions.member_mask(obs.action_mask))
        with torch.inference_mode():
            logits, _, self.state = self.policy(torch.from_numpy(obs.rgb), self.state, starts)
            action = sample(masked_log_softmax(logits, mask), self.generator)
        return self.actions.to_arena[action.numpy()]

    def observe_done(self, done: np.ndarray) -> None:
        self.starts = torch.from_numpy(np.asarray(done, dtype=bool))
