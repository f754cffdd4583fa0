"""Seats played by Melting Pot's bots inside a rollout worker (a league's `bots` background).

A seat labelled `bot:NAME` is played by Melting Pot's bot NAME, built by Melting Pot's own code
(`meltingpot.bot.build_from_config` from its BotConfig with the model under the bots root: a
SavedModelPolicy, or a PuppetPolicy around one) and stepped as Melting Pot's Population steps
its bots: a state per seat, `initial_state()` when the seat's episode starts (or a new bot takes
it), then `step(timestep, state)` every step with a dm_env TimeStep of that seat: its view at
full resolution (`RGB`), `READY_TO_SHOOT`, `COLLECTIVE_REWARD` and its last reward, FIRST on an
episode's first step. A worker that seats bots reads full-resolution views from its envs and
downsamples them itself for the members (see RolloutWorker). TensorFlow is imported with the
first bot built: a worker that seats none never imports it.
"""

from __future__ import annotations

from typing import Any, Sequence

import dm_env
import numpy as np

from popbased.env.bots import bot_config, quiet_tensorflow
from popbased.errors import BadInput
from popbased.substrates import meltingpot_loader

BOT = "bot:"


def is_bot(label: Any) -> bool:
    return isinstance(label, str) and label.startswith(BOT)


def frame_size(substrate: str) -> int:
    """The side of a player's RGB view in Melting Pot substrate `substrate` (the bots' input)."""
    config = meltingpot_loader.import_module(f"configs.substrates.{substrate}").get_config()
    return int(config.timestep_spec.observation["RGB"].shape[0])


class BotSeats:
    def __init__(self, root: str):
        self.root = root
        self.policies: dict[str, Any] = {}
        self.states: dict[int, tuple[str, Any]] = {}
        """seat -> (the bot playing it, its state)."""

    def _policy(self, name: str):
        if name not in self.policies:
            if name not in meltingpot_loader.bot_configs():
                raise BadInput(f"seat label {BOT}{name}: not one of Melting Pot's bots")
            quiet_tensorflow()
            from meltingpot import bot as mp_bot  # deferred: imports TensorFlow (see the docstring)

            self.policies[name] = mp_bot.build_from_config(bot_config(name, self.root))
        return self.policies[name]

    def act(self, seats: Sequence[int], labels: Sequence[str], rgb: np.ndarray, ready: np.ndarray,
            rewards: np.ndarray, collective: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """One action per seat (arena indices: the bots' substrate's action set)."""
        out = np.empty(len(seats), dtype=np.int64)
        for i, seat in enumerate(seats):
            name = str(labels[i])[len(BOT):]
            policy = self._policy(name)
            held = self.states.get(int(seat))
            first = bool(starts[i]) or held is None or held[0] != name
            state = policy.initial_state() if first else held[1]
            timestep = dm_env.TimeStep(
                step_type=dm_env.StepType.FIRST if first else dm_env.StepType.MID,
                reward=np.float64(0.0 if first else rewards[i]), discount=np.float64(1.0),
                observation={"RGB": rgb[i], "READY_TO_SHOOT": np.float64(ready[i]),
                             "COLLECTIVE_REWARD": np.float64(0.0 if first else collective[i])})
            action, state = policy.step(timestep, state)
            self.states[int(seat)] = (name, state)
            out[i] = action
        return out

    def close(self) -> None:
        for policy in self.policies.values():
            policy.close()
        self.policies.clear()
