"""Can a population play the league's arena, and with which reward weights?

The arena is one substrate (stock or variant). A population plays it with its own action
set (mapped by name, see ppo/actions.py: a no_zap member never emits FIRE_ZAP) and its own
incentives: its shaping genes, and the farmer bonus when its variant has one (counted
from the apples in the player's view, whatever the arena's own farmer weight).
"""

from __future__ import annotations


from popbased.env.instance import component_names
from popbased.env.social import hint
from popbased.errors import BadInput
from popbased.population.spec import PopulationSpec
from popbased.ppo import shaping
from popbased.ppo.actions import ActionMap
from popbased.substrates import resolve
from popbased.substrates.spec import Lab2dSpec


def _family(spec: Lab2dSpec) -> str:
    return "commons_harvest" if spec.params is not None else spec.name


def needs_view(pop: PopulationSpec) -> bool:
    variant = resolve(pop.substrate, dict(pop.params))
    return shaping.counts_apples_in_view([g.name for g in pop.shaping], variant.farmer_weight)


def arena_components(arena: Lab2dSpec, pops) -> tuple[tuple[str, ...], bool | None]:
    """(reward components the arena gives, apples_in_view setting for its envs)."""
    view = any(needs_view(p) for p in pops)
    apples_in_view = view if arena.instrumented else None
    return component_names(arena, apples_in_view), apples_in_view


def check_playable(pop: PopulationSpec, arena: Lab2dSpec, where: str) -> None:
    variant = resolve(pop.substrate, dict(pop.params))
    if _family(variant) != _family(arena):
        raise BadInput(f"{where}: population {pop.name!r} ({pop.substrate}, a "
                       f"{_family(variant)} substrate) cannot play a {_family(arena)} arena; "
                       f"allowed: populations of the arena's substrate family")
    try:
        ActionMap(variant.action_names, arena.action_names)
    except BadInput as err:
        raise BadInput(f"{where}: population {pop.name!r}: {err}") from None
    if needs_view(pop) and not arena.instrumented:
        raise BadInput(f"{where}: population {pop.name!r} is rewarded for apples in view, which "
                       f"this arena cannot count; allowed: an instrumented commons_harvest arena")
    components = component_names(arena, True if arena.instrumented else None, fast=True)
    for gene in pop.shaping:
        if gene.name not in components:
            raise BadInput(f"{where}: population {pop.name!r} weighs reward component "
                           f"{gene.name!r}, which the arena does not give{hint(gene.name)}; it gives: "
                           f"{', '.join(components)}")


def base_weights(pop: PopulationSpec, components) -> dict[str, float]:
    """The population's reward weights in the arena before its shaping genes: the defaults
    (the harvest) without the arena's own farmer bonus, which is not this population's
    incentive, plus its variant's farmer bonus as a weight on apples in view."""
    variant = resolve(pop.substrate, dict(pop.params))
    overrides: dict[str, float] = {"farmer": 0.0} if "farmer" in components else {}
    if variant.farmer_weight > 0:
        overrides["apples_in_view"] = variant.farmer_weight
    return shaping.effective_weights(overrides, components)


def action_names(pop: PopulationSpec) -> tuple[str, ...]:
    return resolve(pop.substrate, dict(pop.params)).action_names
