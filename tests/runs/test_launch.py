"""Launching (popbased.runs.launch) without training: prepare checks before anything is
written, open writes options.json (the plan written down: it settles back to the same plan),
a train run is untracked, a PBT resume of a folder without that run is one line."""

import json

import pytest

from popbased.errors import BadInput
from popbased.run.plan import settle
from popbased.runs import launch

from conftest import POPS

TRAIN = {"substrate": "open", "steps": 7000, "seed": 2, "device": "cpu", "workers": 1,
         "shaping_given": {"last_apples": -3.0}}


def test_a_train_plan_is_written_down_and_settles_back_to_itself(tmp_path):
    out = tmp_path / "train"
    prepared = launch.prepare_train({**TRAIN, "out": str(out)})
    assert not out.exists()  # nothing written before open
    prepared.open()
    written = json.loads((out / "options.json").read_text())
    assert written["command"] == "train" and written["env"] == "fast"
    assert written["shaping"] == {"reward": 1.0, "last_apples": -3.0}
    again = settle(written)
    assert again.config == prepared.config and again.options == prepared.plan.options
    assert isinstance(prepared.tracking, launch.Untracked) and prepared.experiment == "train-open"


def test_a_folder_holding_another_run_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "train"
    launch.prepare_train({**TRAIN, "out": str(out)}).open()
    before = (out / "options.json").read_bytes()
    (out / "metrics.jsonl").write_text('{"round": 1}\n')
    with pytest.raises(BadInput, match="already holds a train run"):
        launch.prepare_train({**TRAIN, "out": str(out), "steps": 14000})
    assert (out / "options.json").read_bytes() == before


def test_resuming_a_folder_without_that_run_is_one_line(tmp_path):
    opts = {"population": str(POPS / "open.toml"), "generations": 2, "seed": 0, "device": "cpu",
            "workers": 1, "envs_per_worker": None, "rollout_length": None, "lstm": 0,
            "steps_per_generation": None, "max_episode_steps": None, "env": "fast"}
    with pytest.raises(BadInput) as err:
        launch.prepare_pbt(opts["population"], opts, out=str(tmp_path / "none"), resume=True)
    assert "\n" not in str(err.value)
