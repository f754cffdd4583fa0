"""Training across arenas (popbased.env.arenas, popbased.env.fast.mixed): arena tables checked
in one line; worlds split by weight; a mixed batch steps each arena's worlds exactly as a
FastBatchedEnv of that arena alone would (the fast env that the validation against Melting Pot
covers); the device collector and Ray's rollout workers (on Melting Pot, one arena per worker)
label every episode with its arena; a PBT population file with [arenas] trains from the CLI."""

import json

import numpy as np
import pytest
import torch

from popbased.env import arenas, engines
from popbased.env.fast.env import FastBatchedEnv
from popbased.env.fast.mixed import MixedFastEnv
from popbased.errors import BadInput
from popbased.rollout.device import DeviceCollector

from conftest import popbased

THREE = {"open": {"substrate": "open", "weight": 2}, "closed": {"substrate": "commons_harvest__closed"},
         "slow": {"substrate": "open", "params": {"regrowth": 0.3}}}


def _pairs(raw=THREE, engine=engines.FAST):
    parsed = arenas.parse(raw, "t:")
    return list(zip(parsed, arenas.check(parsed, engine, 11, None, "t:")))


def test_worlds_split_by_weight_each_arena_at_least_one():
    assert arenas.allocate(8, [2, 1, 1]) == [4, 2, 2]
    assert arenas.allocate(3, [100, 1, 1]) == [1, 1, 1]
    assert arenas.allocate(10, [1, 1, 1]) == [4, 3, 3]
    with pytest.raises(BadInput, match="2 worlds for 3 arenas"):
        arenas.allocate(2, [1, 1, 1])


@pytest.mark.parametrize("raw, message", [
    ({"a": {"substrate": "open", "weight": 0}}, r"\[arenas.a\] weight: 0; allowed: a number > 0"),
    ({"a": {"substrate": "open", "maps": 1}}, r"unknown key\(s\) maps"),
    ({"a": {"params": {}}}, "needs 'substrate'"),
    ({"a": {"substrate": "opn"}}, r"\[arenas.a\]: .*opn"),
    ({"a": "open"}, r"expected \[arenas.NAME\] tables"),
    ({"a+b": {"substrate": "open"}}, r"\[arenas.a\+b\]: the name may use letters, digits"),
])
def test_bad_arena_tables_are_one_line(raw, message):
    with pytest.raises(BadInput, match=message) as err:
        arenas.parse(raw, "t:")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("other, what", [("no_zap", "actions"), ("farmer", "reward components")])
def test_arenas_must_share_actions_and_reward_components(other, what):
    with pytest.raises(BadInput, match=f"its {what} differ from \\[arenas.a\\]'s"):
        _pairs({"a": {"substrate": "open"}, "b": {"substrate": other}})


def test_arenas_must_match_the_runs_own_substrate():
    parsed = arenas.parse({"a": {"substrate": "open"}}, "t:")
    home = arenas.Arena("home", "open", {"social": True}).spec()
    with pytest.raises(BadInput, match="its reward components differ from the run's substrate's.*repeat social"):
        arenas.check(parsed, engines.FAST, 11, None, "t:", home=home)
    assert len(arenas.check(parsed, engines.FAST, 11, None, "t:", home=arenas.Arena("h", "open").spec())) == 1


def test_a_mixed_batch_steps_each_arena_as_it_would_alone(device):
    pairs = _pairs()
    mixed = MixedFastEnv(pairs, 8, seed=3, device=device, max_episode_steps=60)
    assert mixed.worlds == [4, 2, 2] and mixed.arena_of_env() == ["open"] * 4 + ["closed"] * 2 + ["slow"] * 2
    alone = [FastBatchedEnv(spec, n, seed=3 * 1009 + k, device=device, max_episode_steps=60)
             for k, ((_, spec), n) in enumerate(zip(pairs, mixed.worlds))]
    rgb, ready = mixed.reset_tensors()
    parts = [env.reset_tensors() for env in alone]
    assert torch.equal(rgb, torch.cat([p[0] for p in parts]))
    rng = np.random.default_rng(0)
    ended = []
    for _ in range(150):
        actions = torch.from_numpy(rng.integers(0, 8, mixed.num_seats)).to(device)
        out = mixed.step_tensors(actions)
        mine = [env.step_tensors(actions[lo:hi]) for env, lo, hi in
                zip(alone, mixed.seat_offsets[:-1], mixed.seat_offsets[1:])]
        assert torch.equal(out.rgb, torch.cat([m.rgb for m in mine]))
        assert torch.equal(out.rewards, torch.cat([m.rewards for m in mine]))
        assert torch.equal(out.done, torch.cat([m.done for m in mine]))
        ended += out.episodes
    assert len(ended) == 16  # 8 worlds x 2 episodes of 60 steps
    assert sorted((e["env"], e["arena"]) for e in ended) == sorted(
        (b, mixed.arena_of_env()[b]) for b in range(8) for _ in range(2))
    # the maps differ: the closed map's views are not the open map's
    assert not torch.equal(out.rgb[:7], out.rgb[4 * 7:5 * 7])


def test_the_device_collector_labels_each_episode_with_its_arena():
    pairs = _pairs()
    collector = DeviceCollector(pairs[0][1], worlds=4, seed=1, max_episode_steps=20, arenas=pairs)
    assert collector.num_seats == 28
    fragment = collector.collect({}, [["random"] * 28], 25)
    collector.close()
    assert sorted(e["arena"] for e in fragment.episodes) == ["closed", "open", "open", "slow"]


@pytest.mark.slow
def test_ray_workers_on_melting_pot_each_play_one_arena(ray_local):
    from popbased.rollout.collector import Collector

    raw = {"open": {"substrate": "open"}, "closed": {"substrate": "commons_harvest__closed"}}
    pairs = _pairs(raw, engines.MELTINGPOT)
    collector = Collector(pairs[0][1], workers=2, envs_per_worker=1, max_episode_steps=20,
                          env_backend="inline", worker_cpus=0.5, arenas=pairs)
    try:
        fragment = collector.collect({}, [["random"] * 7, ["random"] * 7], 25)
    finally:
        collector.close()
    assert sorted(e["arena"] for e in fragment.episodes) == ["closed", "open"]


def test_a_population_trains_across_arenas_from_the_cli(tmp_path):
    path = tmp_path / "across.toml"
    path.write_text('[population]\nname = "across"\nsubstrate = "open"\nsize = 2\nsteps_per_generation = 1400\n'
                    '[arenas.open]\nsubstrate = "open"\n[arenas.closed]\nsubstrate = "commons_harvest__closed"\n')
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = popbased(tmp_path, "pbt", path, "--generations", 1, "--workers", 1, "--envs-per-worker", 4,
                    "--out", "run", "--tracking-uri", uri)
    assert done.returncode == 0, done.stderr[-3000:]
    import mlflow

    client = mlflow.MlflowClient(uri)
    [run] = client.search_runs([client.get_experiment_by_name("pbt-across").experiment_id],
                               "tags.mlflow.runName = 'run'")
    assert json.loads(run.data.params["arenas"]) == {
        "open": {"substrate": "open", "params": {}, "weight": 1.0},
        "closed": {"substrate": "commons_harvest__closed", "params": {}, "weight": 1.0}}
    bad = tmp_path / "bad.toml"
    bad.write_text(path.read_text() + '[arenas.nz]\nsubstrate = "no_zap"\n')
    wrong = popbased(tmp_path, "pbt", bad, "--generations", 1, "--out", "run2", "--tracking-uri", uri)
    assert wrong.returncode == 2 and "its actions differ" in wrong.stderr
    assert not (tmp_path / "run2").exists()
