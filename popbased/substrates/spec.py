"""What a worker needs to build one substrate instance: a picklable, flattened spec."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any, Mapping

from popbased.substrates import meltingpot_loader
from popbased.substrates.params import CommonsParams


@dataclass(frozen=True)
class Lab2dSpec:
    """A substrate (stock or variant) resolved to Lab2d settings, ready to build anywhere."""

    name: str
    """Registry name the user asked for (e.g. 'no_zap', 'clean_up')."""
    settings: Mapping[str, str]
    """Flattened Lua settings for `dmlab2d.Lab2d` (without the seed)."""
    num_players: int
    """Players (seats) per instance."""
    action_names: tuple[str, ...]
    """Name of each discrete action, in policy-index order (e.g. NOOP, FORWARD, ...)."""
    action_table: tuple[Mapping[str, int], ...]
    """Lab2d action dict of each discrete action (e.g. {'move': 1, 'turn': 0, 'fireZap': 0})."""
    params: CommonsParams | None = None
    """Variant parameters (commons_harvest family), None for other stock substrates."""
    instrumented: bool = False
    """True when the popbased observers run (WORLD.APPLES, APPLES_IN_VIEW, ZAPS_FIRED)."""
    individual_observations: tuple[str, ...] = ("RGB",)
    """Per-player observations read each step (besides REWARD)."""
    description: str = ""

    @property
    def farmer_weight(self) -> float:
        return self.params.farmer_weight if self.params else 0.0

    @property
    def shortest_episode(self) -> int | None:
        """Steps before which no episode ends: the scene's minimumFramesPerEpisode (Melting
        Pot's episodes then end at random, the commons_harvest family's after 1,000 steps),
        or maxEpisodeLengthFrames when shorter; None when the settings give neither."""
        found = [int(v) for k, v in self.settings.items()
                 if k == "maxEpisodeLengthFrames" or k.endswith(".minimumFramesPerEpisode")]
        return min(found) if found else None

    def first_episode(self, worlds: int, max_episode_steps: int | None = None
                      ) -> tuple[int, int] | None:
        """(steps per world, agent-steps in all) before the first episode can end when
        `worlds` instances are stepped side by side: the shortest episode (or
        `max_episode_steps` when shorter) times the worlds and their players. None when the
        settings do not say."""
        steps = [s for s in (self.shortest_episode, max_episode_steps) if s]
        return (min(steps), min(steps) * worlds * self.num_players) if steps else None


def action_names_for(module: Any, action_set: tuple[Mapping[str, int], ...]) -> tuple[str, ...]:
    """Names of a Melting Pot action set from its config module's constants (NOOP, FIRE_ZAP, ...)."""
    constants = {name: value for name, value in vars(module).items()
                 if name.isupper() and isinstance(value, dict)}
    names = []
    for action in action_set:
        match = [n for n, v in constants.items() if dict(v) == dict(action)]
        names.append(match[0] if match else ",".join(f"{k}={v}" for k, v in action.items()))
    return tuple(names)


def flatten_settings(lab2d_settings: Mapping[str, Any], level_path: str | None = None) -> dict[str, str]:
    """Melting Pot's own settings pipeline (prefab expansion, level location, flattening)."""
    builder = meltingpot_loader.import_module("utils.substrates.builder")
    config_dict = __import__("ml_collections").config_dict
    settings = config_dict.ConfigDict(copy.deepcopy(dict(lab2d_settings))).unlock()
    builder.apply_prefab_overrides(settings, None)
    builder.maybe_build_and_add_avatar_objects(settings)
    builder.locate_and_overwrite_level_directory(settings)
    if level_path is not None:
        # Lab2d resolves levelName under levelDirectory (the folder holding `meltingpot`);
        # a relative path reaches our level wherever popbased is installed.
        settings.levelName = os.path.relpath(level_path, meltingpot_loader.package_root())
    return builder.parse_python_settings_for_dmlab2d(settings)
