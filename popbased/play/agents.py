"""Who acts in a seat outside training (no Ray, no learner), all with one protocol:

    agent.obs_size            the view side it reads (None: it reads no view)
    agent.act(SeatView)       arena actions for those seats, legal under their masks
    agent.observe_done(done)  the seats' episodes ended (recurrent state resets)

RandomAgent plays uniformly among the legal actions (the study's baseline), PolicyAgent a
checkpoint, ExportAgent an exported policy folder, ScriptedAgent a scripted policy
(`scripted:NAME`, popbased.play.scripted: it reads the world state, `reads_world`); agent_for
picks one for a reference.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
import torch

from popbased.export.runtime import ExportedAgent, is_export
from popbased.play.scripted import ScriptedAgent
from popbased.ppo import checkpoint
from popbased.ppo.actions import RANDOM, ActionMap, random_legal, scripted_kind
from popbased.ppo.policy import act


@dataclasses.dataclass
class SeatView:
    """What an agent reads for some seats: their views and legal-action masks (arena order)."""

    rgb: np.ndarray
    action_mask: np.ndarray
    seats: np.ndarray | None = None
    """The env-major seat numbers of these rows (env * players + player)."""
    world: Any = None
    """The env's world state, for agents that read it (see Observation.world)."""


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


def agent_for(policy: str | None, arena_actions: Sequence[str], seed: int = 0, params=None):
    """None or 'random', 'scripted:NAME', a checkpoint file or an export folder -> the agent
    that plays it (`params`: the substrate's CommonsParams, which a scripted agent's map needs
    on Melting Pot)."""
    if policy is None or policy == RANDOM:
        return RandomAgent(arena_actions, seed=seed)
    if scripted_kind(policy):
        return ScriptedAgent(policy, arena_actions, params)
    return (ExportAgent if is_export(policy) else PolicyAgent)(policy, arena_actions, seed=seed)


def check_policy(policy: str | None) -> None:
    """BadInput (one line) unless `policy` names something agent_for plays: None or 'random',
    'scripted:NAME', an export folder or a readable checkpoint."""
    if policy is None or policy == RANDOM:
        return
    if not scripted_kind(policy) and not is_export(policy):
        checkpoint.read(policy)
