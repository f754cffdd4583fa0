"""Reward-shaping weights (popbased.ppo.shaping)."""

import numpy as np
import pytest

from popbased.errors import BadInput
from popbased.ppo import shaping


def test_shaping_weights():
    components = ("reward", "zap_hits", "zapped", "others_reward")
    r = np.array([[1.0, 2.0, 1.0, 3.0]], dtype=np.float32)
    assert shaping.shaped(r, {"reward": 1.0, "zapped": -0.5, "others_reward": 0.1}, components)[0] \
        == pytest.approx(1.0 - 0.5 + 0.3)
    assert shaping.default_weights(components) == {"reward": 1.0}
    assert shaping.default_weights(components + ("apples_in_view", "farmer"))["farmer"] == 1.0
    with pytest.raises(BadInput, match="unknown reward component 'farmer'"):
        shaping.validate({"farmer": 1.0}, components)
    with pytest.raises(BadInput, match="finite"):
        shaping.validate({"reward": float("nan")}, components)


def test_given_weights_override_the_defaults_per_component():
    plain = ("reward", "zap_hits", "zapped", "others_reward", "zaps_fired", "last_apples")
    farmer = plain + ("apples_in_view", "farmer")
    assert shaping.effective_weights(None, plain) == {"reward": 1.0}
    assert shaping.effective_weights({}, farmer) == {"reward": 1.0, "farmer": 1.0}
    # a weight for another component is added; the harvest stays
    assert shaping.effective_weights({"last_apples": -3}, plain) == {"reward": 1.0, "last_apples": -3.0}
    assert shaping.effective_weights({"zapped": -0.2}, farmer) == {"reward": 1.0, "farmer": 1.0,
                                                                   "zapped": -0.2}
    # a default is overridden, and 0 drops it (listed at 0)
    assert shaping.effective_weights({"farmer": 5, "reward": 0.5}, farmer) == {"reward": 0.5,
                                                                               "farmer": 5.0}
    dropped = shaping.effective_weights({"reward": 0, "others_reward": 1}, plain)
    assert dropped == {"reward": 0.0, "others_reward": 1.0}
    r = np.array([[2.0, 0.0, 0.0, 3.0, 0.0, 0.0]], dtype=np.float32)
    assert shaping.shaped(r, dropped, plain)[0] == pytest.approx(3.0)
    # a base other than the defaults (a league's population), checked without components
    assert shaping.effective_weights({"farmer": 2}, base={"reward": 1, "farmer": 0}) == \
        {"reward": 1.0, "farmer": 2.0}
    with pytest.raises(TypeError):
        shaping.effective_weights({"reward": 1})


def test_unknown_or_bad_given_weights_are_one_line_bad_input():
    plain = ("reward", "zap_hits", "zapped", "others_reward")
    for given, expected in (({"farmer": 1}, "unknown reward component 'farmer'"),
                            ({"apples": 1}, "unknown reward component 'apples'"),
                            ({"reward": "x"}, "not a number"),
                            ({"zapped": float("inf")}, "must be finite")):
        with pytest.raises(BadInput, match=expected) as err:
            shaping.effective_weights(given, plain, where="--shaping")
        assert str(err.value).startswith("--shaping: ") and "\n" not in str(err.value)


def test_apples_in_view_is_counted_where_a_weight_or_the_variant_needs_it():
    assert not shaping.counts_apples_in_view(["reward", "last_apples"])
    assert shaping.counts_apples_in_view(["reward", "apples_in_view"])
    assert shaping.counts_apples_in_view(["farmer"])
    assert shaping.counts_apples_in_view([], farmer_weight=0.5)
    assert shaping.needs_apples_in_view({"reward": 1, "apples_in_view": 0.1})
    assert not shaping.needs_apples_in_view({"reward": 1, "farmer": 0})
