"""A population's reward weights in a league's arena (popbased.league.arena): the defaults,
the arena's own farmer bonus off, its variant's farmer bonus on apples in view; its shaping
genes override them per component."""

import numpy as np

from popbased.league import arena
from popbased.population.member import initial_members
from popbased.population.spec import load
from popbased.ppo.config import NetConfig
from popbased.substrates import resolve

from conftest import POPS


def test_base_weights_swap_the_arenas_farmer_bonus_for_the_populations_own():
    farmer, plain = load(POPS / "farmer.toml"), load(POPS / "open.toml")
    components, apples_in_view = arena.arena_components(resolve("farmer", {}), [farmer, plain])
    assert apples_in_view is True and "farmer" in components
    weight = resolve("farmer", {}).farmer_weight
    assert arena.base_weights(farmer, components) == {"reward": 1.0, "farmer": 0.0,
                                                      "apples_in_view": weight}
    assert arena.base_weights(plain, components) == {"reward": 1.0, "farmer": 0.0}
    components, _ = arena.arena_components(resolve("open", {}), [plain])
    assert "farmer" not in components and arena.base_weights(plain, components) == {"reward": 1.0}


def test_members_genes_override_the_base_weights():
    farmer = load(POPS / "farmer.toml")
    components, _ = arena.arena_components(resolve("farmer", {}), [farmer])
    base = arena.base_weights(farmer, components)
    members = initial_members(farmer, arena.action_names(farmer), base, obs_size=11,
                              net=NetConfig(mlp=(16,)), device="cpu",
                              rng=np.random.default_rng(0), seed=0)
    for member in members.values():
        genes = {k.removeprefix("shaping."): v for k, v in member.values.items()
                 if k.startswith("shaping.")}
        assert "farmer" in genes and member.learner.shaping == {**base, **genes}
