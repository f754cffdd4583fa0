"""Run references (popbased.runs.refs) on a real tiny league: by MLflow run id, by name, and
shell completion."""

import json

import pytest

from conftest import popbased, run_one_line_error


@pytest.mark.slow
def test_references_by_mlflow_run_id_and_completion(tiny_league_run, monkeypatch):
    from popbased.runs import refs

    work = tiny_league_run
    runs = json.loads((work / "runs" / "tiny" / "tracking.json").read_text())["runs"]
    tree = popbased(work, "lineage", "tree", runs["league"])
    assert tree.returncode == 0 and "open/m0" in tree.stdout and "no_zap/m1" in tree.stdout
    show = popbased(work, "lineage", "show", runs["no_zap/m1"])
    assert show.returncode == 0 and show.stdout.startswith("no_zap/m1 in ")
    by_name = popbased(work, "lineage", "show", "tiny/open/m0")
    assert by_name.returncode == 0 and by_name.stdout.startswith("open/m0 in runs/tiny")
    run_one_line_error(popbased(work, "lineage", "show", runs["league"]), "not of a member")
    monkeypatch.chdir(work)
    assert [c.value for c in refs.complete_league(None, None, "runs/t")] == ["runs/tiny"]
    members = [c.value for c in refs.complete_member(None, None, "runs/tiny/no")]
    assert members == ["runs/tiny/no_zap/m0", "runs/tiny/no_zap/m1"]
    graph = popbased(work, "lineage", "graph", "tiny", "-o", "tiny.png")
    assert graph.returncode == 0 and (work / "tiny.png").read_bytes()[:4] == b"\x89PNG"
