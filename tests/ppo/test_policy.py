"""GAE, the PPO loss, masking and the policy network, against hand-computed values."""

import math

import numpy as np
import pytest
import torch

from popbased.errors import BadInput
from popbased.ppo.actions import ActionMap
from popbased.ppo.config import NetConfig, PPOConfig
from popbased.ppo.gae import gae
from popbased.ppo.loss import ppo_loss
from popbased.ppo.policy import Policy, count_parameters, entropy, masked_log_softmax, sample
from popbased.ppo import shaping

ACTIONS = ("NOOP", "FORWARD", "BACKWARD", "STEP_LEFT", "STEP_RIGHT", "TURN_LEFT", "TURN_RIGHT",
           "FIRE_ZAP")


def test_gae_by_hand():
    # one seat, three steps, the episode ends after step 1 (index 1)
    r = np.array([[1.0], [2.0], [3.0]], dtype=np.float32)
    v = np.array([[0.5], [1.0], [1.5]], dtype=np.float32)
    d = np.array([[False], [True], [False]])
    last = np.array([2.0], dtype=np.float32)
    g, lam = 0.9, 0.8
    d2 = 3 + g * 2.0 - 1.5                      # bootstraps from last_value
    a2 = d2
    d1 = 2 - 1.0                                # episode ended: no bootstrap, no carry
    a1 = d1
    d0 = 1 + g * 1.0 - 0.5
    a0 = d0 + g * lam * a1
    adv, ret = gae(r, v, d, last, g, lam)
    assert adv[:, 0] == pytest.approx([a0, a1, a2])
    assert ret[:, 0] == pytest.approx([a0 + 0.5, a1 + 1.0, a2 + 1.5])


def test_gae_lambda_one_is_discounted_return():
    rng = np.random.default_rng(0)
    r = rng.normal(size=(6, 2)).astype(np.float32)
    v = rng.normal(size=(6, 2)).astype(np.float32)
    d = np.zeros((6, 2), dtype=bool)
    last = np.zeros(2, dtype=np.float32)
    _, ret = gae(r, v, d, last, 0.5, 1.0)
    expected = [sum(0.5 ** k * r[t + k, 0] for k in range(6 - t)) for t in range(6)]
    assert ret[:, 0] == pytest.approx(expected, rel=1e-5)


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


def test_action_map_between_variants():
    open_actions = ACTIONS
    no_zap = ACTIONS[:7]
    small_onto_open = ActionMap(no_zap, open_actions)
    assert small_onto_open.to_arena.tolist() == list(range(7))
    arena_mask = np.ones((2, 8), dtype=bool)
    assert small_onto_open.member_mask(arena_mask).shape == (2, 7)
    big_onto_small = ActionMap(open_actions, tuple(reversed(no_zap)))
    mask = big_onto_small.member_mask(np.ones((1, 7), dtype=bool))
    assert mask[0].tolist() == [True] * 7 + [False]
    assert big_onto_small.to_arena[:7].tolist() == list(reversed(range(7)))
    with pytest.raises(BadInput):
        ActionMap(("FOO",), open_actions)


def test_shaping_weights():
    components = ("reward", "zap_hits", "zapped", "others_reward")
    r = np.array([[1.0, 2.0, 1.0, 3.0]], dtype=np.float32)
    assert shaping.shaped(r, {"reward": 1.0, "zapped": -0.5, "others_reward": 0.1}, components)[0] \
        == pytest.approx(1.0 - 0.5 + 0.3)
    assert shaping.default_weights(components) == {"reward": 1.0}
    assert shaping.default_weights(components + ("apples_in_view", "farmer"))["farmer"] == 1.0
    with pytest.raises(BadInput, match="unknown reward component 'farmer'"):
        shaping.validate({"farmer": 1.0}, components)
    with pytest.raises(BadInput, match="finite"):
        shaping.validate({"reward": float("nan")}, components)


def test_config_validation():
    with pytest.raises(BadInput, match="clip"):
        PPOConfig(clip=0)
    with pytest.raises(BadInput, match="conv"):
        Policy(5, ACTIONS, NetConfig(conv_channels=(8, 8, 8), conv_strides=(1, 2, 2)))
