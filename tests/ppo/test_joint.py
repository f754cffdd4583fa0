"""popbased.ppo.joint: several members' PPO updates as one stacked pass equal each member's
own Learner.update (weights, Adam state, stats), non-finite containment stays per member; on
every device of the `device` fixture (batches drawn as numpy, learners on the device)."""

import copy

import numpy as np
import pytest
import torch

from popbased.ppo.config import NetConfig, PPOConfig
from popbased.ppo.joint import key, update_all
from popbased.ppo.learner import Learner

from conftest import ACTIONS, make_batch

# float32 sums in another order (bmm vs mm, padded means), through 2 updates of Adam:
# observed differences about 1e-7 on the weights
ATOL = 2e-5

CONFIGS = [PPOConfig(lr=1e-3, minibatch_size=50, epochs=2),
           PPOConfig(lr=3e-4, minibatch_size=35, epochs=3, clip=0.1, ent_coef=0.02),
           PPOConfig(lr=5e-4, minibatch_size=200, epochs=1, vf_coef=1.0, max_grad_norm=0.05),
           PPOConfig(lr=2e-4, lr_schedule="linear", minibatch_size=64)]


def learners(device="cpu", configs=CONFIGS, net=NetConfig(mlp=(32,))):
    return {f"m{i}": Learner(f"m{i}", 11, ACTIONS, net=net, config=c, device=str(device), seed=i,
                             shaping_weights={"reward": 1.0, "others_reward": 0.1 * i},
                             total_steps=2000)
            for i, c in enumerate(configs)}


def batches(seed=0, seats=(6, 2, 1, 4), steps=(20, 20, 30, 10)):
    return {f"m{i}": make_batch(steps=t, seats=n, seed=seed + i, member=f"m{i}")
            for i, (n, t) in enumerate(zip(seats, steps))}


def assert_same(a: Learner, b: Learner):
    for (name, p), q in zip(a.policy.named_parameters(), b.policy.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=ATOL, msg=name)
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sa["state"].keys() == sb["state"].keys()
    for k in sa["state"]:
        assert float(sa["state"][k]["step"]) == float(sb["state"][k]["step"])
        for moment in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(sa["state"][k][moment], sb["state"][k][moment], rtol=1e-3,
                                       atol=1e-6)
    assert (a.version, a.updates, a.agent_steps, a.flags) == (b.version, b.updates, b.agent_steps,
                                                              b.flags)
    assert a.generator.get_state().equal(b.generator.get_state())


def assert_same_stats(x: dict, y: dict):
    assert x.keys() == y.keys()
    for k in x:
        assert x[k] == pytest.approx(y[k], rel=1e-3, abs=1e-5, nan_ok=True), k


def test_joint_updates_equal_each_members_own(device):
    own, joint = learners(device), learners(device)
    for seed in (0, 10):  # twice: the second starts from Adam state the first wrote back
        b = batches(seed)
        expected = {m: own[m].update(copy.deepcopy(b[m])) for m in own}
        got = update_all(joint, b)
        for m in own:
            assert_same(own[m], joint[m])
            assert_same_stats(expected[m], got[m])
    assert all(l.updates == 2 and l.optimizer.state for l in joint.values())


def test_a_nonfinite_member_is_contained_alone(device):
    own, joint = learners(device), learners(device)
    b = batches()
    b["m1"].logp[:] = -1e30  # its loss overflows at its first step
    b["m2"].rewards[0, 0, 0] = np.nan  # never reaches an optimizer step
    expected = {m: own[m].update(copy.deepcopy(b[m])) for m in own}
    got = update_all(joint, b)
    assert got["m1"]["skipped"] == 1.0 and got["m2"]["skipped"] == 1.0
    assert "non-finite loss" in joint["m1"].flags[0] and "non-finite" in joint["m2"].flags[0]
    for m in own:
        assert_same(own[m], joint[m])
        assert_same_stats(expected[m], got[m])


def test_a_gradient_that_turns_nonfinite_keeps_the_earlier_steps(device):
    own, joint = learners(device), learners(device)
    b = batches()
    for group in (own, joint):  # m0's gradient turns NaN at its 3rd step
        calls = {"n": 0}

        def poison(grad, calls=calls):
            calls["n"] += 1
            return grad * float("nan") if calls["n"] >= 3 else grad
        group["m0"].policy.actor.weight.register_hook(poison)
    for m in own:
        own[m].update(copy.deepcopy(b[m]))
    # the joint pass differentiates the stacked weights, not m0's own: poison its rows there
    from popbased.ppo import joint as joint_module
    original = joint_module._Stack.__init__
    steps = {"n": 0}

    def init(self, ls):
        original(self, ls)

        def hook(grad):
            steps["n"] += 1
            if steps["n"] >= 3:
                grad = grad.clone()
                grad[0] = float("nan")
            return grad
        self.params["actor.weight"].register_hook(hook)
    joint_module._Stack.__init__ = init
    try:
        update_all(joint, b)
    finally:
        joint_module._Stack.__init__ = original
    assert "non-finite gradient" in joint["m0"].flags[0] and joint["m0"].version == 1
    for m in own:
        assert_same(own[m], joint[m])


def test_who_updates_together(device):
    ls = learners(device, CONFIGS[:2] + [PPOConfig(vf_clip=0.2)])
    assert key(ls["m0"]) == key(ls["m1"]) != key(ls["m2"])  # value clipping on or off
    recurrent = Learner("r", 11, ACTIONS, net=NetConfig(mlp=(32,), lstm=8), device=str(device))
    other_net = Learner("o", 11, ACTIONS, net=NetConfig(mlp=(16,)), device=str(device))
    assert key(recurrent) is None and key(other_net) != key(ls["m0"])
    # mixed groups: each part still equals the members' own updates
    own = {**learners(device, CONFIGS[:2]),
           "r": Learner("r", 11, ACTIONS, net=NetConfig(mlp=(32,), lstm=8),
                        config=PPOConfig(minibatch_size=40, bptt=10), device=str(device), seed=7)}
    joint = copy.deepcopy(own)
    b = {"m0": make_batch(seed=1, member="m0"), "m1": make_batch(seed=2, member="m1"),
         "r": make_batch(lstm=8, seed=3, member="r")}
    for m in own:
        own[m].update(copy.deepcopy(b[m]))
    update_all(joint, b)
    for m in own:
        assert_same(own[m], joint[m])


def test_a_fast_env_run_trains_every_member_jointly(tmp_path, device):
    """`joint_update` in a real run: the device collector's batches, three members updated
    together each round, their checkpoints written."""
    from popbased.run.train import train
    from popbased.selfplay import TrainConfig

    config = TrainConfig("open", steps=3 * 7 * 4 * 20, members=3, envs_per_worker=2,
                         rollout_length=20, device=str(device), env="fast", joint_update=True,
                         ppo=PPOConfig(minibatch_size=100), net=NetConfig(mlp=(32,)),
                         out=str(tmp_path))
    report = train(config)
    assert set(report["learners"]) == {"m0", "m1", "m2"}
    for stats in report["learners"].values():
        assert stats["skipped"] == 0.0 and np.isfinite(stats["policy_loss"])
    assert all((tmp_path / f"m{i}.pt").exists() for i in range(3))
