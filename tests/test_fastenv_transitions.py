"""Fast steps from recorded real states with the recorded actions vs Melting Pot's next states."""

import pytest

from popbased.env.fast import capture, checks, stat_checks
from popbased.env.fast.maps import build_map
from popbased.substrates import resolve_params

CASES = [("commons_harvest__open", {}, 300, 21), ("commons_harvest__closed", {}, 300, 22),
         ("open", {"regrowth": "100"}, 250, 23), ("zap_cooldown", {"zap_cooldown": "1"}, 250, 24),
         ("private_property", {}, 200, 25), ("open", {"players": "16"}, 150, 26)]


@pytest.mark.parametrize("name,params,steps,seed", CASES)
def test_uncontended_transitions_are_identical(name, params, steps, seed):
    commons = resolve_params(name, params)
    game = build_map(commons)
    recorded = capture.record(commons, game, steps, seed)
    result = checks.transitions(game, capture.validation_spec(commons).action_table, recorded)
    assert result["compared_steps"] > 0.6 * result["steps"]  # 16 players contend often
    assert result["mismatched_step_count"] == 0, result["mismatched_steps"]
    assert all(v == 1.0 for v in result["agreement"].values())
    events = result["events"]
    assert events["apples_eaten"] > 0
    if name != "private_property":
        assert events["zap_hits"] > 0 and events["respawns"] > 0
    if params.get("regrowth") == "100":
        assert events["sprouts"] > 10


@pytest.mark.slow
def test_contested_cells_and_swaps():
    """Two players stepping into one cell: each wins about half, never both; swaps never."""
    result = stat_checks.contention(steps=700, seed=5, replays=20)
    real, fast = result["melting_pot"], result["fast"]
    assert "both" not in real["contest"] and "both" not in fast["contest"]
    assert set(real["swap"]) == {"neither"} and real["swap"]["neither"] > 50
    assert result["melting_pot_test"]["decided"] > 80
    assert result["melting_pot_test"]["binomial_p_value_vs_half"] > 1e-3
    assert result["fast_test"]["binomial_p_value_vs_half"] > 1e-3
    assert result["fisher_p_value_mp_vs_fast"] > 1e-3
