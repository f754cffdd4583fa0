"""The static part of a commons_harvest world, read from the same Lab2d settings the
Melting Pot path builds (`popbased.substrates.commons_harvest.lab2d_settings`).

Everything comes from those settings: the ASCII map and its character -> prefab table,
the spawn groups of each avatar, the apple prefab's regrowth radius and probabilities
(already scaled by `params.regrowth` and capped at 1), and the Zapper's parameters
(cooldown from `params.zap_cooldown`, beam length and radius, framesTillRespawn).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from popbased.substrates.commons_harvest import lab2d_settings
from popbased.substrates.params import CommonsParams

NORTH, EAST, SOUTH, WEST = 0, 1, 2, 3
# Unit vectors (dy, dx) of N, E, S, W (y grows downwards).
DIRECTIONS = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]], dtype=np.int64)


@dataclass(frozen=True)
class GameMap:
    """One map with its rules' parameters; arrays are numpy (the world copies them to its device)."""

    name: str
    height: int
    width: int
    wall: np.ndarray
    """[H, W] bool: cells holding a wall (blocks moves and beams)."""
    apple_cells: np.ndarray
    """[A, 2] int64 (y, x) of every apple (each on grass), in row-major order."""
    neighbours: np.ndarray
    """[A, 12] int64: for each apple, the other apples in its L2 radius-2 disc (13 cells,
    dx^2 + dy^2 <= 4, itself excluded); padded with A (an always-dead slot)."""
    spawn_groups: tuple[str, ...]
    spawn_cells: tuple[np.ndarray, ...]
    """Per group, [n] int64 flat cell indices (y * W + x) of its spawn points."""
    initial_group: np.ndarray
    """[players] int64: group each player starts in (Avatar.spawnGroup)."""
    respawn_group: np.ndarray
    """[players] int64: group each player respawns in (Avatar.postInitialSpawnGroup)."""
    regrowth: np.ndarray
    """[4] float64: regrowth probability for 0, 1, 2, >= 3 live neighbours."""
    cooldown: int
    beam_length: int
    beam_radius: int
    frames_till_respawn: int
    players: int

    @property
    def num_apples(self) -> int:
        return int(self.apple_cells.shape[0])


def _groups_of(prefab: dict) -> list[str]:
    out = []
    for component in prefab.get("components", []):
        if component["component"] == "StateManager":
            for state in component["kwargs"]["stateConfigs"]:
                out += list(state.get("groups", []))
    return out


def _char_prefabs(entry) -> list[str]:
    return [entry] if isinstance(entry, str) else list(entry["list"])


def _kwargs(obj: dict, name: str) -> dict:
    for component in obj["components"]:
        if component["component"] == name:
            return dict(component.get("kwargs", {}))
    raise KeyError(name)


def disc_offsets(radius: int) -> list[tuple[int, int]]:
    """(dy, dx) of the L2 disc of `radius` without the centre (dmlab2d's VisitDisc)."""
    return [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)
            if dy * dy + dx * dx <= radius * radius and (dy, dx) != (0, 0)]


def build_map(params: CommonsParams) -> GameMap:
    """The map and rule parameters of `params`, as Melting Pot will run them."""
    settings = lab2d_settings(params)
    simulation = settings["simulation"]
    rows = simulation["map"].strip("\n").split("\n")
    height, width = len(rows), max(len(r) for r in rows)
    rows = [r.ljust(width) for r in rows]
    prefabs = simulation["prefabs"]
    char_map = simulation["charPrefabMap"]
    wall = np.zeros((height, width), dtype=bool)
    apples: list[tuple[int, int]] = []
    group_cells: dict[str, list[int]] = {}
    for y, row in enumerate(rows):
        for x, char in enumerate(row):
            for name in _char_prefabs(char_map[char]):
                if name == "wall":
                    wall[y, x] = True
                elif name == "apple":
                    apples.append((y, x))
                for group in _groups_of(prefabs[name]):
                    if group.lower().endswith("spawnpoints"):
                        group_cells.setdefault(group, []).append(y * width + x)
    apple_cells = np.array(sorted(apples), dtype=np.int64).reshape(-1, 2)
    index = {tuple(c): i for i, c in enumerate(apple_cells.tolist())}
    regrow = _kwargs(prefabs["apple"], "DensityRegrow")
    radius = int(regrow["radius"])
    probs = [float(p) for p in regrow["regrowthProbabilities"]]
    if len(probs) != 4:
        raise ValueError(f"expected 4 regrowth probabilities, got {probs}")
    num = len(apple_cells)
    neighbours = np.full((num, len(disc_offsets(radius))), num, dtype=np.int64)
    for i, (y, x) in enumerate(apple_cells.tolist()):
        found = [index[(y + dy, x + dx)] for dy, dx in disc_offsets(radius) if (y + dy, x + dx) in index]
        neighbours[i, :len(found)] = found
    avatars = [o for o in simulation["gameObjects"]
               if any(c["component"] == "Avatar" for c in o["components"])]
    names = tuple(sorted(group_cells))
    initial = np.array([names.index(_kwargs(o, "Avatar")["spawnGroup"]) for o in avatars])
    respawn = np.array([names.index(_kwargs(o, "Avatar")["postInitialSpawnGroup"]) for o in avatars])
    zapper = _kwargs(avatars[0], "Zapper")
    if int(zapper["beamRadius"]) != 1:
        raise ValueError("the fast env implements beamRadius 1 (every commons_harvest map)")
    return GameMap(
        name=params.map, height=height, width=width, wall=wall, apple_cells=apple_cells,
        neighbours=neighbours, spawn_groups=names,
        spawn_cells=tuple(np.array(group_cells[g], dtype=np.int64) for g in names),
        initial_group=initial, respawn_group=respawn, regrowth=np.array(probs),
        cooldown=int(zapper["cooldownTime"]), beam_length=int(zapper["beamLength"]),
        beam_radius=int(zapper["beamRadius"]),
        frames_till_respawn=int(zapper["framesTillRespawn"]), players=len(avatars))
