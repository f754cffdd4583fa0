"""PBT's explore (popbased.population.explore): EvoTorch operators on normalised genes, within
bounds, seeded."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from popbased.population.explore import denormalize, explore, normalize
from popbased.population.spec import Gene


GENES = (
    Gene("lr", (1e-4, 1e-3), (1e-5, 1e-2), "log"),
    Gene("gamma", (0.98, 0.995), (0.9, 0.999), "one_minus_log"),
    Gene("epochs", (2, 2), (1, 8), "linear", integer=True),
    Gene("zapped", (-0.2, 0.0), (-1.0, 0.0)),
    Gene("reward", (1.0, 1.0), None),
)


def values_in(gene):
    low, high = gene.bounds
    return st.floats(min_value=low, max_value=high, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(lr=values_in(GENES[0]), gamma=values_in(GENES[1]), epochs=st.integers(1, 8),
       zapped=values_in(GENES[3]), seed=st.integers(0, 2**31 - 1),
       stdev=st.floats(0.0, 5.0), resample=st.floats(0.0, 1.0))
def test_bounds_always_hold(lr, gamma, epochs, zapped, seed, stdev, resample):
    values = {"lr": lr, "gamma": gamma, "epochs": epochs, "zapped": zapped, "reward": 1.0}
    new, changes = explore(GENES, values, seed=seed, stdev=stdev, resample_probability=resample)
    for gene in GENES[:4]:
        assert gene.bounds[0] <= new[gene.name] <= gene.bounds[1], (gene.name, new[gene.name])
    assert new["epochs"] == int(new["epochs"]) and new["reward"] == 1.0
    assert set(changes) <= {"lr", "gamma", "epochs", "zapped"}
    for name, (old, value, how) in changes.items():
        assert old == values[name] and value == new[name] and how


def test_explore_is_deterministic_and_moves_values():
    values = {"lr": 3e-4, "gamma": 0.99, "epochs": 2, "zapped": -0.1, "reward": 1.0}
    a = explore(GENES, values, seed=7)
    assert a == explore(GENES, values, seed=7)
    assert a != explore(GENES, values, seed=8)
    assert a[1]  # something changed


@pytest.mark.parametrize("gene", GENES[:4])
def test_normalize_round_trip(gene):
    for u in (0.0, 0.25, 0.5, 1.0):
        value = denormalize(gene, u)
        if not gene.integer:
            assert normalize(gene, value) == pytest.approx(u, abs=1e-9)
    assert denormalize(gene, -3.0) == gene.bounds[0] and denormalize(gene, 3.0) == gene.bounds[1]


def test_log_scales_move_by_ratio():
    lr = GENES[0]
    u = normalize(lr, 1e-3)
    step = (math.log(1e-2) - math.log(1e-5)) * 0.1
    assert denormalize(lr, u + 0.1) == pytest.approx(1e-3 * math.exp(step))
    gamma = GENES[1]
    assert denormalize(gamma, normalize(gamma, 0.99)) == pytest.approx(0.99)


@settings(max_examples=40, deadline=None)
@given(lr=values_in(GENES[0]), other_lr=values_in(GENES[0]), zapped=values_in(GENES[3]),
       other_zapped=values_in(GENES[3]), seed=st.integers(0, 2**31 - 1), eta=st.floats(0.0, 50.0))
def test_bounds_hold_after_cross_over(lr, other_lr, zapped, other_zapped, seed, eta):
    values = {"lr": lr, "gamma": 0.99, "epochs": 2, "zapped": zapped, "reward": 1.0}
    partner = {"lr": other_lr, "gamma": 0.95, "epochs": 4, "zapped": other_zapped, "reward": 1.0}
    new, changes = explore(GENES, values, seed=seed, partner=partner, eta=eta)
    for gene in GENES[:4]:
        assert gene.bounds[0] <= new[gene.name] <= gene.bounds[1], (gene.name, new[gene.name])
    assert new == explore(GENES, values, seed=seed, partner=partner, eta=eta)[0]  # seeded
    assert all(how.startswith(("sbx", "resample")) for _, _, how in changes.values())
