"""Builds the commons_harvest family (stock maps and the study's variants) as Lab2dSpecs.

The stock `build()` of each commons_harvest config starts with `del config`, so its
settings cannot be changed through the config. We call it, then edit the Lab2d
settings it returns: prefabs with scaled regrowth probabilities, the Zapper's
cooldown, the private_property map, and popbased's read-only observers. The
game's Lua code is Melting Pot's own; only our observer components are added.
"""

from __future__ import annotations

import os
from typing import Any

from popbased.errors import BadInput
from popbased.substrates import meltingpot_loader
from popbased.substrates import private_property
from popbased.substrates.params import CommonsParams
from popbased.substrates.spec import Lab2dSpec, action_names_for, flatten_settings

LEVEL_PATH = os.path.join(os.path.dirname(__file__), "lua", "popbased_commons_harvest")

STOCK_MODULE = {
    "open": "commons_harvest__open",
    "closed": "commons_harvest__closed",
    "partnership": "commons_harvest__partnership",
    "private_property": "commons_harvest__open",
}


def base_module(params: CommonsParams) -> Any:
    return meltingpot_loader.import_module(f"configs.substrates.{STOCK_MODULE[params.map]}")


def lab2d_settings(params: CommonsParams, *, state_dump: bool = False) -> dict[str, Any]:
    """The stock settings for `params.map`, edited as `params` asks (not yet flattened).

    state_dump adds popbased's read-only StateDump observer (WORLD.POPBASED_STATE, the
    full world state) for validating the fast env; training specs never have it."""
    base = base_module(params)
    config = base.get_config()
    roles = (next(iter(config.valid_roles)),) * params.players
    settings = dict(base.build(roles, config))
    simulation = settings["simulation"] = dict(settings["simulation"])

    probabilities = [min(1.0, p * params.regrowth) for p in base.REGROWTH_PROBABILITIES]
    simulation["prefabs"] = base.create_prefabs(base.APPLE_RESPAWN_RADIUS, probabilities)
    scene = simulation["scene"]
    counter = {"component": "AppleCounter", "kwargs": {}}
    scene["components"] = list(scene["components"]) + [counter]
    for obj in simulation["gameObjects"]:
        names = [c["component"] for c in obj["components"]]
        if "Avatar" not in names:
            continue
        for component in obj["components"]:
            if component["component"] == "Zapper":
                component["kwargs"]["cooldownTime"] = params.zap_cooldown
        obj["components"] += [{"component": "ApplesInView"}, {"component": "ZapCounter"},
                              {"component": "LocationObserver",
                               "kwargs": {"objectIsAvatar": True, "alsoReportOrientation": True}}]
    if params.map == "private_property":
        private_property.apply(settings, base, params.players)
    apples = simulation["map"].count("A")
    counter["kwargs"]["numApples"] = apples  # WORLD.APPLES_LIVE: each apple's live flag
    if state_dump:
        scene["components"].append({"component": "StateDump", "kwargs": {
            "numPlayers": params.players, "numApples": apples}})
    return settings


def build_spec(name: str, params: CommonsParams, description: str = "", *,
               state_dump: bool = False) -> Lab2dSpec:
    """The spec of a commons_harvest variant; state_dump: see lab2d_settings (validation only)."""
    base = base_module(params)
    action_set = tuple(base.ACTION_SET)
    names = action_names_for(base, action_set)
    if params.no_zap:
        keep = [i for i, action in enumerate(action_set) if not action.get("fireZap")]
        action_set = tuple(action_set[i] for i in keep)
        names = tuple(names[i] for i in keep)
    return Lab2dSpec(
        name=name,
        settings=flatten_settings(lab2d_settings(params, state_dump=state_dump), LEVEL_PATH),
        num_players=params.players,
        action_names=names,
        action_table=action_set,
        params=params,
        instrumented=True,
        individual_observations=("RGB", "READY_TO_SHOOT", "APPLES_IN_VIEW", "ZAPS_FIRED"),
        description=description,
    )


def with_state_dump(spec: Lab2dSpec) -> Lab2dSpec:
    """`spec` (a commons_harvest variant) built again with the read-only StateDump observer:
    the world state scripted players read on Melting Pot (popbased.play.scripted)."""
    if not isinstance(spec.params, CommonsParams):
        raise BadInput(f"{spec.name}: the world state (scripted players) is read in the "
                       f"commons_harvest family only")
    if "StateDump" in spec.settings.values():
        return spec
    return build_spec(spec.name, spec.params, spec.description, state_dump=True)
