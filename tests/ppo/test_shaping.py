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
