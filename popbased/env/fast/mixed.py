"""Worlds of several arenas in one fast env (popbased.env.arenas): one FastBatchedEnv per arena,
each with its share of the worlds, stepped one after the other and seen as one batch.

The seats are the arenas' seats in order (arena 0's worlds first); observations, rewards and
`done` are concatenated, episode summaries carry their world's index in the whole batch (`env`)
and their arena's name (`arena`). Each arena keeps its own random stream (seeded from the run's
seed and the arena's index), so a world of arena k plays as it would in a FastBatchedEnv of
arena k alone. The cost: one World step per arena instead of one for all the worlds (kernel
launches, not work, grow with the arenas: measured by scripts/bench_arenas).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from popbased.env.arenas import Arena, allocate
from popbased.env.fast.env import FastBatchedEnv, TensorStep


class MixedFastEnv:
    def __init__(self, arenas: Sequence[tuple[Arena, object]], num_envs: int, *, seed: int = 0,
                 device="cpu", obs_size: int = 11, apples_in_view: bool | None = None,
                 max_episode_steps: int | None = None):
        """arenas: (Arena, its spec) pairs (popbased.env.arenas.check)."""
        counts = allocate(num_envs, [a.weight for a, _ in arenas])
        self.names = [a.name for a, _ in arenas]
        self.parts = [FastBatchedEnv(spec, n, seed=seed * 1009 + k, device=device, obs_size=obs_size,
                                     apples_in_view=apples_in_view, max_episode_steps=max_episode_steps)
                      for k, ((_, spec), n) in enumerate(zip(arenas, counts))]
        first = self.parts[0]
        self.worlds = counts
        self.num_envs = num_envs
        self.players = first.players
        self.num_seats = sum(p.num_seats for p in self.parts)
        self.device = first.device
        self.action_names = first.action_names
        self.components = first.components
        self.action_mask = np.concatenate([p.action_mask for p in self.parts])
        self.env_offsets = np.cumsum([0] + counts)
        self.seat_offsets = list(np.cumsum([0] + [p.num_seats for p in self.parts]))

    def arena_of_env(self) -> list[str]:
        """The arena of each world, in the batch's order."""
        return [name for name, n in zip(self.names, self.worlds) for _ in range(n)]

    def reset_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        out = [p.reset_tensors() for p in self.parts]
        return torch.cat([o[0] for o in out]), torch.cat([o[1] for o in out])

    def step_tensors(self, actions: torch.Tensor) -> TensorStep:
        steps, episodes = [], []
        for k, part in enumerate(self.parts):
            lo, hi = self.seat_offsets[k], self.seat_offsets[k + 1]
            step = part.step_tensors(actions[lo:hi])
            steps.append(step)
            base = int(self.env_offsets[k])
            episodes += [{**e, "env": e["env"] + base, "arena": self.names[k]} for e in step.episodes]
        return TensorStep(torch.cat([s.rgb for s in steps]), torch.cat([s.ready_to_shoot for s in steps]),
                          torch.cat([s.rewards for s in steps]), torch.cat([s.done for s in steps]), episodes)

    def set_social(self, decay: torch.Tensor, svo_angle: torch.Tensor) -> None:
        """Each seat's own social parameters (FastBatchedEnv.set_social), split by arena."""
        for k, part in enumerate(self.parts):
            lo, hi = self.seat_offsets[k], self.seat_offsets[k + 1]
            part.set_social(decay[lo:hi], svo_angle[lo:hi])

    def scripted_moves(self, kind: str) -> torch.Tensor:
        """[seats] action codes of scripted players of `kind` in every seat of every arena."""
        return torch.cat([p.scripted_moves(kind) for p in self.parts])

    def close(self) -> None:
        for p in self.parts:
            p.close()
