"""A member's action set mapped onto an arena's (by name: Lab2d orders them per substrate).

A member trained without FIRE_ZAP (no_zap) has fewer outputs than an open arena: its
actions map onto the arena's. A member that knows an action the arena lacks has that
output masked.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from popbased.errors import BadInput


class ActionMap:
    def __init__(self, member_actions: Sequence[str], arena_actions: Sequence[str]):
        self.member_actions = tuple(member_actions)
        self.arena_actions = tuple(arena_actions)
        index = {name: i for i, name in enumerate(self.arena_actions)}
        self.to_arena = np.array([index.get(name, -1) for name in self.member_actions], dtype=np.int64)
        self.available = self.to_arena >= 0
        if not self.available.any():
            raise BadInput(f"none of the member's actions ({', '.join(self.member_actions)}) "
                           f"exist in the arena ({', '.join(self.arena_actions)})")

    def member_mask(self, arena_mask: np.ndarray) -> np.ndarray:
        """Arena mask [N, arena actions] -> the member's mask [N, member actions]."""
        out = np.zeros(arena_mask.shape[:-1] + (len(self.member_actions),), dtype=bool)
        out[..., self.available] = arena_mask[..., self.to_arena[self.available]]
        return out


RANDOM = "random"
"""The seat label (and policy reference) of uniform random play among the legal actions."""


SCRIPTED = "scripted:"
"""Policy references `scripted:NAME` name a scripted commons_harvest player (popbased.play.scripted)."""
SCRIPTED_KINDS = ("sustainable", "greedy", "greedy_zapper", "chaser")


def is_scripted(label: Any) -> bool:
    """Whether a seat label or policy reference names a scripted player (`scripted:NAME`)."""
    return isinstance(label, str) and label.startswith(SCRIPTED)


def scripted_kind(ref: str | None) -> str | None:
    """'scripted:NAME' -> NAME (BadInput, naming the allowed ones, for an unknown NAME); None
    for any other reference."""
    if not isinstance(ref, str) or not ref.startswith(SCRIPTED):
        return None
    kind = ref[len(SCRIPTED):]
    if kind not in SCRIPTED_KINDS:
        allowed = ", ".join(SCRIPTED + k for k in SCRIPTED_KINDS)
        raise BadInput(f"policy {ref!r}: no such scripted policy; allowed: {allowed}")
    return kind


def random_legal(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row of `mask` [N, actions], uniform among that row's legal ones."""
    legal = np.asarray(mask, dtype=bool)
    return (rng.random(legal.shape) * legal).argmax(axis=1)
