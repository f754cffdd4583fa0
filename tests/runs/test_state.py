"""A run folder's commit protocol (popbased.runs.state) on its own, without a run: state.json
last, the newest intact state on reading (a torn checkpoint or state falls back with a
warning), resume dropping an unfinished generation's records, the crash points, options."""

import json
import os
import subprocess
import sys

import pytest

from popbased.errors import BadInput
from popbased.ppo import checkpoint
from popbased.runs import state as files

from conftest import make_learner


def _commit(out, generation, members=("m0",)):
    """A generation committed as the loop does: checkpoints, records, state.json last."""
    learner = make_learner()
    ckpts = {}
    for m in members:
        rel = files.checkpoint_file(generation, m)
        ckpts[m] = {"file": rel, "sha256": checkpoint.save(learner, out / rel, {"generation": generation})}
    for name in ("generations.jsonl", "payoff.jsonl"):
        files.append(out, name, {"generation": generation})
    files.append(out, "rounds.jsonl", {"generation": generation})
    files.write(out, {"format": files.FORMAT, "generation": generation, "checkpoints": ckpts})


def test_state_json_is_the_commit_and_each_generation_keeps_its_copy(tmp_path):
    _commit(tmp_path, 0)
    _commit(tmp_path, 1)
    assert files.read(tmp_path)["generation"] == 1
    assert json.loads((tmp_path / "gen-0000" / "state.json").read_text())["generation"] == 0
    assert files.checkpoint_entry(files.read(tmp_path), "m0")["file"] == "gen-0001/m0.pt"
    assert files.checkpoint_entry({"checkpoints": {"m0": "m0.pt"}}, "m0") == {"file": "m0.pt",
                                                                               "sha256": None}


def test_a_torn_checkpoint_falls_back_to_the_newest_intact_generation(tmp_path):
    _commit(tmp_path, 0)
    _commit(tmp_path, 1)
    torn = tmp_path / "gen-0001" / "m0.pt"
    torn.write_bytes(torn.read_bytes()[:-50])
    with pytest.warns(UserWarning, match="resuming from generation 0 instead"):
        assert files.read(tmp_path, "PBT")["generation"] == 0
    (tmp_path / "gen-0000" / "m0.pt").unlink()
    with pytest.raises(BadInput, match="no intact PBT state to resume from"):
        files.read(tmp_path, "PBT")


def test_damaged_or_missing_states_are_one_line(tmp_path):
    with pytest.raises(BadInput, match="holds no league run"):
        files.read(tmp_path)
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(BadInput, match="no intact league state"):
        files.read(tmp_path)
    (tmp_path / "state.json").write_text(json.dumps({"format": 99, "generation": 1}))
    with pytest.raises(BadInput, match="not a league state of format 1"):
        files.read(tmp_path)


def test_resume_drops_the_records_of_an_unfinished_generation(tmp_path):
    _commit(tmp_path, 0)
    _commit(tmp_path, 1)
    for name in ("generations.jsonl", "payoff.jsonl"):  # generation 2 wrote its records ...
        files.append(tmp_path, name, {"generation": 2})
    files.append(tmp_path, "rounds.jsonl", {"generation": 1})  # ... and rounds, then died
    files.drop_unfinished(tmp_path, 1)
    assert [r["generation"] for r in files.lines(tmp_path, "generations.jsonl")] == [0]
    assert [r["generation"] for r in files.lines(tmp_path, "rounds.jsonl")] == [0]


def test_a_crash_point_kills_only_where_it_is_asked(tmp_path):
    code = "from popbased.runs import state; state.crash_point('pbt', 2); state.crash_point('pbt', 3)"
    env = {**os.environ, "POPBASED_CRASH_AT": "pbt:3"}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == -9
    env["POPBASED_CRASH_AT"] = "pbt:4"
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def test_options_are_read_back_or_refused_in_one_line(tmp_path):
    with pytest.raises(BadInput, match="not a PBT folder"):
        files.read_options(tmp_path, "PBT")
    _commit(tmp_path, 0)
    (tmp_path / "options.json").write_text(json.dumps({"seed": 3}))
    assert files.read_options(tmp_path) == {"seed": 3}
    (tmp_path / "options.json").write_text("{")
    with pytest.raises(BadInput, match="not valid JSON"):
        files.read_options(tmp_path)
