"""The colour table against the 8x8 block means of commons_harvest_rules.md, Appendix B
(computed there from the same sprites, checked there against real frames): OpenCV's area
filter rounds each block mean, so every entry is within 0.5 of the table's mean."""

import numpy as np
import pytest

from popbased.env.fast import palette

K_TO_VIEWER = {0: 0, 3: 1, 2: 2, 1: 3}  # background turned k clockwise: viewer (-k) mod 4

STATIC = {
    palette.FLOOR: [(216.25, 201.25, 181.25)] * 4,
    palette.GRASS: [(159.50, 195.62, 102.38)] * 4,
    palette.WALL: [(114.59, 114.59, 114.59)] * 4,
    palette.APPLE_ON_GRASS: [(169.42, 158.92, 95.30), (169.42, 158.92, 95.30),
                             (169.23, 158.72, 95.12), (169.23, 158.72, 95.12)],
    palette.APPLE_ON_FLOOR: [(207.48, 162.64, 148.22), (207.33, 162.48, 148.06),
                             (207.17, 162.33, 147.91), (207.33, 162.48, 148.06)],
}
# (player or None for Self, relative orientation, on grass) -> means for k = 0, 1, 2, 3
AVATARS = {
    (None, 0, False): [(141.50, 153.44, 182.81)] + [(141.66, 153.59, 182.97)] * 3,
    (None, 0, True): [(110.06, 150.77, 138.92)] + [(109.69, 150.36, 138.58)] * 3,
    (0, 2, False): [(146.84, 161.28, 188.75)] + [(147.00, 161.44, 188.91)] * 3,
    (3, 1, True): [(187.08, 140.75, 89.73)] + [(186.70, 140.34, 89.39)] * 3,
    (6, 3, False): [(173.64, 187.47, 132.47)] + [(173.80, 187.62, 132.62)] * 3,
    (5, 2, True): [(168.19, 183.27, 67.52)] + [(167.81, 182.86, 67.17)] * 3,
}


@pytest.mark.parametrize("code", sorted(STATIC))
def test_static_cells(code):
    table = palette.colour_table(7)
    for k, mean in enumerate(STATIC[code]):
        got = table[K_TO_VIEWER[k], code].astype(float)
        assert np.all(np.abs(got - mean) <= 0.5 + 0.006), (palette.kind_name(code), k, got, mean)


@pytest.mark.parametrize("key", sorted(AVATARS, key=str))
def test_avatar_cells(key):
    player, rel, grass = key
    table = palette.colour_table(7)
    for k, mean in enumerate(AVATARS[key]):
        viewer = K_TO_VIEWER[k]
        if player is None:
            code = palette.SELF + int(grass)
        else:
            code = palette.AVATAR + (player * 4 + (rel + viewer) % 4) * 2 + int(grass)
        got = table[viewer, code].astype(float)
        assert np.all(np.abs(got - mean) <= 0.5 + 0.006), (key, k, got, mean)


def test_beam_and_black():
    table = palette.colour_table(7)
    assert (table[:, palette.BLACK] == 0).all()
    assert (table[:, palette.BEAM + palette.FLOOR] == palette.BEAM_COLOUR).all()
