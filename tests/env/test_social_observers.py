"""Each member's own social parameters (popbased.env.social per-observer traces): every player
i smooths everyone's rewards with its own lambda_i and reads its own theta_i. Hand-computed
steps; one lambda and theta for all gives the shared traces' numbers bit for bit; the fast env
(set_social) and Melting Pot's rollout workers (ObserverTraces) compute the same as the numpy
reference; population files take [social.*] genes, checked, and members publish them."""

import math

import numpy as np
import pytest
import torch

from popbased.env import social
from popbased.env.fast import social as fast_social
from popbased.env.fast.env import FastBatchedEnv
from popbased.errors import BadInput
from popbased.population import spec as population_spec
from popbased.population.explore import explore
from popbased.substrates import resolve

Q = math.pi / 4


def test_each_player_smooths_with_its_own_lambda_and_reads_its_own_theta():
    # 3 players; player 0: lambda 0.5, theta 0; player 1: lambda 1 (sums), theta 90 degrees;
    # player 2: lambda 0 (this step only), theta 45 degrees
    traces = social.ObserverTraces(1, 3)
    decay = np.array([[0.5, 1.0, 0.0]])
    theta = np.radians([[0.0, 90.0, 45.0]])
    traces.update(np.array([[2.0, 0.0, 0.0]]), decay, theta, np.array([False]))
    out = traces.update(np.array([[0.0, 2.0, 0.0]]), decay, theta, np.array([False]))
    # player 0's traces: 0.5 * [2, 0, 0] + [0, 2, 0] = [1, 2, 0]: behind (2 - 1) / 2 = 0.5,
    #   ahead (1 - 0) / 2 = 0.5, others' mean 1 = own 1 -> angle pi/4, |0 - pi/4| = pi/4
    # player 1's: [2, 2, 0]: behind 0, ahead (0 + 2) / 2 = 1, others' mean 1, own 2 ->
    #   atan2(1, 2) = 0.4636476, |pi/2 - 0.4636476| = 1.1071487
    # player 2's: [0, 2, 0]: behind (0 + 2) / 2 = 1, ahead 0, others' mean 1, own 0 -> pi/2,
    #   |pi/4 - pi/2| = pi/4
    np.testing.assert_allclose(out[0], [[0.5, 0.5, Q], [0, 1, 1.1071487], [1, 0, Q]], rtol=1e-6)
    np.testing.assert_array_equal(traces.traces[0, 1], [2, 2, 0])
    traces.update(np.array([[1.0, 1.0, 1.0]]), decay, theta, np.array([True]))
    assert not traces.traces.any()  # an ended episode starts the next from zero


def test_one_lambda_and_theta_for_all_give_the_shared_numbers_bit_for_bit():
    rng = np.random.default_rng(0)
    shared = social.SocialTraces(7, 0.9, 30.0)
    observers = social.ObserverTraces(1, 7)
    for _ in range(50):
        r = rng.integers(0, 2, 7).astype(np.float32)
        a = shared.update(r)
        b = observers.update(r[None], np.full((1, 7), 0.9), np.full((1, 7), math.radians(30.0)), np.array([False]))
        np.testing.assert_array_equal(a, b[0])


def test_torch_and_numpy_agree_with_a_lambda_and_theta_per_player(device):
    rng = np.random.default_rng(1)
    decay = rng.uniform(0.5, 1.0, (4, 7))
    theta = np.radians(rng.uniform(-90, 90, (4, 7)))
    ref = social.ObserverTraces(4, 7)
    traces = torch.zeros(4, 7, 7, device=device)
    d, t = (torch.tensor(x, dtype=torch.float32, device=device) for x in (decay, theta))
    for _ in range(100):
        r = rng.integers(0, 2, (4, 7)).astype(np.float32)
        want = ref.update(r, decay, theta, np.zeros(4, bool))
        got = fast_social.observer_step(traces, torch.from_numpy(r).to(device), d, t)
        np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-5, atol=1e-6)


def test_the_fast_env_uses_each_seats_own_parameters_and_nan_keeps_the_variants(device):
    spec = resolve("open", {"social": "true", "inequity_decay": "0.9", "svo_angle": "30"})
    plain = FastBatchedEnv(spec, 3, seed=5, device=device, max_episode_steps=40)
    nan = FastBatchedEnv(spec, 3, seed=5, device=device, max_episode_steps=40)
    own = FastBatchedEnv(spec, 3, seed=5, device=device, max_episode_steps=40)
    for env in (plain, nan, own):
        env.reset_tensors()
    seats = plain.num_seats
    nan.set_social(torch.full((seats,), float("nan")), torch.full((seats,), float("nan")))
    rng = np.random.default_rng(2)
    decay = rng.uniform(0.5, 1.0, seats)
    theta = np.radians(rng.uniform(0, 90, seats))
    own.set_social(torch.from_numpy(decay), torch.from_numpy(theta))
    ref = social.ObserverTraces(3, 7)
    cols = [plain.components.index(n) for n in social.SOCIAL_COMPONENTS]
    for _ in range(100):
        actions = torch.from_numpy(rng.integers(0, 8, seats)).to(device)
        a, b, c = (env.step_tensors(actions) for env in (plain, nan, own))
        assert torch.equal(a.rewards, b.rewards)  # NaN: the variant's lambda and theta
        assert torch.equal(a.rewards[:, 0], c.rewards[:, 0])  # the game itself is the same
        want = ref.update(c.rewards[:, 0].cpu().numpy().reshape(3, 7), decay.reshape(3, 7),
                          theta.reshape(3, 7), c.done.cpu().numpy().reshape(3, 7)[:, 0])
        np.testing.assert_allclose(c.rewards[:, cols].cpu().numpy(), want.reshape(-1, 3), rtol=1e-5, atol=1e-6)


POPULATION = """[population]
name = "s"
substrate = "open"
params = {social = true}
size = 4
[shaping.svo_distance]
init = -0.5
[social.svo_angle]
init = [0.0, 90.0]
bounds = [-10.0, 100.0]
[social.inequity_decay]
init = 0.95
"""


def test_social_genes_are_checked_drawn_kept_in_bounds_and_published(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(POPULATION)
    spec = population_spec.load(path)
    names = [g.name for g in spec.all_genes()]
    assert "social.svo_angle" in names and "social.inequity_decay" in names
    gene = next(g for g in spec.all_genes() if g.name == "social.svo_angle")
    values = {"social.svo_angle": 95.0, "social.inequity_decay": 0.95}
    for seed in range(200):  # explore never leaves the bounds
        values, _ = explore((gene,), values, seed=seed)
        assert -10.0 <= values["social.svo_angle"] <= 100.0
    from popbased.population.member import initial_members

    members = initial_members(spec, resolve("open").action_names, {"reward": 1.0}, obs_size=11,
                              net=None or __import__("popbased.ppo.config", fromlist=["NetConfig"]).NetConfig(),
                              device="cpu", rng=np.random.default_rng(0), seed=0)
    for m in members.values():
        pub = m.learner.publication()
        assert pub["social"]["inequity_decay"] == 0.95 and 0.0 <= pub["social"]["svo_angle"] <= 90.0
    for text, message in ((POPULATION.replace("params = {social = true}", "params = {}"), "add social = true"),
                          (POPULATION.replace("bounds = [-10.0, 100.0]", "bounds = [-10.0, 200.0]"),
                           "200.0 is out of range; allowed -180 to 180"),
                          (POPULATION + "[social.alpha]\ninit = 1.0\n", "unknown key")):
        path.write_text(text)
        with pytest.raises(BadInput, match=message) as err:
            population_spec.load(path)
        assert "\n" not in str(err.value)


def test_melting_pots_rollout_workers_use_each_members_own_parameters():
    from popbased.ppo.config import NetConfig
    from popbased.ppo.learner import Learner
    from popbased.rollout.worker import RolloutWorker

    spec = resolve("open", {"social": "true"})
    worker = RolloutWorker(spec, 1, backend="inline", max_episode_steps=30)
    learner = Learner("m0", 11, worker.action_names, net=NetConfig(lstm=0), device="cpu")
    learner.social = {"inequity_decay": 0.5, "svo_angle": 80.0}
    out = worker.collect({"m0": learner.publication()}, ["m0"] * 7, 40)
    [batch] = out["batches"]
    cols = [batch.components.index(n) for n in social.SOCIAL_COMPONENTS]
    ref = social.ObserverTraces(1, 7)
    for t in range(40):
        r = batch.rewards[t][:, batch.components.index("reward")]
        want = ref.update(r[None], np.full((1, 7), 0.5), np.full((1, 7), math.radians(80.0)),
                          batch.dones[t][:1])
        np.testing.assert_allclose(batch.rewards[t][:, cols], want[0], rtol=1e-5, atol=1e-6)
    worker.close()
