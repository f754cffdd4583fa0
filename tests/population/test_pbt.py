"""PBT: members, clones, fitness and its noise test, exploit, the PBT step, and real runs."""

import copy
import dataclasses
import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from popbased.population import exploit
from popbased.population.fitness import FitnessTracker, better, dominates, scores
from popbased.population.lineage import LineageEvent, LineageLog, replay
from popbased.population.member import Member
from popbased.population.pbt import step
from popbased.population.run import Driver, read_state, run, train_config
from popbased.population.spec import PBTConfig, parse
from popbased.ppo.config import NetConfig, PPOConfig
from popbased.ppo.learner import Learner
from conftest import ACTIONS, COMPONENTS, make_batch

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "population": {"name": "tiny", "substrate": "no_zap", "size": 3, "steps_per_generation": 600},
    "ppo": {"epochs": 1, "minibatch_size": 200},
    "evolve": {"lr": {"init": [1e-4, 1e-3], "bounds": [1e-5, 1e-2], "scale": "log"}},
    "shaping": {"reward": {"init": 1.0, "bounds": [-1.0, 1.0]},
                "others_reward": {"init": [0.0, 0.2], "bounds": [0.0, 1.0]}},
}


def tiny_spec(**pbt):
    raw = copy.deepcopy(TINY)
    raw["pbt"] = pbt
    return parse(raw, "tiny.toml")


def make_members(spec, seed=0):
    members = {}
    for i in range(spec.size):
        learner = Learner(f"m{i}", 11, ACTIONS, net=NetConfig(mlp=(32,)),
                          config=PPOConfig(minibatch_size=40), shaping_weights={"reward": 1.0},
                          device="cpu", seed=seed + i)
        member = Member(f"m{i}", spec.name, learner,
                        {"lr": 1e-4 * (i + 1), "shaping.reward": 1.0, "shaping.others_reward": 0.1})
        member.apply()
        learner.update(make_batch(seed=i, member=f"m{i}"))  # Adam has moments to copy
        members[member.id] = member
    return members


def tracker_with(samples: dict[str, list[float]]) -> FitnessTracker:
    tracker = FitnessTracker(samples, COMPONENTS)
    for m, values in samples.items():
        tracker.samples[m]["return"] = list(values)
    return tracker


def state(member: Member):
    return (copy.deepcopy(member.learner.policy.state_dict()),
            copy.deepcopy(member.learner.optimizer.state_dict()))


def equal_states(a, b) -> bool:
    (wa, oa), (wb, ob) = a, b
    if any(not torch.equal(wa[k], wb[k]) for k in wa):
        return False
    for key in oa["state"]:
        for name, value in oa["state"][key].items():
            if not torch.equal(torch.as_tensor(value), torch.as_tensor(ob["state"][key][name])):
                return False
    return oa["param_groups"] == ob["param_groups"]


# ------------------------------------------------------------------ members and clones
def test_clone_gets_donor_weights_optimizer_and_values_exactly_and_independently():
    spec = tiny_spec()
    members = make_members(spec)
    donor, clone = members["m2"], members["m0"]
    donor_before = state(donor)
    clone.copy_from(donor, generation=1)
    assert equal_states(state(clone), donor_before)
    assert clone.values == donor.values and clone.learner.config == donor.learner.config
    assert clone.learner.shaping == donor.learner.shaping
    assert clone.learner.uid != donor.learner.uid  # its old rollouts are never learned from
    assert (clone.parent, clone.birth_generation, clone.donors) == ("m2", 1, [(1, "m2")])
    # no shared tensors: training the clone leaves the donor's weights and Adam state alone
    clone.learner.update(make_batch(seed=9, member="m0"))
    assert equal_states(state(donor), donor_before)
    assert not equal_states(state(clone), donor_before)


def test_perturbed_values_are_the_ones_trained_with():
    spec = tiny_spec()
    member = make_members(spec)["m0"]
    member.apply({"lr": 3.3e-3, "shaping.reward": -0.5, "shaping.others_reward": 0.7})
    assert member.learner.config.lr == 3.3e-3
    assert member.learner.shaping["reward"] == -0.5 and member.learner.shaping["others_reward"] == 0.7
    stats = member.learner.update(make_batch(seed=4))
    assert stats["lr"] == 3.3e-3
    assert all(g["lr"] == 3.3e-3 for g in member.learner.optimizer.param_groups)
    batch = make_batch(seed=4)
    expected = (batch.rewards[..., 0] * -0.5 + batch.rewards[..., 3] * 0.7).mean()
    assert stats["shaped_reward_per_step"] == pytest.approx(float(expected))


# ------------------------------------------------------------------ fitness and exploit
def test_noise_test_needs_a_meaningful_gap():
    rng = np.random.default_rng(0)
    noisy_a, noisy_b = [30, 10, 45, 25, 50, 15], [28, 12, 40, 30, 20, 35]  # means 29.2 vs 27.5
    assert not better(noisy_a, noisy_b, 0.95, 2)[0]
    assert better(noisy_a, noisy_b, 0.0, 2)[0]  # confidence 0: any gap of means
    assert better(rng.normal(30, 5, 8), np.zeros(8), 0.95, 2)[0]
    ok, why = better([40.0], [0.0], 0.95, 2)
    assert not ok and "too few samples" in why
    assert not better(np.zeros(5), np.ones(5), 0.95, 2)[0]


def test_pareto_fitness_ranks_fronts():
    means = {"a": {"return": 30, "sustainability": 1.0, "equality": 0.9},
             "b": {"return": 20, "sustainability": 0.5, "equality": 0.8},   # dominated by a
             "c": {"return": 40, "sustainability": 0.0, "equality": 0.5}}   # front 0 with a
    s = scores(means, "pareto")
    assert s["a"] > s["b"] and s["c"] > s["b"]
    assert dominates(means["a"], means["b"]) and not dominates(means["a"], means["c"])
    assert scores(means, "equality") == {"a": 0.9, "b": 0.8, "c": 0.5}


@pytest.mark.parametrize("selection", ["truncation", "tournament"])
def test_decisions_come_weakest_first_and_donors_rank_higher(selection):
    config = PBTConfig(selection=selection, confidence=0.0)
    fitness = {f"m{i}": float(i) for i in range(8)}
    samples = {m: {"return": [v, v + 1, v + 2]} for m, v in fitness.items()}
    decisions = exploit.choose(config, fitness, {}, samples, list(fitness), np.random.default_rng(1))
    assert [d.member for d in decisions] == [f"m{i}" for i in range(8)]
    for d in decisions:
        if d.donor is not None:
            assert fitness[d.donor] > fitness[d.member]
    if selection == "truncation":  # ceil(0.25 * 8) = 2 in the bottom group
        assert {d.member for d in decisions if d.donor} == {"m0", "m1"}
        assert all(d.donor in ("m6", "m7") for d in decisions if d.donor)


# ------------------------------------------------------------------ the PBT step
def test_pbt_step_replaces_the_clearly_worse_member_and_is_seeded():
    spec = tiny_spec(crossover=True)
    samples = {"m0": [0.0] * 9, "m1": [20, 35, 28, 30, 25, 31, 27, 33, 29],
               "m2": [40, 52, 45, 49, 38, 47, 51, 44, 46]}
    runs = []
    for _ in range(2):
        members = make_members(spec)
        donor_state = state(members["m2"])
        events = step(spec, members, tracker_with(samples), list(members), np.random.default_rng(7))
        runs.append((members, events))
        kinds = [(e.member, e.kind) for e in events]
        assert kinds == [("m0", "exploit"), ("m0", "explore"), ("m1", "keep"), ("m2", "keep")]
        assert events[0].donor == "m2" and "p=" in events[0].reason
        assert equal_states(state(members["m0"])[:1] + (donor_state[1],), donor_state)
        for gene in spec.all_genes():
            if gene.bounds:
                assert gene.bounds[0] <= members["m0"].values[gene.name] <= gene.bounds[1]
        assert members["m0"].learner.config.lr == members["m0"].values["lr"]
    (a, ea), (b, eb) = runs
    assert [vars(e) for e in ea] == [vars(e) for e in eb]  # same seed, same decisions and values
    assert a["m0"].values == b["m0"].values


def test_lineage_replay_gives_the_values_trained_with(tmp_path):
    spec = tiny_spec()
    members = make_members(spec)
    log = LineageLog(tmp_path / "lineage.jsonl")
    for m, member in members.items():
        log.append(LineageEvent(m, 0, 0, "init", dict(member.values)))
    rng = np.random.default_rng(3)
    samples = {"m0": [0.0] * 9, "m1": [20.0 + i for i in range(9)], "m2": [40.0 + i for i in range(9)]}
    for _ in range(3):
        for event in step(spec, members, tracker_with(samples), list(members), rng):
            log.append(event)
    reread = LineageLog(tmp_path / "lineage.jsonl")
    for m, member in members.items():
        assert replay(reread.events, m) == member.values
    assert reread.ancestry("m0") == ["m2", "m2", "m2"]


# ------------------------------------------------------------------ real runs (Ray, Melting Pot)
def _tiny_run(tmp_path, name, generations, **kwargs):
    # ~14 fitness samples (100-step seat fragments) per member per generation: enough for
    # the noise test to separate a member that never harvests from ones that do
    spec = dataclasses.replace(tiny_spec(), steps_per_generation=1400)
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


def test_pbt_cli_runs_and_resumes(ray_local, tmp_path):
    out = tmp_path / "cli"
    base = [sys.executable, "-m", "popbased.cli", "pbt", str(ROOT / "populations" / "no_zap.toml"),
            "--steps-per-generation", "400", "--workers", "1", "--envs-per-worker", "1",
            "--rollout-length", "100", "--max-episode-steps", "100", "--out", str(out),
            "--ray-address", ray_local["address"]]
    run = functools.partial(subprocess.run, capture_output=True, text=True, cwd=tmp_path)  # ./mlflow.db
    first = run(base + ["--generations", "1"], timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "generation 1/1" in first.stderr and "best member" in first.stderr
    again = run(base + ["--generations", "1"], timeout=120)
    assert again.returncode == 2 and "--resume" in again.stderr
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
    history = client.get_metric_history(members["m0"].info.run_id, "fitness")
    assert sorted(h.step for h in history) == [1, 2]
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
        driver = Driver(spec, config, 1, None, None, None)
        made.append(driver._new_members(ACTIONS, {"reward": 1.0}))
    a, b = made
    for m in a:
        assert a[m].values == b[m].values
        assert equal_states(state(a[m]), state(b[m]))
    assert a["m0"].values != a["m1"].values


@pytest.mark.parametrize("mode, expected", [("sync", []), ("async", ["m1", "m2"])])
def test_sync_waits_for_everyone_async_steps_whoever_is_ready(tmp_path, mode, expected):
    spec = tiny_spec(mode=mode)
    config = train_config(spec, 1, device="cpu", out=str(tmp_path))
    driver = Driver(spec, config, 1, None, None, None)
    driver.members = driver._new_members(ACTIONS, {"reward": 1.0})
    for m, steps in zip(driver.members.values(), (599, 600, 900)):
        m.trained_steps = steps
    assert driver._ready() == expected
    driver.members["m0"].trained_steps = 600
    assert driver._ready() == ["m0", "m1", "m2"]


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
