"""The policy network (popbased.ppo.policy): masked sampling, its size, sequences vs steps,
LSTM resets."""

import pytest
import torch

from popbased.ppo.config import NetConfig
from popbased.ppo.policy import Policy, count_parameters, entropy, masked_log_softmax, sample

from conftest import ACTIONS


def test_masked_actions_are_never_sampled():
    torch.manual_seed(0)
    logits = torch.randn(4000, 8) * 3
    mask = torch.rand(4000, 8) > 0.5
    mask[torch.arange(4000), torch.randint(0, 8, (4000,))] = True
    logp = masked_log_softmax(logits, mask)
    for _ in range(5):
        a = sample(logp)
        assert mask[torch.arange(4000), a].all()
    assert torch.isfinite(entropy(logp)).all()
    assert torch.allclose(logp.exp().sum(-1), torch.ones(4000))


def test_gumbel_max_sampling_draws_actions_at_their_softmax_probabilities():
    """sample (Gumbel-max from a generator) draws each action at its masked softmax
    probability: a chi-square test per row over 40,000 draws, a generator seeds the stream,
    and masked actions (and padded MASKED_LOGIT ones) are never drawn."""
    from scipy.stats import chisquare

    torch.set_num_threads(1)
    logits = torch.tensor([[2.0, 0.5, -1.0, 0.0, 1.0, -3.0, 0.3, 0.0],
                           [0.0] * 8,
                           [5.0, 4.0, -2.0, 0.0, 0.0, 0.0, 1.0, -8.0]])
    mask = torch.tensor([[True] * 8,
                         [True, False, True, True, False, True, True, False],
                         [False, True, True, True, True, True, True, True]])
    logp = masked_log_softmax(logits, mask)
    draws = 40_000
    g = torch.Generator().manual_seed(3)
    a = sample(logp.unsqueeze(0).expand(draws, -1, -1), g)  # [draws, 3]
    assert a.shape == (draws, 3)
    p = logp.exp()
    for row in range(3):
        counts = torch.bincount(a[:, row], minlength=8)
        assert (counts[~mask[row]] == 0).all()
        legal = mask[row]
        expected = p[row, legal].double()
        expected = expected / expected.sum() * draws
        _, pvalue = chisquare(counts[legal].double().numpy(), expected.numpy())
        assert pvalue > 1e-3, (row, counts, p[row] * draws)
    again = sample(logp.unsqueeze(0).expand(draws, -1, -1), torch.Generator().manual_seed(3))
    assert torch.equal(a, again)


def test_policy_never_emits_masked_action():
    policy = Policy(11, ACTIONS, NetConfig())
    obs = torch.randint(0, 255, (64, 11, 11, 3), dtype=torch.uint8)
    mask = torch.ones(64, 8, dtype=torch.bool)
    mask[:, 7] = False  # no FIRE_ZAP
    with torch.no_grad():
        policy.actor.bias[7] = 50.0  # the network would otherwise always zap
        for _ in range(20):
            action, logp, ent, value, _ = policy.get_action_and_value(obs, mask=mask)
            assert (action != 7).all()
    assert torch.isfinite(logp).all() and torch.isfinite(ent).all()


def test_reference_network_size():
    n = count_parameters(Policy(11, ACTIONS, NetConfig()))
    assert 200_000 <= n <= 300_000, n


@pytest.mark.parametrize("lstm", [0, 16])
def test_sequence_forward_matches_step_by_step(lstm):
    torch.manual_seed(1)
    policy = Policy(11, ACTIONS, NetConfig(lstm=lstm))
    steps, n = 6, 3
    obs = torch.randint(0, 255, (steps, n, 11, 11, 3), dtype=torch.uint8)
    starts = torch.zeros(steps, n, dtype=torch.bool)
    starts[3, 1] = True
    state0 = policy.initial_state(n)
    if state0 is not None:
        state0 = torch.randn_like(state0)
    logits_seq, values_seq = policy.forward_sequence(obs, state0, starts)
    state = state0
    for t in range(steps):
        logits, values, state = policy(obs[t], state, starts[t])
        assert torch.allclose(logits, logits_seq[t], atol=1e-5)
        assert torch.allclose(values, values_seq[t], atol=1e-5)


def test_lstm_state_resets_at_episode_start():
    policy = Policy(11, ACTIONS, NetConfig(lstm=8))
    obs = torch.randint(0, 255, (2, 11, 11, 3), dtype=torch.uint8)
    fresh = policy(obs, policy.initial_state(2), torch.tensor([True, True]))[0]
    noisy = policy(obs, torch.randn(2, 2, 8), torch.tensor([True, False]))[0]
    assert torch.allclose(fresh[0], noisy[0]) and not torch.allclose(fresh[1], noisy[1])
