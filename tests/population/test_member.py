"""PBT members (popbased.population.member): clones get the donor's weights, optimizer and
values exactly and independently; perturbed values are the ones trained with."""

import numpy as np
import pytest

from popbased.population.member import initial_members
from popbased.ppo.config import NetConfig

from conftest import ACTIONS, equal_states, make_batch, make_members, member_state, tiny_spec


def test_clone_gets_donor_weights_optimizer_and_values_exactly_and_independently():
    spec = tiny_spec()
    members = make_members(spec)
    donor, clone = members["m2"], members["m0"]
    donor_before = member_state(donor)
    clone.copy_from(donor, generation=1)
    assert equal_states(member_state(clone), donor_before)
    assert clone.values == donor.values and clone.learner.config == donor.learner.config
    assert clone.learner.shaping == donor.learner.shaping
    assert clone.learner.uid != donor.learner.uid  # its old rollouts are never learned from
    assert (clone.parent, clone.birth_generation, clone.donors) == ("m2", 1, [(1, "m2")])
    # no shared tensors: training the clone leaves the donor's weights and Adam state alone
    clone.learner.update(make_batch(seed=9, member="m0"))
    assert equal_states(member_state(donor), donor_before)
    assert not equal_states(member_state(clone), donor_before)


def test_perturbed_values_are_the_ones_trained_with():
    spec = tiny_spec()
    member = make_members(spec)["m0"]
    member.apply({"lr": 3.3e-3, "shaping.reward": -0.5, "shaping.others_reward": 0.7})
    assert member.learner.config.lr == 3.3e-3
    assert member.learner.shaping["reward"] == -0.5 and member.learner.shaping["others_reward"] == 0.7
    stats = member.learner.update(make_batch(seed=4))
    assert stats["lr"] == 3.3e-3
    assert all(g["lr"] == 3.3e-3 for g in member.learner.optimizer.param_groups)
    member.apply({**member.values, "adam_eps": 1e-3})  # an evolved Adam epsilon reaches Adam
    assert all(g["eps"] == 1e-3 for g in member.learner.optimizer.param_groups)
    batch = make_batch(seed=4)
    expected = (batch.rewards[..., 0] * -0.5 + batch.rewards[..., 3] * 0.7).mean()
    assert stats["shaped_reward_per_step"] == pytest.approx(float(expected))
    assert stats["harvest_per_step"] == pytest.approx(float(batch.rewards[..., 0].mean()))  # unshaped


def test_genes_override_the_learners_weights_per_component():
    member = make_members(tiny_spec())["m1"]
    member.learner.shaping = {"reward": 1.0, "farmer": 1.0}
    member.apply({"lr": 1e-3, "shaping.farmer": 3.0, "shaping.zapped": 0.0})
    assert member.learner.shaping == {"reward": 1.0, "farmer": 3.0, "zapped": 0.0}


def test_initial_members_take_the_base_weights_and_their_genes():
    spec = tiny_spec()
    members = initial_members(spec, ACTIONS, {"reward": 2.0, "zapped": -0.5}, obs_size=11,
                              net=NetConfig(mlp=(16,)), device="cpu",
                              rng=np.random.default_rng(0), seed=0)
    for member in members.values():
        assert member.learner.shaping == {"reward": 1.0, "zapped": -0.5,  # the gene's init
                                          "others_reward": member.values["shaping.others_reward"]}


def test_grid_genes_start_evenly_spaced_across_their_range_and_draw_nothing():
    import copy
    from popbased.population.spec import parse
    from conftest import TINY

    raw = copy.deepcopy(TINY)
    raw["population"]["size"] = 3
    raw["shaping"]["zapped"] = {"init": [-1.0, 0.0], "grid": True}
    raw["evolve"]["lr"] = {"init": [1e-4, 1e-2], "bounds": [1e-5, 1e-1], "scale": "log", "grid": True}
    spec = parse(raw, "grid.toml")

    def start(seed):
        members = initial_members(spec, ACTIONS, {"reward": 1.0}, obs_size=11,
                                  net=NetConfig(mlp=(16,)), device="cpu",
                                  rng=np.random.default_rng(seed), seed=0)
        return [m.values for m in members.values()]

    values = start(0)
    assert [v["shaping.zapped"] for v in values] == [-1.0, -0.5, 0.0]
    assert [v["lr"] for v in values] == pytest.approx([1e-4, 1e-3, 1e-2])  # on the log scale
    assert [m for m in start(1)] != values  # the drawn genes follow the seed ...
    assert [v["shaping.zapped"] for v in start(1)] == [-1.0, -0.5, 0.0]  # ... the grid does not
