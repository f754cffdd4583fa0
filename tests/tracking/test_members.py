"""Member runs in MLflow (popbased.tracking.members): a real tiny league's member runs record
losses and zaps."""

import pytest

from conftest import mlflow_client


@pytest.mark.slow
def test_league_member_runs_record_losses_and_zaps(tiny_league_run):
    client = mlflow_client(tiny_league_run)
    experiment = client.get_experiment_by_name("league-tiny")
    runs = client.search_runs([experiment.experiment_id])
    members = {r.data.tags["popbased.member"]: r for r in runs if "popbased.member" in r.data.tags
               and r.data.tags.get("popbased.kind") != "export"}
    assert sorted(members) == ["no_zap/m0", "no_zap/m1", "open/m0", "open/m1"]
    for m, r in members.items():
        metrics = r.data.metrics
        assert metrics["train/value_loss"] > 0 and "train/policy_loss" in metrics
        assert "episode/gini" in metrics and metrics["episode/seats"] > 0
        if m.startswith("no_zap"):
            assert metrics["episode/zaps_fired"] == 0  # masked in the open arena
        assert r.data.tags["popbased.folder"].endswith("runs/tiny")
