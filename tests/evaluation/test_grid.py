"""Evaluation grids (popbased.evaluation.grid): sweeps, axes, points, bad grids."""

import pytest

from popbased.errors import BadInput
from popbased.evaluation import grid


def test_grids():
    assert grid.SWEEPS["regrowth"][1][0] == "0.01" and len(grid.SWEEPS["regrowth"][1]) == 9
    assert grid.parse_axes(["regrowth=0.1, 1", "players=7"]) == {"regrowth": ["0.1", "1"], "players": ["7"]}
    points = grid.points("open", {"regrowth": ["0.1", "1"], "zap_cooldown": ["1", "2"]}, {"players": "5"})
    assert len(points) == 4 and points[0] == {"players": "5", "regrowth": "0.1", "zap_cooldown": "1"}
    for bad, text in ((["regrowth="], "empty grid"), (["regrowth"], "key=v1,v2"),
                      (["a=1", "a=2"], "given twice")):
        with pytest.raises(BadInput, match=text):
            grid.parse_axes(bad)
    with pytest.raises(BadInput, match="regrowth=-1"):
        grid.points("open", {"regrowth": ["1", "-1"]})
    with pytest.raises(BadInput, match="both swept and fixed"):
        grid.points("open", {"regrowth": ["1"]}, {"regrowth": "2"})
