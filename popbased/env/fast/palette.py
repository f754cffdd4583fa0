"""The 11x11 colour of every cell kind, as popbased's Melting Pot path produces it.

Each kind's 8x8 sprite block is composited from Melting Pot's own sprite shapes and
palettes (the config's choices), with the background (floor, grass, wall) turned as
dmlab2d draws it for the viewer's orientation and avatars drawn by their orientation
relative to the viewer; then the blocks go through the same OpenCV area filter as our
Melting Pot views (`popbased.env.instance.downsample`), which gives OpenCV's rounding.

Cell codes (int16, one per world cell; the view gathers them):
  0 black (outside the grid; a removed player's whole view), 1 floor (and dessicated
  grass), 2 grass, 3 wall, 4 live apple on grass, 5 live apple on floor,
  AVATAR + (player * 4 + orientation) * 2 + on_grass, SELF + on_grass (a viewer's own
  cell), and BEAM added to any code for a cell the beam is drawn on.
The table is indexed [viewer orientation, code] -> RGB uint8.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from popbased.substrates import meltingpot_loader

BLACK, FLOOR, GRASS, WALL, APPLE_ON_GRASS, APPLE_ON_FLOOR = 0, 1, 2, 3, 4, 5
AVATAR = 8
MAX_PLAYERS = 64
SELF = AVATAR + MAX_PLAYERS * 8
BEAM = 1024
NUM_CODES = 2 * BEAM
BEAM_COLOUR = (252, 252, 106)
SELF_COLOUR = (50, 100, 200)

KIND_NAMES = {BLACK: "black", FLOOR: "floor", GRASS: "grass", WALL: "wall",
              APPLE_ON_GRASS: "apple_on_grass", APPLE_ON_FLOOR: "apple_on_floor"}


def kind_name(code: int) -> str:
    """A readable name for a cell code (for mismatch reports)."""
    if code >= BEAM:
        return "beam"
    if code >= SELF:
        return "self_on_grass" if (code - SELF) % 2 else "self_on_floor"
    if code >= AVATAR:
        return "other_avatar_on_grass" if (code - AVATAR) % 2 else "other_avatar_on_floor"
    return KIND_NAMES.get(code, f"code{code}")


def _shapes():
    return meltingpot_loader.import_module("utils.substrates.shapes")


def _colors():
    return meltingpot_loader.import_module("utils.substrates.colors")


def sprite(text: str, palette: dict) -> np.ndarray:
    """An ASCII shape -> [8, 8, 4] uint8 RGBA."""
    rows = [r for r in text.strip("\n").split("\n")]
    return np.array([[palette[c] for c in row] for row in rows], dtype=np.uint8)


def over(bottom: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Composites an RGBA sprite with 1-bit alpha (every sprite here) over an RGB block."""
    out = bottom.copy()
    opaque = top[..., 3] > 0
    out[opaque] = top[..., :3][opaque]
    return out


def background_sprites() -> dict[str, np.ndarray]:
    """The floor, grass and wall sprites as Melting Pot's commons_harvest config draws them."""
    shapes = _shapes()
    floor = {"*": (220, 205, 185, 255), "+": (210, 195, 175, 255)}
    grass = {"*": (158, 194, 101, 255), "@": (170, 207, 112, 255)}
    wall = {"*": (95, 95, 95, 255), "&": (100, 100, 100, 255), "@": (109, 109, 109, 255),
            "#": (152, 152, 152, 255)}
    return {"floor": sprite(shapes.GRAINY_FLOOR, floor), "grass": sprite(shapes.GRASS_STRAIGHT, grass),
            "wall": sprite(shapes.WALL, wall)}


def apple_sprite() -> np.ndarray:
    palette = {"x": (0, 0, 0, 0), "*": (214, 88, 88, 255), "#": (194, 79, 79, 255),
               "o": (53, 132, 49, 255), "|": (102, 51, 61, 255)}
    return sprite(_shapes().APPLE, palette)


def avatar_sprites(colour) -> list[np.ndarray]:
    """CUTE_AVATAR's N, E, S, W sprites in `colour`'s palette."""
    shapes = _shapes()
    palette = shapes.get_palette(colour)
    return [sprite(text, palette) for text in shapes.CUTE_AVATAR]


def turned(block: np.ndarray, viewer: int) -> np.ndarray:
    """A rotatable sprite (world orientation N) as drawn for a viewer facing `viewer`:
    sprite orientation (0 - viewer) mod 4, i.e. that many clockwise quarter turns."""
    return np.rot90(block, -((-viewer) % 4))


def area_means(blocks: np.ndarray) -> np.ndarray:
    """[n, 8, 8, 3] uint8 blocks -> [n, 3] uint8 through OpenCV's area filter, the blocks
    stacked into one tall image as `instance.downsample` stacks players' frames."""
    n = blocks.shape[0]
    tall = np.ascontiguousarray(blocks.reshape(n * 8, 8, 3))
    return cv2.resize(tall, (1, n), interpolation=cv2.INTER_AREA).reshape(n, 3)


@functools.lru_cache(maxsize=8)
def colour_table(players: int) -> np.ndarray:
    """[4 viewer orientations, NUM_CODES, 3] uint8."""
    if players > MAX_PLAYERS:
        raise ValueError(f"at most {MAX_PLAYERS} players")
    human = _colors().human_readable
    bg = background_sprites()
    apple = apple_sprite()
    self_sprites = avatar_sprites(SELF_COLOUR)
    others = [avatar_sprites(human[p]) for p in range(players)]
    table = np.zeros((4, NUM_CODES, 3), dtype=np.uint8)
    for v in range(4):
        floor = turned(bg["floor"], v)[..., :3]
        grass = turned(bg["grass"], v)[..., :3]
        wall = turned(bg["wall"], v)[..., :3]
        codes, blocks = [], []

        def add(code, block):
            codes.append(code)
            blocks.append(block)

        add(FLOOR, floor)
        add(GRASS, grass)
        add(WALL, wall)
        add(APPLE_ON_GRASS, over(grass, apple))
        add(APPLE_ON_FLOOR, over(floor, apple))
        for on_grass, ground in enumerate((floor, grass)):
            add(SELF + on_grass, over(ground, self_sprites[0]))
            for p in range(players):
                for o in range(4):
                    add(AVATAR + (p * 4 + o) * 2 + on_grass, over(ground, others[p][(o - v) % 4]))
        means = area_means(np.stack(blocks))
        table[v, codes] = means
        table[v, BEAM:] = BEAM_COLOUR
    return table
