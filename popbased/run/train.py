"""`popbased train`: self-play of one population on the one loop (popbased.run.loop) with no
selection. K members share the seats of one substrate; rounds until `config.steps`
agent-steps (or until `on_round` returns True)."""

from __future__ import annotations

from typing import Any, Callable

from popbased.population.member import Member
from popbased.population.reports import RoundReport
from popbased.ppo.learner import Learner
from popbased.run.loop import Loop
from popbased.run.records import TrainRecords
from popbased.run.session import SelfPlaySeats
from popbased.selfplay import TrainConfig, validate


class SelfPlay:
    """The selection of a train run: its members are fresh learners m0 ... m(K-1) (member i
    seeded with seed * 1000 + i) that share the seats; one generation of `config.steps`
    agent-steps; nobody is selected."""

    name = "train"

    def __init__(self, config: TrainConfig):
        self.config = config
        self.spec, self.apples_in_view, self.weights = validate(config)

    def arena(self, config: TrainConfig) -> tuple:
        return self.spec, self.apples_in_view

    def new_members(self, loop: Loop, collector) -> dict[str, Member]:
        config = self.config
        members = {}
        for i in range(config.members):
            m = f"m{i}"
            learner = Learner(m, config.obs_size, collector.action_names, net=config.net,
                              config=config.ppo, shaping_weights=self.weights, device=config.device,
                              seed=config.seed * 1000 + i, total_steps=config.steps)
            members[m] = Member(m, config.substrate, learner, {})
        return members

    def load_options(self, collector) -> dict[str, Any]:
        return {}

    def seats(self) -> SelfPlaySeats:
        return SelfPlaySeats()

    def begin(self, loop: Loop, state: dict | None) -> None:
        """Nothing beyond the members."""

    def tracker(self, members, components) -> None:
        return None

    def begin_generation(self, loop: Loop) -> None:
        """One generation: the whole run."""

    def trained(self, loop: Loop) -> bool:
        return loop.agent_steps >= self.config.steps

    def more(self, loop: Loop) -> bool:
        return loop.agent_steps + loop.session.round_steps < self.config.steps

    def after_round(self, loop: Loop, fragment) -> None:
        """Nobody is selected."""

    def on_fragment(self, fragment) -> None:
        """No payoff table."""

    def evaluate(self, loop: Loop) -> None:
        """No evaluation rounds."""

    def select(self, loop: Loop) -> list:
        return []

    def close(self) -> None:
        """Nothing beyond the collector."""


def train(config: TrainConfig, on_round: Callable[[RoundReport], Any] | None = None) -> dict[str, Any]:
    """Trains; returns the final report (and writes checkpoints + metrics when `out` is set):
    the last round's report (RoundReport.to_json()) with `checkpoints`, `ray` and `interrupted`.

    `on_round(report)` is called after every round; returning True stops training there."""
    selection = SelfPlay(config)
    return Loop(config, selection, TrainRecords(config, selection.spec), on_round=on_round).run()
