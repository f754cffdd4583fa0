"""The PPO loss (popbased.ppo.loss) against hand-computed values."""

import math

import pytest
import torch

from popbased.ppo.loss import ppo_loss


def test_ppo_loss_by_hand():
    new_logp = torch.log(torch.tensor([0.5, 0.2]))
    old_logp = torch.log(torch.tensor([0.25, 0.4]))   # ratios 2.0 and 0.5
    adv = torch.tensor([1.0, -1.0])
    new_v, old_v, ret = torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.5]), torch.tensor([2.0, -1.0])
    ent = torch.tensor([1.0, 3.0])
    parts = ppo_loss(new_logp, old_logp, adv, new_v, old_v, ret, ent, clip=0.2, vf_coef=0.5,
                     ent_coef=0.01, norm_adv=False)
    # sample 0: max(-1*2, -1*1.2) = -1.2 ; sample 1: max(1*0.5, 1*0.8) = 0.8
    assert parts.policy.item() == pytest.approx((-1.2 + 0.8) / 2)
    assert parts.value.item() == pytest.approx(0.5 * ((1 - 2) ** 2 + (0 + 1) ** 2) / 2)
    assert parts.entropy.item() == pytest.approx(2.0)
    assert parts.total.item() == pytest.approx(-0.2 - 0.01 * 2.0 + 0.5 * 0.5)
    assert parts.clipfrac.item() == pytest.approx(1.0)
    kl = ((2 - 1) - math.log(2) + (0.5 - 1) - math.log(0.5)) / 2
    assert parts.approx_kl.item() == pytest.approx(kl, rel=1e-5)
    clipped = ppo_loss(new_logp, old_logp, adv, new_v, old_v, ret, ent, clip=0.2, vf_coef=0.5,
                       ent_coef=0.01, vf_clip=0.1, norm_adv=False)
    # clipped values 0.6 and 0.4: max((1-2)^2, (0.6-2)^2) = 1.96 ; max(1, (0.4+1)^2) = 1.96
    assert clipped.value.item() == pytest.approx(0.5 * (1.96 + 1.96) / 2)
