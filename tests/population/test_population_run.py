"""PBT runs (popbased.population.run): a sabotaged member replaced in a real run, the CLI's
runs and resumes, seeded new members, sync and async steps, damaged run folders."""

import dataclasses
import functools
import json
import subprocess
import sys

import pytest
import torch

from popbased.population.lineage import LineageLog, replay
from popbased.population.run import PBT, read_state, run, train_config

from conftest import ACTIONS, ROOT, equal_states, member_state, tiny_spec


def _tiny_run(tmp_path, name, generations, pbt=None, **kwargs):
    # ~14 fitness samples (100-step seat fragments) per member per generation: enough for
    # the noise test to separate a member that never harvests from ones that do
    spec = dataclasses.replace(tiny_spec(**(pbt or {})), steps_per_generation=1400)
    config = train_config(spec, generations, workers=1, envs_per_worker=1, rollout_length=100,
                          env_backend="inline", device="cpu", seed=5, out=str(tmp_path / name))
    return spec, config, run(spec, config, generations, **kwargs)


def sabotage(members):
    """m0: learning rate at its floor, harvest weighted -1, and a policy that only stands still."""
    m0 = members["m0"]
    m0.apply({**m0.values, "lr": 1e-5, "shaping.reward": -1.0})
    with torch.no_grad():
        m0.learner.policy.actor.weight.zero_()
        m0.learner.policy.actor.bias.copy_(torch.tensor([50.0] + [-50.0] * 6))


@pytest.mark.slow
def test_sabotaged_member_is_replaced_in_a_real_run(ray_local, tmp_path):
    spec, config, report = _tiny_run(tmp_path, "run", 3, prepare=sabotage)
    log = LineageLog(tmp_path / "run" / "lineage.jsonl")
    init = log.of("m0")[0]
    assert init.kind == "init" and init.values["lr"] == 1e-5 and init.values["shaping.reward"] == -1.0
    exploits = [e for e in log.of("m0") if e.kind == "exploit"]
    assert exploits, [e.reason for e in log.of("m0")]
    first = exploits[0]
    # standing still it only eats apples that regrow under it
    assert first.donor in ("m1", "m2") and first.fitness < 10 < first.donor_fitness
    assert report["members"]["m0"]["values"]["shaping.reward"] != -1.0
    assert report["members"]["m0"]["parent"] in ("m1", "m2")
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["generation"] == 3 and sorted(state["checkpoints"]) == ["m0", "m1", "m2"]
    for g in range(4):  # every member's checkpoint, and the generation's own state copy
        assert sorted(p.name for p in (tmp_path / "run" / f"gen-{g:04d}").iterdir()) == [
            "m0.pt", "m1.pt", "m2.pt", "state.json"]
    gens = [json.loads(l) for l in (tmp_path / "run" / "generations.jsonl").read_text().splitlines()]
    assert [g["generation"] for g in gens] == [1, 2, 3]
    # the replaced member's weights are a copy of its donor's at that generation
    from popbased.ppo import checkpoint

    g = first.generation
    copied = checkpoint.read(tmp_path / "run" / f"gen-{g:04d}" / "m0.pt")["weights"]
    donor = checkpoint.read(tmp_path / "run" / f"gen-{g:04d}" / f"{first.donor}.pt")["weights"]
    assert all(torch.equal(copied[k], donor[k]) for k in donor)


@pytest.mark.slow
def test_with_inherit_genes_the_sabotaged_member_takes_genes_and_keeps_its_weights(ray_local, tmp_path):
    from popbased.ppo import checkpoint

    spec, config, report = _tiny_run(tmp_path, "run", 2, pbt={"inherit": "genes"}, prepare=sabotage)
    log = LineageLog(tmp_path / "run" / "lineage.jsonl")
    adopts = [e for e in log.of("m0") if e.kind == "adopt"]
    assert adopts and not [e for e in log.events if e.kind == "exploit"], [e.reason for e in log.of("m0")]
    first = adopts[0]
    assert first.donor in ("m1", "m2") and first.fitness < 10 < first.donor_fitness
    assert report["members"]["m0"]["values"]["shaping.reward"] != -1.0  # the donor's genes, explored
    assert report["members"]["m0"]["parent"] is None  # its weights were never copied
    g = first.generation
    own = checkpoint.read(tmp_path / "run" / f"gen-{g:04d}" / "m0.pt")["weights"]
    donor = checkpoint.read(tmp_path / "run" / f"gen-{g:04d}" / f"{first.donor}.pt")["weights"]
    assert not all(torch.equal(own[k], donor[k]) for k in donor)
    assert replay(log.events, "m0") == report["members"]["m0"]["values"]


@pytest.mark.slow
def test_pbt_cli_runs_and_resumes(ray_local, tmp_path):
    out = tmp_path / "cli"
    base = [sys.executable, "-m", "popbased.cli", "pbt", str(ROOT / "populations" / "no_zap.toml"),
            "--steps-per-generation", "400", "--workers", "1", "--envs-per-worker", "1",
            "--rollout-length", "100", "--max-episode-steps", "100", "--out", str(out),
            "--ray-address", ray_local["address"]]
    run = functools.partial(subprocess.run, capture_output=True, text=True, cwd=tmp_path)  # ./mlflow.db
    first = run(base + ["--generations", "1"], timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "generation 1/1" in first.stderr and "best member" in first.stdout  # progress / results
    again = run(base + ["--generations", "1"], timeout=120)
    assert again.returncode == 2 and f"popbased resume {out}" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    done = run(base + ["--generations", "1", "--resume"], timeout=120)
    assert done.returncode == 2 and "already completed generation 1" in done.stderr
    resumed = run(base + ["--generations", "2", "--resume"], timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    state = json.loads((out / "state.json").read_text())
    assert state["generation"] == 2
    log = LineageLog(out / "lineage.jsonl")
    assert [e.generation for e in log.events if e.kind == "init"] == [0, 0, 0, 0]
    assert {e.generation for e in log.events} == {0, 1, 2}
    for m in ("m0", "m1", "m2", "m3"):
        assert replay(log.events, m) == state["members"][int(m[1])]["values"]
    # tracked in ./mlflow.db: the run, and per member its learner and episode statistics
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pbt-no_zap")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 5 and all(r.info.status == "FINISHED" for r in runs)
    members = {r.data.tags["popbased.member"]: r for r in runs if "popbased.member" in r.data.tags}
    assert sorted(members) == ["m0", "m1", "m2", "m3"]
    (parent,) = [r for r in runs if "popbased.member" not in r.data.tags]
    assert {k: parent.data.params[k] for k in ("member_fitness", "pbt_seating", "fitness_samples",
                                               "pbt_explore", "pbt_inherit")} == \
        {"member_fitness": "return", "pbt_seating": "mixed", "fitness_samples": "fragment",
         "pbt_explore": "gaussian", "pbt_inherit": "weights"}
    history = client.get_metric_history(members["m0"].info.run_id, "fitness")
    assert sorted(h.step for h in history) == [1, 2]
    initial = next(e.values for e in log.events if e.member == "m0" and e.kind == "init")
    for gene, value in initial.items():  # from the initial value (step 0), aligned with fitness
        history = {h.step: h.value for h in client.get_metric_history(members["m0"].info.run_id,
                                                                      f"hp/{gene}")}
        assert sorted(history) == [0, 1, 2] and history[0] == pytest.approx(value)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert members["m0"].data.params["initial.lr"] == str(initial["lr"])
    metrics = members["m0"].data.metrics
    assert metrics["train/value_loss"] > 0 and "train/entropy" in metrics
    assert metrics["episode/zaps_fired"] == 0 and metrics["episode/seats"] > 0
    # one resume shape for PBT runs and leagues: `popbased resume FOLDER` (one more generation)
    again = run([sys.executable, "-m", "popbased.cli", "resume", str(out),
                 "--ray-address", ray_local["address"]], timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    state = json.loads((out / "state.json").read_text())
    assert state["generation"] == 3 and state["checkpoints"]["m0"]["file"] == "gen-0003/m0.pt"
    history = client.get_metric_history(members["m0"].info.run_id, "fitness")
    assert sorted(h.step for h in history) == [1, 2, 3]
    assert len(client.search_runs([experiment.experiment_id])) == 5  # continued, not duplicated
    # a torn newest checkpoint: resume falls back to the newest intact generation
    victim = out / state["checkpoints"]["m0"]["file"]
    victim.write_bytes(victim.read_bytes()[:-100])
    with pytest.warns(UserWarning, match="resuming from generation 2 instead"):
        assert read_state(out)["generation"] == 2


def test_new_members_are_seeded(tmp_path):
    spec = tiny_spec()
    made = []
    for name in ("a", "b"):
        config = train_config(spec, 1, device="cpu", seed=11, out=str(tmp_path / name))
        made.append(PBT(spec, config).initial_members(ACTIONS, {"reward": 1.0}))
    a, b = made
    for m in a:
        assert a[m].values == b[m].values
        assert equal_states(member_state(a[m]), member_state(b[m]))
    assert a["m0"].values != a["m1"].values


@pytest.mark.parametrize("mode, expected", [("sync", []), ("async", ["m1", "m2"])])
def test_sync_waits_for_everyone_async_steps_whoever_is_ready(tmp_path, mode, expected):
    spec = tiny_spec(mode=mode)
    config = train_config(spec, 1, device="cpu", out=str(tmp_path))
    pbt = PBT(spec, config)
    members = pbt.initial_members(ACTIONS, {"reward": 1.0})
    for m, steps in zip(members.values(), (599, 600, 900)):
        m.trained_steps = steps
    assert pbt.ready(members) == expected
    members["m0"].trained_steps = 600
    assert pbt.ready(members) == ["m0", "m1", "m2"]


def test_damaged_run_folders_are_one_clear_error(tmp_path):
    from popbased.errors import BadInput
    from popbased.population.run import check_out

    spec = tiny_spec()
    with pytest.raises(BadInput, match="holds no PBT run"):
        check_out(spec, tmp_path, True, 2)
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(BadInput, match="not valid JSON"):
        check_out(spec, tmp_path, True, 2)
    with pytest.raises(BadInput, match="already holds a PBT run"):
        check_out(spec, tmp_path, False, 2)
    (tmp_path / "state.json").write_text(json.dumps(
        {"format": 1, "generation": 1, "spec": {"name": "other", "substrate": "open",
                                                "params": {}, "size": 3}}))
    with pytest.raises(BadInput, match="was run with population"):
        check_out(spec, tmp_path, True, 2)
    (tmp_path / "lineage.jsonl").write_text('{"member": "m0"}\n')
    with pytest.raises(BadInput, match="lineage.jsonl:1: not a lineage event"):
        LineageLog(tmp_path / "lineage.jsonl")
