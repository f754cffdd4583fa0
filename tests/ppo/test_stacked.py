"""popbased.ppo.stacked: one forward pass for several members equals each member's own."""

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
def test_one_stacked_forward_equals_each_members_own(lstm, grouped):
    torch.manual_seed(0)
    policies = [Policy(11, OPEN.action_names, NetConfig(conv_channels=(16, 8), conv_strides=(1, 2),
                                                         lstm=lstm)) for _ in range(4)]
    stacked = StackedPolicies.of(policies)
    stacked.grouped_conv = grouped
    obs = torch.randint(0, 256, (4, 9, 11, 11, 3), dtype=torch.uint8)
    starts = torch.rand(4, 9) < 0.3
    state = torch.randn(4, 9, 2, lstm) if lstm else None
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
        StackedPolicies.of([policies[0], Policy(11, NO_ZAP_ACTIONS)])


@pytest.mark.parametrize("lstm", [0, 16])
@pytest.mark.parametrize("counts", [[10, 1, 1, 1], [10, 8, 9, 7]])
def test_uneven_members_equal_their_own_forward(lstm, counts):
    """With counts (a league seats its members unevenly), each member's real rows equal its
    own forward; when padding would more than triple the rows (the first case), each
    member runs on its own rows (on CPUs) and the padding comes out as zeros."""
    torch.manual_seed(1)
    policies = [Policy(11, OPEN.action_names, NetConfig(lstm=lstm)) for _ in range(4)]
    stacked = StackedPolicies.of(policies)
    obs = torch.randint(0, 256, (4, 10, 11, 11, 3), dtype=torch.uint8)
    starts = torch.rand(4, 10) < 0.3
    state = torch.randn(4, 10, 2, lstm) if lstm else None
    logits, values, new_state = stacked(obs, state, starts, counts)
    one_by_one = 4 * 10 > 3 * sum(counts)
    for i, (policy, c) in enumerate(zip(policies, counts)):
        with torch.inference_mode():
            ref = policy(obs[i, :c], None if state is None else state[i, :c], starts[i, :c])
        torch.testing.assert_close(logits[i, :c], ref[0], rtol=0, atol=1e-5)
        torch.testing.assert_close(values[i, :c], ref[1], rtol=0, atol=1e-5)
        if one_by_one:
            assert not logits[i, c:].any() and not values[i, c:].any()
        if lstm:
            torch.testing.assert_close(new_state[i, :c], ref[2], rtol=0, atol=1e-5)
