"""Fast env views vs our downsampled Melting Pot views on states recorded in real episodes."""

import pytest

from popbased.env.fast import capture, checks
from popbased.env.fast.maps import build_map
from popbased.substrates import resolve_params

CASES = [("commons_harvest__open", {}, 11), ("commons_harvest__closed", {}, 12),
         ("commons_harvest__partnership", {}, 13), ("private_property", {}, 14),
         ("no_zap", {}, 15), ("open", {"players": "3"}, 16), ("open", {"players": "16"}, 17),
         ("private_property", {"players": "10"}, 18)]


@pytest.mark.parametrize("name,params,seed", CASES)
def test_views_bit_for_bit(name, params, seed):
    commons = resolve_params(name, params)
    game = build_map(commons)
    steps = capture.record(commons, game, 150, seed)
    result = checks.views(game, capture.validation_spec(commons).action_table, steps)
    assert result["states"] == 150
    assert result["total_mismatches"] == 0, result["mismatches"]
    assert result["apples_in_view_mismatches"] == 0
    seen = result["cells"]
    for kind in ("floor", "wall", "black", "apple_on_grass", "self_on_floor"):
        assert seen.get(kind, 0) > 0, (kind, seen)
    if name == "commons_harvest__open":  # random play zaps: beams, removed players, others
        for kind in ("beam", "removed_player_view", "other_avatar_on_floor", "grass"):
            assert seen.get(kind, 0) > 0, (kind, seen)


def test_a_wrong_state_is_caught():
    """The check can fail: a turned avatar in the loaded state changes views."""
    commons = resolve_params("commons_harvest__open")
    game = build_map(commons)
    steps = capture.record(commons, game, 20, 3)
    for step in steps[1:]:
        step.state.orient = (step.state.orient + 1) % 4
    result = checks.views(game, capture.validation_spec(commons).action_table, steps)
    assert result["total_mismatches"] > 1000
