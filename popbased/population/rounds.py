"""Runs of rounds: what self-play training, PBT and leagues share, and self-play itself.

    run.run()  ->  the collector (Ray workers, or the fast env in this process), then
                   setup() (members, learner threads, session), then loop() (rounds until the
                   run is done; Ctrl-C / SIGTERM stops it between any two steps and keeps what
                   was learned), then final_report(); the collector closed whatever happens.
    run.play() ->  one round: a fragment gathered, every learner seated in it updated (unless
                   evaluating), accounted, one RoundReport built, written to the run's JSON-lines
                   file, handed to `on_round`.

Two kinds run on it: SelfPlay below (`popbased train`: rounds until the step budget,
metrics.jsonl, checkpoints m0.pt ... every `checkpoint_every_s` and at the end) and the
generation engine (population/engine.py: PBT and leagues, rounds grouped into generations
with a run folder and resume).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Callable

from popbased.population.reports import RoundReport
from popbased.ppo import checkpoint
from popbased.ppo.learner import Learner
from popbased.rollout.fragment import Fragment
from popbased.selfplay import (EpisodeWindow, Session, TrainConfig, learner_threads,
                               start_collector, validate)
from popbased.textio import json_safe


class Rounds:
    """A run of rounds (see the module docstring). A kind implements the hooks."""

    def __init__(self, config: TrainConfig, on_round: Callable[[RoundReport], Any] | None = None):
        self.config, self.on_round = config, on_round
        self.window = EpisodeWindow()
        self.agent_steps = 0  # the whole run's, across resumes
        self.start_steps = 0  # agent_steps when this process started (speeds count from it)
        self.started = time.perf_counter()
        self.session: Session
        self.last_report: RoundReport | None = None

    # ------------------------------------------------------------------ hooks
    def arena(self):
        """(the substrate spec every env plays, apples_in_view for the collector[, the bots:
        (models root, substrate) where Melting Pot's bots take seats, see selfplay.start_collector]);
        checks everything that can be checked before the collector starts."""
        raise NotImplementedError

    def setup(self, collector) -> None:
        """The members, torch's threads for them (`learner_threads`) and self.session, once
        the collector runs."""
        raise NotImplementedError

    def loop(self) -> None:
        """Rounds (self.play()) until the run is done."""
        raise NotImplementedError

    def final_report(self, interrupted: bool) -> dict[str, Any]:
        """The run's report (`ray` is added to it), also after an interrupt."""
        raise NotImplementedError

    def account(self, fragment: Fragment, stats: dict, learn: bool, seconds: float) -> int:
        """The kind's bookkeeping of a gathered fragment (`seconds`: the round's collect and
        update); returns the agent-steps it collected."""
        return sum(b.agent_steps for b in fragment.batches.values())

    def round_fields(self, session: Session, fragment: Fragment) -> dict[str, Any]:
        """The kind's own RoundReport fields."""
        return {}

    def record(self, report: RoundReport, fragment: Fragment) -> None:
        """Writes the round's record (before `on_round` sees it)."""

    def close(self) -> None:
        """Whatever the kind started beyond the collector (at the end, also on errors)."""

    # ------------------------------------------------------------------ run
    def run(self) -> dict[str, Any]:
        collector, ray_info = start_collector(self.config, *self.arena())
        try:
            self.setup(collector)
            interrupted = False
            try:
                self.loop()
            except KeyboardInterrupt:  # keep what was learned: the kind's report writes it
                interrupted = True
            report = self.final_report(interrupted)
        finally:
            self.close()
            collector.close()
        report["ray"] = ray_info
        return report

    def play(self, session: Session | None = None, more: bool = True,
             learn: bool = True) -> tuple[Fragment, RoundReport, bool]:
        """One round on `session` (default: the training one); `more`: another round follows
        (start collecting it now). Returns (fragment, report, whether `on_round` asked to stop)."""
        session = session or self.session
        t0 = time.perf_counter()
        fragment, stats = session.round(more=more, learn=learn)
        self.agent_steps += self.account(fragment, stats, learn, time.perf_counter() - t0)
        self.window.add(fragment.episodes)
        elapsed = time.perf_counter() - self.started
        report = RoundReport(
            agent_steps=self.agent_steps, total_steps=self.config.steps, elapsed_s=elapsed,
            agent_steps_per_s=(self.agent_steps - self.start_steps) / elapsed,
            episodes=self.window.count, metrics=self.window.summary(), learners=stats,
            worker_restarts=self.session.collector.restarts,
            flags={m: tuple(l.flags) for m, l in self.session.learners.items() if l.flags},
            **self.round_fields(session, fragment))
        self.last_report = report
        self.record(report, fragment)
        stop = bool(self.on_round(report)) if self.on_round else False
        return fragment, report, stop


class SelfPlay(Rounds):
    """`popbased train`: K members share the seats; rounds until `config.steps` agent-steps
    (or until `on_round` returns True). With `out`: metrics.jsonl (one line per round, with
    its episodes), every member's checkpoint (m0.pt, ...) every `checkpoint_every_s` and at
    the end."""

    def __init__(self, config: TrainConfig, on_round: Callable[[RoundReport], Any] | None = None):
        super().__init__(config, on_round)
        self.out = Path(config.out) if config.out else None
        self.rounds = 0
        self.metrics_file = None

    def arena(self):
        self.spec, apples_in_view, self.weights = validate(self.config)
        return self.spec, apples_in_view

    def setup(self, collector) -> None:
        config = self.config
        learners = {m: Learner(m, config.obs_size, collector.action_names, net=config.net,
                               config=config.ppo, shaping_weights=self.weights, device=config.device,
                               seed=config.seed * 1000 + i, total_steps=config.steps)
                    for i, m in enumerate(f"m{i}" for i in range(config.members))}
        # threads set after the learners are built: their initialisation depends on torch's
        # thread count, and a seed gives the weights it always gave
        learner_threads(config, collector)
        self.session = Session(config, collector, learners)
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            self.metrics_file = (self.out / "metrics.jsonl").open("a")
        self.started = self.last_save = time.perf_counter()

    def loop(self) -> None:
        while self.agent_steps < self.config.steps:
            more = self.agent_steps + self.session.round_steps < self.config.steps
            if self.play(more=more)[2]:
                break

    def account(self, fragment: Fragment, stats: dict, learn: bool, seconds: float) -> int:
        self.rounds += 1
        return super().account(fragment, stats, learn, seconds)

    def round_fields(self, session: Session, fragment: Fragment) -> dict[str, Any]:
        return {"round": self.rounds, "round_agent_steps": session.round_steps,
                "timing": dict(session.totals)}

    def record(self, report: RoundReport, fragment: Fragment) -> None:
        if self.metrics_file is None:
            return
        self.metrics_file.write(json.dumps(json_safe({**report.to_json(), "episode_summaries": [
            {k: e[k] for k in ("per_capita_return", "gini", "steps", "depleted", "members")}
            for e in fragment.episodes]})) + "\n")
        self.metrics_file.flush()
        if time.perf_counter() - self.last_save >= self.config.checkpoint_every_s:
            self.save()
            self.last_save = time.perf_counter()

    def final_report(self, interrupted: bool) -> dict[str, Any]:
        """The last round's report (RoundReport.to_json()) with `interrupted` and `checkpoints`
        (with `out`; written now)."""
        checkpoints = None
        if self.metrics_file is not None:
            self.metrics_file.close()
            self.metrics_file = None
            checkpoints = self.save()
        last = self.last_report.to_json() if self.last_report is not None else {
            "agent_steps": 0, "total_steps": self.config.steps}
        return {**last, **({"interrupted": True} if interrupted else {}),
                **({} if checkpoints is None else {"checkpoints": checkpoints})}

    def close(self) -> None:
        if self.metrics_file is not None:
            self.metrics_file.close()
            self.metrics_file = None

    def save(self) -> dict[str, str]:
        """Every member's checkpoint (out/m0.pt, ...); member -> path."""
        config, spec = self.config, self.spec
        extra = {"substrate": config.substrate, "params": {k: str(v) for k, v in config.params.items()},
                 "spec_params": {k: (v if isinstance(v, (int, float, str, bool)) else str(v))
                                 for k, v in dataclasses.asdict(spec.params).items()} if spec.params else {},
                 "seed": config.seed}
        paths = {}
        for m, learner in self.session.learners.items():
            path = self.out / f"{m}.pt"
            checkpoint.save(learner, path, extra)
            paths[m] = str(path)
        return paths
