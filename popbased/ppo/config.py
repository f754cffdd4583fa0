"""Configuration of a member's network and PPO learner (frozen dataclasses, validated)."""

from __future__ import annotations

import dataclasses
import numbers
import types
import typing
from dataclasses import dataclass
from typing import Any, Mapping

from popbased.errors import BadInput


@dataclass(frozen=True)
class NetConfig:
    """Shape of the policy network (the Melting Pot agent: conv torso, MLP, optional LSTM)."""

    conv_channels: tuple[int, ...] = (32,)
    """Output channels of each 3x3 conv layer (no padding) on the observation."""
    conv_strides: tuple[int, ...] = (2,)
    """Stride of each conv layer (11x11x3 -> 5x5x32 by default: on the 11x11 view one pixel
    is one sprite, so a 3x3 window sees a sprite and its neighbours)."""
    mlp: tuple[int, ...] = (256, 128)
    """Hidden sizes of the MLP after the conv torso."""
    lstm: int = 0
    """LSTM size after the MLP; 0 turns the LSTM off (the study used 32 and 128)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "conv_channels", tuple(int(c) for c in self.conv_channels))
        object.__setattr__(self, "conv_strides", tuple(int(s) for s in self.conv_strides))
        object.__setattr__(self, "mlp", tuple(int(h) for h in self.mlp))
        if len(self.conv_strides) != len(self.conv_channels) or min(self.conv_strides, default=1) < 1:
            raise BadInput("conv_strides: one stride >= 1 per conv layer")
        if any(c < 1 for c in self.conv_channels) or any(h < 1 for h in self.mlp):
            raise BadInput("network sizes must be >= 1")
        if self.lstm < 0:
            raise BadInput(f"lstm={self.lstm}: must be >= 0 (0 = no LSTM)")


@dataclass(frozen=True)
class PPOConfig:
    """Hyperparameters of one member's PPO learner (PBT mutates some of them)."""

    lr: float = 4e-4
    """Adam learning rate (start value when lr_schedule is 'linear')."""
    lr_schedule: str = "constant"
    """'constant', or 'linear' (anneals to 0 over the planned steps)."""
    gamma: float = 0.99
    """Discount."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip: float = 0.2
    """PPO ratio clip."""
    vf_clip: float | None = None
    """Clip of the value update around the old values (None = unclipped value loss)."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    ent_coef: float = 0.01
    """Weight of the entropy bonus."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip."""
    epochs: int = 2
    """Passes over each batch."""
    minibatch_size: int = 1000
    """Agent-steps per minibatch, about: a batch is split into round(batch / minibatch_size)
    equal minibatches, at least one (whole sequences when the LSTM is on)."""
    norm_adv: bool = True
    """Normalise advantages per minibatch."""
    bptt: int = 50
    """Truncated BPTT length in steps (only with the LSTM)."""
    adam_eps: float = 1e-5
    """Adam epsilon."""

    def __post_init__(self) -> None:
        checks = [
            (self.lr > 0, "lr must be > 0"),
            (self.lr_schedule in ("constant", "linear"), "lr_schedule: 'constant' or 'linear'"),
            (0 <= self.gamma <= 1, "gamma must be in [0, 1]"),
            (0 <= self.gae_lambda <= 1, "gae_lambda must be in [0, 1]"),
            (self.clip > 0, "clip must be > 0"),
            (self.vf_clip is None or self.vf_clip > 0, "vf_clip must be > 0 or null"),
            (self.vf_coef >= 0 and self.ent_coef >= 0, "vf_coef and ent_coef must be >= 0"),
            (self.max_grad_norm > 0, "max_grad_norm must be > 0"),
            (self.epochs >= 1, "epochs must be >= 1"),
            (self.minibatch_size >= 1, "minibatch_size must be >= 1"),
            (self.bptt >= 1, "bptt must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise BadInput(f"PPO config: {message}")


def from_mapping(cls, raw: Mapping[str, Any], where: str = "config"):
    """Builds a config dataclass from a mapping; unknown keys are a clear error."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise BadInput(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}")
    try:
        hints = typing.get_type_hints(cls)
    except NameError:  # an annotation this module cannot resolve: the class's own checks
        hints = {}
    for key, value in raw.items():
        problem = _wrong_type(hints.get(key), value)
        if problem:
            raise BadInput(f"{where} {key}={value}: {key} needs {problem}")
    try:
        return cls(**raw)
    except TypeError as err:
        raise BadInput(f"{where}: {err}") from None


def _wrong_type(hint, value) -> str | None:
    """What a field of type `hint` needs when `value` is not that (None when it is): a number
    for a numeric field, true or false for a flag (other values are the checks' business)."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    kinds = typing.get_args(hint) if union else (hint,)
    if value is None and type(None) in kinds:
        return None
    if bool in kinds:
        return "true or false" if isinstance(value, str) else None
    if float in kinds or int in kinds:
        number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        return None if number else "a number" + (" or null" if type(None) in kinds else "")
    return None


def to_dict(config) -> dict[str, Any]:
    out = dataclasses.asdict(config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


__all__ = ["NetConfig", "PPOConfig", "from_mapping", "to_dict"]
