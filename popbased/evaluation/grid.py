"""Evaluation grids: which variant parameters each point of a sweep plays.

`regrowth` sweeps 10^-2 ... 10^2 in half-decade steps (the study's respawn experiment);
`cooldown` sweeps zap_cooldown 1, 2, 10, 200, 2000 (its cooldown experiment); any
`--param key=v1,v2,...` adds an axis (points are the product of all axes). Every point is
validated by the substrate registry before anything runs.
"""

from __future__ import annotations

import itertools
from typing import Mapping

from popbased.errors import BadInput
from popbased.substrates import resolve

SWEEPS = {
    "regrowth": ("regrowth", ["0.01", "0.0316", "0.1", "0.316", "1", "3.16", "10", "31.6", "100"]),
    "cooldown": ("zap_cooldown", ["1", "2", "10", "200", "2000"]),
}


def parse_axes(items: tuple[str, ...] | list[str]) -> dict[str, list[str]]:
    """['regrowth=0.1,1,10', 'players=7'] -> {'regrowth': [...], 'players': ['7']}"""
    axes: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadInput(f"--param {item!r}: expected key=v1,v2,...")
        listed = [v.strip() for v in values.split(",") if v.strip()]
        if not listed:
            raise BadInput(f"--param {item!r}: no values (an empty grid)")
        if key in axes:
            raise BadInput(f"--param {key}: given twice; list its values once (key=v1,v2)")
        axes[key] = listed
    return axes


def points(substrate: str, axes: Mapping[str, list[str]], fixed: Mapping[str, str] | None = None
           ) -> list[dict[str, str]]:
    """Every combination of the axes' values (plus the fixed params), each checked."""
    fixed = dict(fixed or {})
    clash = set(fixed) & set(axes)
    if clash:
        raise BadInput(f"{', '.join(sorted(clash))}: both swept and fixed; give it once")
    keys = list(axes)
    out = [dict(fixed, **dict(zip(keys, combo))) for combo in itertools.product(*(axes[k] for k in keys))]
    for params in out:
        resolve(substrate, params)  # a value out of the variant's domain: one clear line
    return out
