"""Seat actions: the per-seat action masks, the checks on a step's actions and the
step_async / step_wait protocol that both env engines (BatchedEnv and FastBatchedEnv)
follow the same way."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from popbased.errors import BadInput


class SeatActions:
    """Mixin: needs `spec`, `action_names`, `num_actions`, `num_seats`, `action_mask`
    ([seats, actions] bool, all True by default), `_started` (reset() was called) and
    `_pending` (a step started, not yet waited for), and the engine's step_async/step_wait."""

    def step(self, actions: np.ndarray):
        self.step_async(actions)
        return self.step_wait()

    def _start_step(self, actions) -> np.ndarray:
        """step_async's checks: the env is reset, no step is pending, the actions are legal."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if self._pending is not None:
            raise RuntimeError("step_async() twice without step_wait()")
        return self.check_actions(actions)

    def set_action_mask(self, mask: np.ndarray) -> None:
        """Per-seat allowed actions [seats, actions] (e.g. no FIRE_ZAP for a no_zap member)."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.action_mask.shape:
            raise BadInput(f"action mask shape {mask.shape}: expected {self.action_mask.shape}")
        if not mask.any(axis=1).all():
            raise BadInput("action mask leaves a seat with no allowed action")
        self.action_mask = mask.copy()

    def action_indices(self, names: Sequence[str]) -> np.ndarray:
        """Arena indices of a member's actions (its action set must be a subset of the arena's)."""
        missing = [n for n in names if n not in self.action_names]
        if missing:
            raise BadInput(f"actions {missing} do not exist in {self.spec.name} "
                           f"(its actions: {', '.join(self.action_names)})")
        return np.array([self.action_names.index(n) for n in names], dtype=np.int64)

    def mask_for(self, names: Sequence[str]) -> np.ndarray:
        """The mask row of a member whose action set is `names`."""
        row = np.zeros(self.num_actions, dtype=bool)
        row[self.action_indices(names)] = True
        return row

    def check_actions(self, actions) -> np.ndarray:
        """One action per seat, each in range and allowed by its seat's mask."""
        actions = np.asarray(actions)
        if actions.shape != (self.num_seats,):
            raise BadInput(f"actions shape {actions.shape}: expected ({self.num_seats},)")
        if actions.min() < 0 or actions.max() >= self.num_actions:
            raise BadInput(f"actions must be in [0, {self.num_actions})")
        allowed = self.action_mask[np.arange(self.num_seats), actions]
        if not allowed.all():
            bad = np.flatnonzero(~allowed)[0]
            raise BadInput(f"seat {bad} took action {self.action_names[actions[bad]]}, "
                           "which its action mask forbids")
        return actions
