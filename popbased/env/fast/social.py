"""The social-preference reward components on the fast env: popbased.env.social's
definitions (inequity aversion, SVO distance) in torch over [worlds, players], with no host
read. Both engines' numbers are checked equal in tests/env/test_social.py."""

from __future__ import annotations

import torch


def components(traces: torch.Tensor, svo_angle: float) -> torch.Tensor:
    """traces [..., N] float32 (smoothed rewards, N >= 2) -> [..., N, 3]: each player's
    disadvantageous_inequity, advantageous_inequity and svo_distance (`svo_angle` in
    radians), as popbased.env.social.components."""
    n = traces.shape[-1]
    diff = traces.unsqueeze(-2) - traces.unsqueeze(-1)  # [..., i, j] = e_j - e_i
    scale = 1.0 / (n - 1)
    behind = diff.clamp(min=0).sum(-1) * scale
    ahead = (-diff).clamp(min=0).sum(-1) * scale
    others = (traces.sum(-1, keepdim=True) - traces) * scale
    # + 0 turns -0.0 into 0.0, so atan2(0, 0) is 0 whatever the zeros' signs
    angle = torch.atan2(others + 0.0, traces + 0.0)
    return torch.stack([behind, ahead, (svo_angle - angle).abs()], -1)


def observer_components(traces: torch.Tensor, svo_angle: torch.Tensor) -> torch.Tensor:
    """traces [..., N, N] (row i: player i's traces of everyone), svo_angle [..., N] radians ->
    [..., N, 3], as popbased.env.social.observer_components."""
    n = traces.shape[-1]
    own = traces.diagonal(dim1=-2, dim2=-1).unsqueeze(-1)
    diff = traces - own
    scale = 1.0 / (n - 1)
    behind = diff.clamp(min=0).sum(-1) * scale
    ahead = (-diff).clamp(min=0).sum(-1) * scale
    mine = own.squeeze(-1)
    others = (traces.sum(-1) - mine) * scale
    angle = torch.atan2(others + 0.0, mine + 0.0)
    return torch.stack([behind, ahead, (svo_angle - angle).abs()], -1)


def observer_step(traces: torch.Tensor, reward: torch.Tensor, decay: torch.Tensor,
                  svo_angle: torch.Tensor) -> torch.Tensor:
    """One step with each player's own lambda and theta: traces [B, N, N] become
    decay[..., None] * traces + reward (each row), the components [B, N, 3] returned."""
    traces.mul_(decay.unsqueeze(-1)).add_(reward.unsqueeze(-2))
    return observer_components(traces, svo_angle)


def step(traces: torch.Tensor, reward: torch.Tensor, decay: float, svo_angle: float) -> torch.Tensor:
    """One step: traces [B, N] float32 become decay * traces + reward (in place) and the
    components [B, N, 3] of the updated traces are returned (`svo_angle` in radians). The
    caller zeroes a world's traces when its episode ends."""
    traces.mul_(decay).add_(reward)
    return components(traces, svo_angle)
