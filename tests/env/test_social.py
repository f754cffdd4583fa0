"""Social-preference reward components (popbased.env.social, popbased.env.fast.social):
inequity aversion and the SVO distance against hand-computed episodes, the same numbers on
both engines (the component code driven with the same rewards, and a real Melting Pot
episode replayed on the fast env from its first state), episode resets, parameters."""

import math

import numpy as np
import pytest
import torch

from popbased.env import social as mp_social
from popbased.env.fast import capture
from popbased.env.fast import social as fast_social
from popbased.env.fast.env import FastBatchedEnv
from popbased.env.fast.maps import build_map
from popbased.env.fast.scripted import move_actions
from popbased.env.instance import FAST_COMPONENTS, EnvRunner, component_names, state_size
from popbased.env.pool import BatchedEnv
from popbased.env.social import SOCIAL_COMPONENTS
from popbased.errors import BadInput
from popbased.play.scripted import lab_moves
from popbased.substrates import resolve
from popbased.substrates.params import CommonsParams, parse_params

Q = math.pi / 4  # the default target angle, 45 degrees

# Three players, decay 0.5, target 45 degrees. Columns: disadvantageous_inequity,
# advantageous_inequity, svo_distance. e: traces after the step (e = 0.5 e + r).
REWARDS = [[0, 0, 0], [1, 0, 0], [0, 1, 1], [2, 0, 1]]
EXPECTED = [
    # e = [0, 0, 0]: no inequity; atan2(0, 0) = 0, so the distance is |pi/4 - 0|
    [[0, 0, Q], [0, 0, Q], [0, 0, Q]],
    # e = [1, 0, 0]. p0: AI (1 + 1) / 2 = 1; others' mean 0 -> angle 0 -> pi/4.
    # p1, p2: DI (1 + 0) / 2 = 0.5; others' mean 0.5, own 0 -> angle pi/2 -> |pi/4 - pi/2| = pi/4
    [[0, 1, Q], [0.5, 0, Q], [0.5, 0, Q]],
    # e = 0.5 [1, 0, 0] + [0, 1, 1] = [0.5, 1, 1]. p0: DI (0.5 + 0.5) / 2 = 0.5; angle
    # atan2(1, 0.5) = atan(2) = 1.1071487 -> 1.1071487 - 0.7853982 = 0.3217506.
    # p1, p2: AI (0.5 + 0) / 2 = 0.25; angle atan2(0.75, 1) = 0.6435011 -> 0.1418971
    [[0.5, 0, 0.3217506], [0, 0.25, 0.1418971], [0, 0.25, 0.1418971]],
    # e = 0.5 [0.5, 1, 1] + [2, 0, 1] = [2.25, 0.5, 1.5].
    # p0: AI (1.75 + 0.75) / 2 = 1.25; angle atan2(1, 2.25) = 0.4182243 -> 0.3671739.
    # p1: DI (1.75 + 1) / 2 = 1.375; angle atan2(1.875, 0.5) = atan(3.75) = 1.3101939 -> 0.5247958.
    # p2: DI (0.75 + 0) / 2 = 0.375, AI (1 - 0) / 2 = 0.5; angle atan2(1.375, 1.5) = 0.7419473
    #     -> 0.0434509
    [[0, 1.25, 0.3671739], [1.375, 0, 0.5247958], [0.375, 0.5, 0.0434509]],
]


def fast_run(rewards, decay, angle_degrees, worlds=1):
    traces = torch.zeros(worlds, len(rewards[0]))
    return [fast_social.step(traces, torch.tensor([r] * worlds, dtype=torch.float32), decay,
                             math.radians(angle_degrees))[0].numpy() for r in rewards]


def test_hand_computed_episode_melting_pot_side():
    traces = mp_social.SocialTraces(3, 0.5, 45.0)
    for r, expected in zip(REWARDS, EXPECTED):
        np.testing.assert_allclose(traces.update(np.array(r, float)), expected, atol=1e-6)
    np.testing.assert_array_equal(traces.traces, [2.25, 0.5, 1.5])
    traces.reset()
    assert not traces.traces.any()


def test_hand_computed_episode_fast_side():
    for got, expected in zip(fast_run(REWARDS, 0.5, 45.0, worlds=2), EXPECTED):
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_svo_angle_is_in_degrees_and_atan2_keeps_the_quadrant():
    # target 90 (altruistic): e = [1, 0, 0]: p0's angle 0 -> pi/2; p1's pi/2 -> 0
    got = mp_social.SocialTraces(3, 0.975, 90.0).update(np.array([1.0, 0, 0]))
    np.testing.assert_allclose(got[:, 2], [math.pi / 2, 0, 0], atol=1e-6)
    # negative rewards: own -1, others' mean 0 -> angle pi (atan2's quadrant, not atan's 0)
    got = mp_social.components(np.array([-1.0, 0.0, 0.0]), 0.0)
    np.testing.assert_allclose(got[0], [1.0, 0.0, math.pi], atol=1e-6)
    np.testing.assert_allclose(fast_social.components(torch.tensor([[-1.0, 0.0, 0.0]]), 0.0)[0, 0],
                               [1.0, 0.0, math.pi], atol=1e-6)
    # -0.0 traces are zeros too: angle 0, not pi
    assert mp_social.components(np.array([-0.0, -0.0]), 0.0)[0, 2] == 0.0
    assert fast_social.components(torch.tensor([-0.0, -0.0]), 0.0)[0, 2] == 0.0


def test_both_engines_give_the_same_numbers_on_the_same_rewards():
    """Random rewards (0, 1 or 2 apples, mostly 0) in 4 worlds of 5 players with episode ends:
    the Melting Pot code per world, the fast code on [worlds, players]."""
    rng = np.random.default_rng(0)
    worlds, players, decay, angle = 4, 5, 0.975, 30.0
    fast_traces = torch.zeros(worlds, players)
    mp = [mp_social.SocialTraces(players, decay, angle) for _ in range(worlds)]
    for t in range(300):
        r = rng.choice([0.0, 1.0, 2.0], p=[0.8, 0.15, 0.05], size=(worlds, players))
        fast = fast_social.step(fast_traces, torch.from_numpy(r).float(), decay, math.radians(angle))
        for b in range(worlds):
            np.testing.assert_allclose(fast[b].numpy(), mp[b].update(r[b]), rtol=1e-5, atol=1e-5)
            np.testing.assert_array_equal(fast_traces[b].numpy(), mp[b].traces)  # bit for bit
        done = rng.random(worlds) < 0.02
        fast_traces.masked_fill_(torch.from_numpy(done)[:, None], 0.0)
        for b in np.flatnonzero(done):
            mp[b].reset()


def test_component_columns_only_when_asked():
    plain, social = resolve("open"), resolve("open", {"social": "true"})
    assert not set(SOCIAL_COMPONENTS) & set(component_names(plain, True, fast=True))
    names = component_names(social)
    # after the components every run had, in the same places; the fast-only ones after them
    assert names == component_names(plain) + SOCIAL_COMPONENTS
    assert component_names(social, fast=True) == names + FAST_COMPONENTS
    assert component_names(social, True) == component_names(plain, True) + SOCIAL_COMPONENTS


@pytest.mark.parametrize("raw, message", [
    ({"inequity_decay": "0.9"}, "add social=true"),
    ({"svo_angle": "90"}, "add social=true"),
    ({"social": "true", "inequity_decay": "1.5"}, r"\[0, 1\]"),
    ({"social": "true", "inequity_decay": "nan"}, r"\[0, 1\]"),
    ({"social": "true", "svo_angle": "200"}, "degrees"),
    ({"social": "true", "players": "1"}, "players >= 2"),
])
def test_bad_parameters(raw, message):
    with pytest.raises(BadInput, match=message):
        parse_params(raw)


def test_parameters():
    p = parse_params({"social": "yes", "inequity_decay": "0.95", "svo_angle": "-30"})
    assert p.social and p.inequity_decay == 0.95 and p.svo_angle == -30.0
    assert CommonsParams().inequity_decay == 0.975 and CommonsParams().svo_angle == 45.0


def test_fast_env_traces_restart_with_each_episode(device):
    spec = resolve("open", {"players": "3", "social": "true", "inequity_decay": "0.8"})
    env = FastBatchedEnv(spec, 3, seed=2, max_episode_steps=6, device=device)
    env.reset()
    col = [env.column[k] for k in SOCIAL_COMPONENTS]
    traces = torch.zeros(3, 3)
    gen = torch.Generator().manual_seed(1)
    for step in range(20):
        out = env.step_tensors(torch.randint(0, env.num_actions, (env.num_seats,), generator=gen)
                               .to(device))
        rewards = out.rewards.view(3, 3, -1).cpu()
        expected = fast_social.step(traces, rewards[..., env.column["reward"]], 0.8, math.radians(45.0))
        torch.testing.assert_close(rewards[..., col], expected)
        if step % 6 == 5:
            assert out.done.all()
            traces.zero_()
    assert not env._traces.any()  # the last step ended every episode


def test_melting_pot_traces_restart_with_each_episode():
    spec = resolve("open", {"players": "2", "social": "true", "svo_angle": "0"})
    with BatchedEnv(spec, 1, seed=0, backend="inline", max_episode_steps=3) as env:
        env.reset()
        runner = env._runners[0]
        runner.social.traces[:] = [5.0, 1.0]  # as if the episode had paid player 0 well
        out = env.step(np.zeros(env.num_seats, int))  # NOOP: nobody eats
        assert out.rewards[0, env.components.index("advantageous_inequity")] > 3
        for _ in range(2):
            out = env.step(np.zeros(env.num_seats, int))
        assert out.done.all() and not runner.social.traces.any()  # the new episode's
        out = env.step(np.zeros(env.num_seats, int))
    social = [env.components.index(k) for k in SOCIAL_COMPONENTS]
    np.testing.assert_array_equal(out.rewards[:, social], 0.0)  # angle 0 and target 0


def test_fast_env_equals_melting_pot_on_a_replayed_episode():
    """A real Melting Pot episode and the fast env started from its first state, stepped with
    the same actions: the same harvest every step, hence the same social components. The
    private_property map (walled plots: no contested cells, whose winner each engine draws
    on its own), no zaps, almost no regrowth (10^-4: each engine draws its own); player 0
    greedy, player 1 sustainable, player 2 idle, so the harvest is unequal."""
    params = CommonsParams(map="private_property", players=3, no_zap=True, regrowth=1e-4,
                           social=True, inequity_decay=0.9, svo_angle=30.0)
    spec = capture.validation_spec(params)
    game = build_map(params)
    runner = EnvRunner(spec, np.random.default_rng(7))
    runner.state = np.zeros(state_size(spec))
    P = params.players
    rgb, ready = np.zeros((P, 11, 11, 3), np.uint8), np.zeros(P)
    runner.begin(rgb, ready)
    fast = FastBatchedEnv(spec, 1, seed=0)
    fast.reset()
    capture.load(fast.world, 0, capture.parse_state(runner.state, game, np.zeros(P, np.int64)))
    to_actions = move_actions(spec.action_names)
    real_rewards = np.zeros((P, len(runner.components)), np.float32)
    assert fast.components == runner.components + FAST_COMPONENTS
    columns = [runner.column[k] for k in SOCIAL_COMPONENTS]
    eaten, most = np.zeros(P), np.zeros(3)
    for step in range(150):
        state = capture.parse_state(runner.state, game, np.zeros(P, np.int64))
        moves = np.stack([lab_moves(state, game, "greedy"), lab_moves(state, game, "sustainable")])
        actions = to_actions[[moves[0, 0], moves[1, 1], 0]]  # 0: NOOP
        assert runner.step(actions, rgb, ready, real_rewards) is None
        out = fast.step_tensors(torch.from_numpy(actions).long()).rewards.numpy()
        np.testing.assert_array_equal(out[:, 0], real_rewards[:, 0], err_msg=f"step {step}")
        np.testing.assert_allclose(out[:, columns], real_rewards[:, columns], rtol=1e-5, atol=1e-5,
                                   err_msg=f"step {step}")
        eaten += real_rewards[:, 0]
        most = np.maximum(most, real_rewards[:, columns].max(0))
    runner.close()
    assert eaten[0] > eaten[1] > eaten[2] == 0  # unequal harvests
    assert (most[:2] > 1).all() and most[2] > 0.5  # DI, AI, the SVO distance all came into play


def test_weighing_a_social_component_without_social_true_says_how():
    from popbased.ppo import shaping

    with pytest.raises(BadInput, match="svo_distance.*social=true"):
        shaping.validate({"svo_distance": -1.0}, component_names(resolve("open")), "--shaping")
    weights = shaping.validate({"svo_distance": -1.0}, component_names(resolve("open", {"social": "1"})))
    assert weights == {"svo_distance": -1.0}


class Reads(torch.overrides.TorchFunctionMode):
    """Counts the torch calls that read a device value on the host (a sync on a GPU)."""

    NAMES = {"item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__", "__index__",
             "nonzero", "_local_scalar_dense"}

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += getattr(func, "__name__", "") in self.NAMES
        return func(*args, **(kwargs or {}))


def test_social_components_add_no_host_read():
    """With World.sync_free (a GPU's way, here on the CPU), the env with social=true reads the
    device exactly as often as without, step by step, episode ends included."""
    envs = [FastBatchedEnv(resolve("open", params), 4, seed=3, max_episode_steps=60)
            for params in ({}, {"social": "true"})]
    for env in envs:
        env.world.sync_free = True
        env.reset_tensors()
    gen = torch.Generator().manual_seed(2)
    for step in range(130):
        actions = torch.randint(0, envs[0].num_actions, (envs[0].num_seats,), generator=gen)
        counts = []
        for env in envs:
            with Reads() as reads:
                env.step_tensors(actions)
            counts.append(reads.count)
        assert counts[0] == counts[1] >= 1, (step, counts)  # >= 1: the world step's read
    torch.testing.assert_close(envs[0].world.pos, envs[1].world.pos)  # the same worlds
