"""Action maps between variants' action sets (popbased.ppo.actions)."""

import numpy as np
import pytest

from popbased.errors import BadInput
from popbased.ppo.actions import ActionMap

from conftest import ACTIONS


def test_action_map_between_variants():
    open_actions = ACTIONS
    no_zap = ACTIONS[:7]
    small_onto_open = ActionMap(no_zap, open_actions)
    assert small_onto_open.to_arena.tolist() == list(range(7))
    arena_mask = np.ones((2, 8), dtype=bool)
    assert small_onto_open.member_mask(arena_mask).shape == (2, 7)
    big_onto_small = ActionMap(open_actions, tuple(reversed(no_zap)))
    mask = big_onto_small.member_mask(np.ones((1, 7), dtype=bool))
    assert mask[0].tolist() == [True] * 7 + [False]
    assert big_onto_small.to_arena[:7].tolist() == list(reversed(range(7)))
    with pytest.raises(BadInput):
        ActionMap(("FOO",), open_actions)
