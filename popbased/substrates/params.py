"""Parameters of the commons_harvest family, parsed and validated from `key=value`."""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from popbased.errors import BadInput

MAPS = ("open", "closed", "partnership", "private_property")


@dataclass(frozen=True)
class CommonsParams:
    """How a commons_harvest variant differs from the stock game."""

    map: str = "open"
    """Layout: Melting Pot's open, closed or partnership map, or popbased's private_property
    map (walls fence the apple fields into one private plot per player)."""
    no_zap: bool = False
    """Remove FIRE_ZAP from the action set (the Zapper stays, so READY_TO_SHOOT still works)."""
    zap_cooldown: int = 2
    """Melting Pot's Zapper `cooldownTime`: after firing, a player can fire again
    `zap_cooldown + 1` steps later. Stock value 2; the study used 1, 2, 10, 200, 2000."""
    regrowth: float = 1.0
    """Factor on the apple regrowth probabilities (capped at 1). The study's grid is
    10^-2 ... 10^2 in half-decade steps; scarcity = 0.5, abundance = 2."""
    farmer_weight: float = 0.0
    """Weight of the `farmer` reward component: weight x apples in the player's view, per
    step. Reported as its own component; the apple reward is never changed."""
    players: int = 7
    """Number of players (Melting Pot's default is 7)."""
    social: bool = False
    """Also report the social-preference reward components (popbased.env.social:
    disadvantageous_inequity, advantageous_inequity, svo_distance), on both engines. Off by
    default, so the reward columns of every other run stay as they were."""
    inequity_decay: float = 0.975
    """Decay lambda of the smoothed rewards e_i(t) = lambda e_i(t-1) + r_i(t) behind the social
    components (Hughes et al. 2018 used gamma x lambda = 0.99 x 0.975; 0.975 here), in [0, 1]."""
    svo_angle: float = 45.0
    """Target angle (degrees) of `svo_distance` between own and others' mean smoothed reward:
    0 individualistic, 45 prosocial, 90 altruistic (McKee et al. 2020), in [-180, 180]."""


_FIELDS = {f.name: f for f in dataclasses.fields(CommonsParams)}
_KINDS = {"str": str, "bool": bool, "int": int, "float": float}
_POWER = re.compile(r"^\s*10\s*\^\s*([-+]?\d+(?:\.\d+)?)\s*$")


def _parse_value(key: str, raw: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise BadInput(f"parameter {key}={raw!r}: expected true or false")
    if kind is int:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise BadInput(f"parameter {key}={raw!r}: expected an integer") from None
        if not math.isfinite(value) or value != int(value) or isinstance(raw, bool):
            raise BadInput(f"parameter {key}={raw!r}: expected an integer")
        return int(value)
    if kind is float:
        match = _POWER.match(str(raw)) if isinstance(raw, str) else None
        try:
            value = 10.0 ** float(match.group(1)) if match else float(raw)
        except (TypeError, ValueError):
            raise BadInput(f"parameter {key}={raw!r}: expected a number (e.g. 0.1 or 10^-1)") from None
        return value
    return str(raw).strip()


def _check(params: CommonsParams, given: set[str]) -> None:
    if params.map not in MAPS:
        raise BadInput(f"parameter map={params.map!r}: allowed maps are {', '.join(MAPS)}")
    if params.zap_cooldown < 1:
        raise BadInput(f"parameter zap_cooldown={params.zap_cooldown}: must be an integer >= 1")
    if not math.isfinite(params.regrowth) or params.regrowth <= 0:
        raise BadInput(f"parameter regrowth={params.regrowth}: must be a finite number > 0")
    if not math.isfinite(params.farmer_weight) or params.farmer_weight < 0:
        raise BadInput(f"parameter farmer_weight={params.farmer_weight}: must be a finite number >= 0")
    max_players = 16 if params.map == "private_property" else 32
    if not 1 <= params.players <= max_players:
        raise BadInput(f"parameter players={params.players}: must be between 1 and {max_players} "
                       f"on the {params.map} map")
    if not 0.0 <= params.inequity_decay <= 1.0:
        raise BadInput(f"parameter inequity_decay={params.inequity_decay}: must be in [0, 1]")
    if not -180.0 <= params.svo_angle <= 180.0:
        raise BadInput(f"parameter svo_angle={params.svo_angle}: must be in [-180, 180] (degrees)")
    for key in ("inequity_decay", "svo_angle"):
        if key in given and not params.social:
            raise BadInput(f"parameter {key} sets the social reward components, which are off: "
                           f"add social=true")
    if params.social and params.players < 2:
        raise BadInput("parameter social=true: the social components compare players, "
                       "so they need players >= 2")
    if params.no_zap and "zap_cooldown" in given:
        raise BadInput("parameters no_zap=true and zap_cooldown cannot combine: "
                       "without a zap action there is no cooldown")


def parse_params(raw: Mapping[str, Any], defaults: Mapping[str, Any] | None = None,
                 fixed: Mapping[str, Any] | None = None, where: str = "") -> CommonsParams:
    """Builds CommonsParams from strings or values; unknown keys and bad values raise BadInput."""
    fixed = dict(fixed or {})
    values = dict(defaults or {})
    prefix = f"{where}: " if where else ""
    for key, value in raw.items():
        if key not in _FIELDS:
            close = difflib.get_close_matches(key, list(_FIELDS), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise BadInput(f"{prefix}unknown parameter {key!r}{hint}; allowed: {', '.join(_FIELDS)}")
        parsed = _parse_value(key, value, _KINDS[_FIELDS[key].type])
        if key in fixed and parsed != fixed[key]:
            raise BadInput(f"{prefix}parameter {key}={value!r} conflicts with this variant, "
                           f"which fixes {key}={fixed[key]!r}")
        values[key] = parsed
    values.update(fixed)
    params = CommonsParams(**values)
    try:
        _check(params, set(raw))
    except BadInput as err:
        raise BadInput(f"{prefix}{err}") from None
    return params


def parse_assignments(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """['a=1', 'b=x'] -> {'a': '1', 'b': 'x'}; a malformed item raises BadInput."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"--param {item!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out
