"""`popbased train` on the one loop (popbased.run.train) on the fast env: on_round True stops,
an interrupt keeps the checkpoints, the final report's keys."""

import json

import pytest

from popbased.population.reports import RoundReport
from popbased.run.train import train
from popbased.selfplay import TrainConfig


def _config(tmp_path, **kw):
    return TrainConfig("open", steps=10_000, workers=1, envs_per_worker=1, rollout_length=10,
                       device="cpu", seed=1, out=str(tmp_path), env="fast", **kw)


def test_on_round_true_stops_and_the_report_is_the_last_round(tmp_path):
    seen = []
    report = train(_config(tmp_path), lambda r: seen.append(r) or len(seen) == 2)
    assert [r.round for r in seen] == [1, 2] and all(isinstance(r, RoundReport) for r in seen)
    assert report["round"] == 2 and report["agent_steps"] == 2 * 7 * 10 == seen[-1].agent_steps
    assert {"checkpoints", "agent_steps_per_s", "elapsed_s", "ray", "round_agent_steps", "timing",
            "learners", "metrics", "episodes"} <= set(report) and "interrupted" not in report
    assert report["ray"] is None and set(report["checkpoints"]) == {"m0"}
    lines = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [l["round"] for l in lines] == [1, 2] and "episode_summaries" in lines[0]


@pytest.mark.parametrize("overlap", [True, False])
def test_an_interrupt_keeps_the_checkpoints(tmp_path, overlap):
    def stop(report):
        if report.round == 2:
            raise KeyboardInterrupt

    report = train(_config(tmp_path, overlap=overlap), stop)
    assert report["interrupted"] is True and report["round"] == 2
    assert (tmp_path / "m0.pt").exists() and report["checkpoints"]["m0"] == str(tmp_path / "m0.pt")
