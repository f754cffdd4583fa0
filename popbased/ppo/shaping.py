"""Reward shaping: a member trains on a weighted sum of the env's reward components.

The weights belong to the member (PBT mutates them). Weights given anywhere (`--shaping`,
TrainConfig.shaping, a population's shaping genes) override the defaults (`default_weights`)
per component: `effective_weights` is the one place they meet. The unshaped harvest
(`reward`) is always what metrics report.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import numpy as np

from popbased.env.social import hint
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
            raise BadInput(f"{where}: unknown reward component {name!r}{hint(name)}; "
                           f"this substrate gives: {', '.join(components)}")
        out[name] = value
    return out


def effective_weights(given: Mapping[str, float] | None, components: Sequence[str] | None = None,
                      *, base: Mapping[str, float] | None = None,
                      where: str = "shaping") -> dict[str, float]:
    """The weights a learner trains with: `base` (default: `default_weights(components)`) with
    each given weight overriding its component's or adding it; weight 0 drops a component
    (`reward=0`: no harvest reward), which stays listed at 0. Names are checked against
    `components` when given (an unknown one is BadInput), values always."""
    if base is None:
        if components is None:
            raise TypeError("effective_weights needs the components or a base")
        base = default_weights(components)
    return {**validate(base, components, where), **validate(given or {}, components, where)}


def counts_apples_in_view(names: Iterable[str], farmer_weight: float = 0.0) -> bool:
    """Whether the envs must count the apples in each player's view: a member weighs
    apples_in_view or farmer (among the component `names` it weighs), or the variant pays a
    farmer bonus (`farmer_weight` > 0)."""
    return farmer_weight > 0 or any(name in VIEW_COMPONENTS for name in names)


def needs_apples_in_view(weights: Mapping[str, float]) -> bool:
    """Whether given weights use a component counted from the apples in view (a weight on
    apples_in_view or farmer other than 0)."""
    return counts_apples_in_view(name for name, value in weights.items() if value != 0)


def weight_vector(weights: Mapping[str, float], components: Sequence[str]) -> np.ndarray:
    validate(weights, components)
    return np.array([weights.get(name, 0.0) for name in components], dtype=np.float32)


def shaped(rewards, weights: Mapping[str, float], components: Sequence[str]):
    """rewards [..., C] (numpy, or a tensor on any device) -> [...]: the member's training reward."""
    vector = weight_vector(weights, components)
    if isinstance(rewards, np.ndarray):
        return rewards @ vector
    import torch  # deferred: shaping numpy rewards (Ray workers, evaluation) needs no torch

    return rewards @ torch.as_tensor(vector, device=rewards.device)
