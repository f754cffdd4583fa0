"""popbased's private_property map: walls fence the apple fields into one plot per player.

Each plot is 5 cells wide with a 12-apple patch (the shape of the open map's patches,
so regrowth works as there) and a spawn cell; a player spawns and respawns in its own
plot, walls block movement and beams between plots.
"""

from __future__ import annotations

import copy
from typing import Any

PLOT_WIDTH = 5
PLOT_ROWS = (
    " AAA ",
    "AAAAA",
    " AAA ",
    "  A  ",
    "     ",
    "  {} ",
    "     ",
    "     ",
)
SPAWN_CHARS = "123456789abcdefg"


def ascii_map(num_players: int) -> str:
    """The map for `num_players` plots, in Melting Pot's ASCII format."""
    width = num_players * (PLOT_WIDTH + 1) + 1
    rows = ["W" * width]
    for row in PLOT_ROWS:
        cells = ["W"]
        for plot in range(num_players):
            cells.append(row.replace("{}", SPAWN_CHARS[plot]).ljust(PLOT_WIDTH)[:PLOT_WIDTH])
            cells.append("W")
        rows.append("".join(cells))
    rows.append("W" * width)
    return "\n" + "\n".join(rows) + "\n"


def spawn_group(player: int) -> str:
    return f"plot{player + 1}SpawnPoints"


def apply(settings: dict[str, Any], base: Any, num_players: int) -> None:
    """Rewrites stock commons_harvest settings in place: map, spawn prefabs, avatar spawn groups."""
    simulation = settings["simulation"]
    simulation["map"] = ascii_map(num_players)
    char_map = dict(simulation["charPrefabMap"])
    prefabs = dict(simulation["prefabs"])
    for player in range(num_players):
        name = f"plot{player + 1}_spawn_point"
        prefab = copy.deepcopy(base.SPAWN_POINT)
        prefab["components"][0]["kwargs"]["stateConfigs"][0]["groups"] = [spawn_group(player)]
        prefabs[name] = prefab
        char_map[SPAWN_CHARS[player]] = {"type": "all", "list": ["floor", name]}
    simulation["prefabs"] = prefabs
    simulation["charPrefabMap"] = char_map
    for obj in simulation["gameObjects"]:
        for component in obj["components"]:
            if component["component"] == "Avatar":
                player = component["kwargs"]["index"] - 1
                component["kwargs"]["spawnGroup"] = spawn_group(player)
                component["kwargs"]["postInitialSpawnGroup"] = spawn_group(player)
