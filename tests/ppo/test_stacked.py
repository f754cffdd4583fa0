"""popbased.ppo.stacked: one forward pass for several members equals each member's own, on
every device of the `device` fixture (inputs drawn on the CPU, then moved there)."""

import pytest
import torch

from popbased.ppo.config import NetConfig
from popbased.ppo.policy import Policy
from popbased.ppo.stacked import StackedPolicies
from popbased.substrates import resolve

OPEN = resolve("open")
NO_ZAP_ACTIONS = tuple(a for a in OPEN.action_names if a != "FIRE_ZAP")


@pytest.mark.parametrize("lstm", [0, 16])
@pytest.mark.parametrize("grouped", [False, True])
def test_one_stacked_forward_equals_each_members_own(lstm, grouped, device):
    torch.manual_seed(0)
    policies = [Policy(11, OPEN.action_names, NetConfig(conv_channels=(16, 8), conv_strides=(1, 2),
                                                         lstm=lstm)).to(device) for _ in range(4)]
    stacked = StackedPolicies.of(policies)
    stacked.grouped_conv = grouped
    obs = torch.randint(0, 256, (4, 9, 11, 11, 3), dtype=torch.uint8).to(device)
    starts = (torch.rand(4, 9) < 0.3).to(device)
    state = torch.randn(4, 9, 2, lstm).to(device) if lstm else None
    logits, values, new_state = stacked(obs, state, starts)
    for i, policy in enumerate(policies):
        with torch.inference_mode():
            ref_logits, ref_values, ref_state = policy(obs[i], None if state is None else state[i],
                                                       starts[i])
        # float32, summed in another order: equal to 1e-5 (observed: about 1e-8 on logits)
        torch.testing.assert_close(logits[i], ref_logits, rtol=0, atol=1e-5)
        torch.testing.assert_close(values[i], ref_values, rtol=0, atol=1e-5)
        if lstm:
            torch.testing.assert_close(new_state[i], ref_state, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="one architecture"):
        StackedPolicies.of([policies[0], Policy(11, NO_ZAP_ACTIONS).to(device)])


@pytest.mark.parametrize("lstm", [0, 16])
@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("counts", [[10, 1, 1, 1], [6, 8, 9, 7]])
def test_row_policies_equal_each_members_own_forward(lstm, padded, counts, device):
    """RowPolicies (the device collector's pass: a league's members over one flat batch of
    rows, member after member, a no_zap member's actor widened to the arena's actions):
    each member's rows equal its own Policy.forward, both on its own rows (CPUs) and padded
    into one stack (CUDA's way, also run on the CPU); the widened logit is MASKED_LOGIT."""
    from popbased.ppo.policy import MASKED_LOGIT
    from popbased.ppo.stacked import RowPolicies, pad_actions

    torch.manual_seed(1)
    net = NetConfig(lstm=lstm)
    policies = [Policy(11, NO_ZAP_ACTIONS if i == 2 else OPEN.action_names, net).to(device)
                for i in range(4)]
    width = len(OPEN.action_names)
    rows = RowPolicies(net, [pad_actions(p.state_dict(), width) for p in policies], counts,
                       device, padded=padded)
    total = sum(counts)
    obs = torch.randint(0, 256, (total, 11, 11, 3), dtype=torch.uint8).to(device)
    starts = (torch.rand(total) < 0.3).to(device)
    state = torch.randn(total, 2, lstm).to(device) if lstm else None
    logits, values, new_state = rows(obs, state, starts)
    assert logits.shape == (total, width) and values.shape == (total,)
    lo = 0
    for policy, c in zip(policies, counts):
        hi = lo + c
        with torch.inference_mode():
            ref = policy(obs[lo:hi], None if state is None else state[lo:hi], starts[lo:hi])
        actions = len(policy.action_names)
        torch.testing.assert_close(logits[lo:hi, :actions], ref[0], rtol=0, atol=1e-5)
        assert (logits[lo:hi, actions:] == MASKED_LOGIT).all()
        torch.testing.assert_close(values[lo:hi], ref[1], rtol=0, atol=1e-5)
        if lstm:
            torch.testing.assert_close(new_state[lo:hi], ref[2], rtol=0, atol=1e-5)
        lo = hi
    if padded:  # the precomputed flat positions take exactly the valid cells, in order
        pad = rows.index
        stacked = rows.stacked(obs[pad], None if state is None else state[pad], starts[pad])
        assert torch.equal(logits, stacked[0][rows.valid]) and torch.equal(values, stacked[1][rows.valid])
        if lstm:
            assert torch.equal(new_state, stacked[2][rows.valid])
