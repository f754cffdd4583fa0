"""Claiming an output folder (popbased.runs.claim): what a folder holds, read from its files;
a run refused in one line with nothing changed, or moved aside whole with --force; an empty
folder taken as it is. Through the commands that write run folders: train, pbt, league
launch, evaluate and study run (refusals happen before anything starts, so nothing trains:
an unreachable --ray-address stops a forced command right after it moved the old run)."""

import hashlib
import json
from pathlib import Path

import pytest

from popbased.errors import BadInput
from popbased.runs.claim import claim, held

from conftest import POPS, invoke, popbased, tiny_league

NOWHERE = "127.0.0.1:1"
"""A Ray address nothing answers: the command stops (exit 2) after claiming its folder."""


def snapshot(folder: Path) -> dict:
    """Every file under `folder`: its content hash, mtime and mode."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                         p.stat().st_mtime_ns, p.stat().st_mode)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def make(folder: Path, kind: str) -> Path:
    """A folder holding a run of `kind`, its marker files made by hand."""
    folder.mkdir(parents=True)
    if kind == "train":
        (folder / "m0.pt").write_bytes(b"checkpoint")
        (folder / "metrics.jsonl").write_text('{"round": 1}\n')
    elif kind == "pbt":
        (folder / "state.json").write_text(json.dumps({"format": 1, "generation": 3, "spec": {}}))
        (folder / "lineage.jsonl").write_text("")
    elif kind == "league":
        (folder / "state.json").write_text(json.dumps({"format": 1, "generation": 2, "league": {}}))
    elif kind == "evaluation":
        (folder / "evaluation.json").write_text("{}")
        (folder / "summary.csv").write_text("policy\n")
    elif kind == "study":
        (folder / "steps").mkdir()
        (folder / "steps" / "train-open.json").write_text("{}")
    return folder


def one_line(result, *texts):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.stderr
    assert all(t in lines[0] for t in texts), lines[0]
    return lines[0]


@pytest.mark.parametrize("kind, what", [
    ("train", "a train run (m0.pt, metrics.jsonl)"), ("pbt", "a PBT run (generation 3)"),
    ("league", "a league (generation 2)"), ("evaluation", "evaluation results"),
    ("study", "a study")])
def test_what_a_folder_holds_is_read_from_its_files(tmp_path, kind, what):
    assert held(make(tmp_path / "x", kind)) == (kind, what)


def test_empty_missing_and_other_folders(tmp_path):
    assert held(tmp_path / "missing") is None
    (tmp_path / "empty").mkdir()
    assert held(tmp_path / "empty") is None
    assert claim(tmp_path / "empty", "train") == tmp_path / "empty"
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    assert held(tmp_path / "notes")[0] == "other"
    assert claim(tmp_path / "notes", "pbt") == tmp_path / "notes"  # a run adds its own files
    with pytest.raises(BadInput, match="1 other file"):  # an evaluation replaces its folder
        claim(tmp_path / "notes", "evaluation", option="-o")
    (tmp_path / "file").write_text("")
    with pytest.raises(BadInput, match="file is a file; add --force"):
        claim(tmp_path / "file", "train")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "options.json").write_text('{"command": "train"}')
    assert held(tmp_path / "t") == ("train", "a train run (options.json)")


@pytest.mark.parametrize("kind", ["train", "pbt", "league", "evaluation"])
def test_a_run_is_refused_in_one_line_and_left_as_it_was(tmp_path, kind):
    folder = make(tmp_path / "x", kind)
    before = snapshot(folder)
    with pytest.raises(BadInput) as err:
        claim(folder, kind)
    message = str(err.value)
    assert "\n" not in message and str(folder) in message and "--force" in message
    assert (f"popbased resume {folder}" in message) == (kind in ("pbt", "league"))
    assert snapshot(folder) == before and [p.name for p in tmp_path.iterdir()] == ["x"]


def test_force_moves_the_old_run_aside_whole(tmp_path):
    folder = make(tmp_path / "x", "pbt")
    before = snapshot(folder)
    said = []
    assert claim(folder, "train", force=True, say=said.append) == folder
    assert not folder.exists()
    (aside,) = tmp_path.glob("x.old-*")
    assert snapshot(aside) == before
    assert said == [f"--out {folder} held a PBT run (generation 3): moved it aside to {aside}"]
    make(folder, "train")  # a second one the same second gets its own name
    claim(folder, "pbt", force=True, say=said.append)
    assert len(list(tmp_path.glob("x.old-*"))) == 2 and not folder.exists()


def test_resume_continues_its_own_kind_only(tmp_path):
    pbt, league, study = make(tmp_path / "p", "pbt"), make(tmp_path / "l", "league"), make(tmp_path / "s", "study")
    assert claim(pbt, "pbt", resume=True) == pbt
    with pytest.raises(BadInput, match="holds a league"):
        claim(league, "pbt", resume=True)
    with pytest.raises(BadInput, match="choose one"):
        claim(pbt, "pbt", resume=True, force=True)
    assert claim(study, "study") == study  # a study is continued by running it again
    with pytest.raises(BadInput, match="already holds a PBT run"):
        claim(pbt, "study")


# ---------------------------------------------------------------------- through the commands
def test_train_refuses_a_real_run_then_force_moves_it_aside(tmp_path):
    out = tmp_path / "run"
    first = popbased(tmp_path, "train", "open", "--env", "fast", "--total-steps", 200, "--rollout-length", 20,
                     "--out", out)
    assert first.returncode == 0, first.stderr[-2000:]
    before = snapshot(out)
    assert "m0.pt" in before and "metrics.jsonl" in before
    again = invoke("train", "open", "--env", "fast", "--total-steps", 200, "--out", out)
    one_line(again, f"--out {out} already holds a train run", "--force")
    assert snapshot(out) == before
    forced = invoke("train", "open", "--env", "fast", "--total-steps", 200, "--out", out, "--force",
                    "--ray-address", NOWHERE)
    assert forced.exit_code == 2 and "moved it aside" in forced.stderr, forced.stderr
    assert not out.exists()
    (aside,) = tmp_path.glob("run.old-*")
    assert snapshot(aside) == before


def test_an_empty_folder_is_used(tmp_path):
    (tmp_path / "empty").mkdir()
    result = invoke("train", "open", "--env", "fast", "--total-steps", 200, "--out", tmp_path / "empty",
                    "--ray-address", NOWHERE)
    one_line(result, "cannot reach Ray")  # past the folder check
    assert list(tmp_path.iterdir()) == [tmp_path / "empty"]


@pytest.mark.parametrize("kind", ["pbt", "league", "evaluation", "study"])
def test_commands_refuse_a_run_and_force_moves_it(tmp_path, monkeypatch, kind):
    monkeypatch.setattr("popbased.cli.options.stop_on_sigterm", lambda: None)  # this process's
    folder = make(tmp_path / "x", "train" if kind == "study" else kind)
    before = snapshot(folder)
    command = {"pbt": ("pbt", POPS / "open.toml", "--out", folder),
               "league": ("league", "launch", tiny_league(tmp_path), "--out", folder),
               "evaluation": ("evaluate", "run", "random", "-o", folder),
               "study": ("study", "run", "--out", folder, "--results", tmp_path / "results")}[kind]
    hint = {"pbt": f"popbased resume {folder}", "league": f"popbased resume {folder}",
            "evaluation": "--force", "study": "--force"}[kind]
    refused = invoke(*command)
    one_line(refused, f"{folder} already holds", hint, "--force")
    assert snapshot(folder) == before
    stop = ("--total-steps", 1) if kind == "study" else ("--ray-address", NOWHERE)
    forced = invoke(*command, "--force", *stop)
    assert forced.exit_code == 2 and "moved it aside" in forced.stderr, forced.stderr
    (aside,) = tmp_path.glob("x.old-*")
    assert snapshot(aside) == before and not folder.exists()
