"""The clipped PPO loss (pure function of tensors)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LossParts:
    total: torch.Tensor
    policy: torch.Tensor
    value: torch.Tensor
    entropy: torch.Tensor
    approx_kl: torch.Tensor
    clipfrac: torch.Tensor


def ppo_loss(new_logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
             new_values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
             entropy: torch.Tensor, *, clip: float, vf_coef: float, ent_coef: float,
             vf_clip: float | None = None, norm_adv: bool = True) -> LossParts:
    """CleanRL's PPO objective on flat tensors (all [B])."""
    if norm_adv and advantages.numel() > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    log_ratio = new_logp - old_logp
    ratio = log_ratio.exp()
    pg = torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - clip, 1 + clip)).mean()
    if vf_clip is None:
        v = 0.5 * ((new_values - returns) ** 2).mean()
    else:
        clipped = old_values + (new_values - old_values).clamp(-vf_clip, vf_clip)
        v = 0.5 * torch.max((new_values - returns) ** 2, (clipped - returns) ** 2).mean()
    ent = entropy.mean()
    with torch.no_grad():
        approx_kl = ((ratio - 1) - log_ratio).mean()
        clipfrac = ((ratio - 1.0).abs() > clip).float().mean()
    return LossParts(pg - ent_coef * ent + vf_coef * v, pg, v, ent, approx_kl, clipfrac)
