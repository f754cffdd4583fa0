"""Reward shaping: a member trains on a weighted sum of the env's reward components.

The weights belong to the member (PBT mutates them). The unshaped harvest (`reward`)
is always what metrics report.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from popbased.errors import BadInput

VIEW_COMPONENTS = ("apples_in_view", "farmer")


def default_weights(components: Sequence[str]) -> dict[str, float]:
    """The substrate's own reward, plus the farmer bonus where the variant has one."""
    weights = {"reward": 1.0}
    if "farmer" in components:
        weights["farmer"] = 1.0
    return weights


def validate(weights: Mapping[str, float], components: Sequence[str] | None = None,
             where: str = "shaping") -> dict[str, float]:
    """Checks names (against `components` when given) and values; returns plain floats."""
    out: dict[str, float] = {}
    for name, value in weights.items():
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise BadInput(f"{where}: weight {name}={value!r} is not a number") from None
        if not math.isfinite(value):
            raise BadInput(f"{where}: weight {name}={value} must be finite")
        if components is not None and name not in components:
            raise BadInput(f"{where}: unknown reward component {name!r}; "
                           f"this substrate gives: {', '.join(components)}")
        out[name] = value
    return out


def check_engine(names: Sequence[str], env: str, where: str) -> None:
    """Components only the fast env counts (last_apples) need env "fast"."""
    from popbased.env.instance import FAST_COMPONENTS

    for name in names:
        if name in FAST_COMPONENTS and env != "fast":
            raise BadInput(f"{where}: reward component {name!r} is counted by the fast env only; "
                           f"allowed: --env fast (or env = \"fast\" in the file)")


def needs_apples_in_view(weights: Mapping[str, float]) -> bool:
    return any(weights.get(name, 0.0) != 0.0 for name in VIEW_COMPONENTS)


def weight_vector(weights: Mapping[str, float], components: Sequence[str]) -> np.ndarray:
    validate(weights, components)
    return np.array([weights.get(name, 0.0) for name in components], dtype=np.float32)


def shaped(rewards, weights: Mapping[str, float], components: Sequence[str]):
    """rewards [..., C] (numpy, or a tensor on any device) -> [...]: the member's training reward."""
    vector = weight_vector(weights, components)
    if isinstance(rewards, np.ndarray):
        return rewards @ vector
    import torch

    return rewards @ torch.as_tensor(vector, device=rewards.device)
