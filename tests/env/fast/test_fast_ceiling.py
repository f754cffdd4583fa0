"""The sustainable harvest ceiling (popbased.env.fast.ceiling) of the open map, against values
computed by hand: two corner patches of 6 apples (3 kept live: two waiting apples with 3 live
neighbours at p = 0.025, one with 2 at p = 0.005) and four diamonds of 13 (5 kept live, the
other 8 with 3+ live neighbours)."""

import pytest

from popbased.env.fast.ceiling import ceiling, patches
from popbased.env.fast.maps import build_map
from popbased.substrates import resolve


def test_open_map_ceiling_matches_the_hand_computed_one():
    game = build_map(resolve("open").params)
    assert sorted(len(p) for p in patches(game)) == [6, 6, 13, 13, 13, 13]
    plain = {len(p.apples): p for p in ceiling(game, cycle=False)}
    assert len(plain[6].skeleton) == 3 and plain[6].rate == pytest.approx(2 * 0.025 + 0.005)
    assert len(plain[13].skeleton) == 5 and plain[13].rate == pytest.approx(8 * 0.025)
    assert sum(p.rate for p in ceiling(game, cycle=False)) == pytest.approx(0.91)
    cycled = sum(p.rate for p in ceiling(game))
    assert cycled == pytest.approx(4 * 8 * 0.025 / 1.025 + 2 * (2 * 0.025 / 1.025 + 0.005 / 1.005))
    # every apple outside a diamond's skeleton has 3+ live neighbours in it
    for patch in ceiling(game):
        if len(patch.apples) == 13:
            for a in set(patch.apples) - set(patch.skeleton):
                assert len(set(game.neighbours[a].tolist()) & set(patch.skeleton)) >= 3
