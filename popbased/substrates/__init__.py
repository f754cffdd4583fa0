"""Substrates by name: every stock Melting Pot substrate and the study's variants.

    spec = popbased.substrates.resolve("no_zap", {"regrowth": "0.5"})

returns a picklable `Lab2dSpec` that `popbased.env` builds in any process.
The commons_harvest family (the three stock commons_harvest maps and every
variant file: the repository's `substrates/*.toml` and those in the folders of
POPBASED_SUBSTRATES, see `variant_files`) takes the parameters of
`CommonsParams`; other stock substrates are passed through unchanged.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field
from typing import Any, Mapping

from popbased.substrates import meltingpot_loader
from popbased.errors import BadInput
from popbased.substrates import commons_harvest, variant_files
from popbased.substrates.params import CommonsParams, parse_assignments, parse_params
from popbased.substrates.spec import Lab2dSpec, action_names_for, flatten_settings

__all__ = ["Entry", "Lab2dSpec", "CommonsParams", "entries", "names", "resolve",
           "parse_assignments", "reload"]


@dataclass(frozen=True)
class Entry:
    """One name in the registry."""

    name: str
    kind: str
    """'variant' (popbased), 'commons' (stock commons_harvest map) or 'stock'."""
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    path: str = ""
    """The file that defines a variant ('' for Melting Pot's own)."""

    @property
    def takes_params(self) -> bool:
        return self.kind != "stock"


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, Entry]:
    stock = meltingpot_loader.import_module("configs.substrates").SUBSTRATES
    reg = {name: Entry(name, "variant", v.description, v.defaults, v.fixed, str(v.path))
           for name, v in variant_files.read_all(frozenset(stock)).items()}
    for name in sorted(stock):
        map_name = name.split("__", 1)[1] if name.startswith("commons_harvest__") else None
        if map_name in commons_harvest.STOCK_MODULE:
            reg[name] = Entry(name, "commons", f"Melting Pot's commons_harvest {map_name} map",
                              fixed={"map": map_name})
        else:
            reg[name] = Entry(name, "stock", "Melting Pot substrate (passed through)")
    return dict(sorted(reg.items()))


def reload() -> None:
    """Forgets the registry and the resolved specs: the next call reads the variant files
    (and POPBASED_SUBSTRATES) again."""
    _registry.cache_clear()
    _resolve_cached.cache_clear()


def entries() -> list[Entry]:
    return list(_registry().values())


def names() -> list[str]:
    return list(_registry())


def entry(name: str) -> Entry:
    reg = _registry()
    if name not in reg:
        close = difflib.get_close_matches(name, list(reg), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise BadInput(f"unknown substrate {name!r}{hint} (`popbased substrates list` shows all)")
    return reg[name]


def resolve_params(name: str, params: Mapping[str, Any] | None = None) -> CommonsParams | None:
    """The validated parameters `name` runs with (None for non-commons stock substrates)."""
    item = entry(name)
    params = dict(params or {})
    if not item.takes_params:
        if params:
            raise BadInput(f"substrate {name!r} takes no parameters (got {', '.join(params)}); "
                           "parameters apply to the commons_harvest family")
        return None
    return parse_params(params, item.defaults, item.fixed, where=name)


@functools.lru_cache(maxsize=64)
def _resolve_cached(name: str, frozen: tuple[tuple[str, Any], ...]) -> Lab2dSpec:
    params = resolve_params(name, dict(frozen))
    item = entry(name)
    if params is not None:
        return commons_harvest.build_spec(name, params, item.description)
    return _stock_spec(name, item.description)


def resolve(name: str, params: Mapping[str, Any] | None = None) -> Lab2dSpec:
    """Validates `name` and `params` and returns the Lab2dSpec to build (BadInput if bad)."""
    return _resolve_cached(name, tuple(sorted((params or {}).items())))


def _stock_spec(name: str, description: str) -> Lab2dSpec:
    module = meltingpot_loader.import_module(f"configs.substrates.{name}")
    config = module.get_config()
    roles = tuple(config.default_player_roles)
    unknown = set(roles) - set(config.valid_roles)
    if unknown:  # build_from_config skips this check
        raise BadInput(f"substrate {name!r}: roles {sorted(unknown)} are not in {sorted(config.valid_roles)}")
    action_set = tuple(config.action_set)
    observations = tuple(n for n in ("RGB", "READY_TO_SHOOT")
                         if n in config.individual_observation_names)
    return Lab2dSpec(
        name=name,
        settings=flatten_settings(module.build(roles, config)),
        num_players=len(roles),
        action_names=action_names_for(module, action_set),
        action_table=action_set,
        individual_observations=observations,
        description=description,
    )
