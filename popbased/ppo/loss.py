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
             entropy: torch.Tensor, *, clip, vf_coef, ent_coef, vf_clip=None,
             norm_adv: bool = True, valid: torch.Tensor | None = None) -> LossParts:
    """CleanRL's PPO objective on flat tensors (all [B]), or on several members' minibatches
    at once: tensors [M, B] with `valid` [M, B] (False: padding, left out of every mean) and
    the coefficients as numbers or [M] tensors; the parts are then [M], one per member."""
    def mean(x: torch.Tensor) -> torch.Tensor:
        return x.mean() if valid is None else (x * valid).sum(-1) / count

    if valid is None:
        if norm_adv and advantages.numel() > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    else:
        valid = valid.to(advantages.dtype)
        count = valid.sum(-1)
        if torch.is_tensor(clip):
            clip = clip.unsqueeze(-1)
        if torch.is_tensor(vf_clip):
            vf_clip = vf_clip.unsqueeze(-1)
        if norm_adv:
            centred = advantages - mean(advantages).unsqueeze(-1)
            std = ((centred ** 2 * valid).sum(-1) / (count - 1).clamp(min=1)).sqrt()
            normed = centred / (std.unsqueeze(-1) + 1e-8)
            advantages = torch.where((count > 1).unsqueeze(-1), normed, advantages)
    log_ratio = new_logp - old_logp
    ratio = log_ratio.exp()
    pg = mean(torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - clip, 1 + clip)))
    if vf_clip is None:
        v = 0.5 * mean((new_values - returns) ** 2)
    else:
        clipped = old_values + (new_values - old_values).clamp(-vf_clip, vf_clip)
        v = 0.5 * mean(torch.max((new_values - returns) ** 2, (clipped - returns) ** 2))
    ent = mean(entropy)
    with torch.no_grad():
        approx_kl = mean((ratio - 1) - log_ratio)
        clipfrac = mean(((ratio - 1.0).abs() > clip).float())
    return LossParts(pg - ent_coef * ent + vf_coef * v, pg, v, ent, approx_kl, clipfrac)
