"""Patch deaths on the fast env (popbased.env.fast.tracker, FastBatchedEnv.patch_apples): the
map's patches as popbased.env.fast.ceiling finds them, a patch eaten out by setting the world
state, greedy players killing the map, and the "reached 0 at some step" rule on the trackers of
both engines (a patch that comes back in the next step, as the two-step count lag allows, still
counts as dead)."""

import numpy as np
import torch

from popbased.env.fast import scripted as fs
from popbased.env.fast.ceiling import patch_index, patches
from popbased.env.fast.env import FastBatchedEnv
from popbased.env.fast.tracker import BatchTracker
from popbased.env.metrics import EpisodeTracker
from popbased.substrates import resolve


def noop(env):
    return torch.full((env.num_seats,), env.action_names.index("NOOP"), dtype=torch.int64)


def test_patch_counts_follow_the_world(device):
    env = FastBatchedEnv(resolve("open"), 2, seed=0, max_episode_steps=50, device=device)
    env.reset()
    index = patch_index(env.game)
    assert sorted(np.bincount(index).tolist()) == [6, 6, 13, 13, 13, 13]
    for _ in range(20):
        env.step_tensors(torch.randint(0, env.num_actions, (env.num_seats,)).to(device))
        live = env.world.live[:, :env.game.num_apples].cpu().numpy()
        expected = np.stack([np.bincount(index, weights=row, minlength=6) for row in live])
        assert np.array_equal(env.patch_apples().cpu().numpy(), expected)


def test_a_patch_eaten_out_by_setting_the_world_state(device):
    env = FastBatchedEnv(resolve("open"), 2, seed=0, max_episode_steps=5, device=device)
    env.reset()
    found = patches(env.game)
    corner, diamond = [p for p in found if len(p) == 6][0], [p for p in found if len(p) == 13][0]
    # world 0: one corner patch and one diamond eaten to the last apple (just eaten: waiting,
    # group -1), a second diamond down to one apple; world 1 untouched
    gone = list(corner) + list(diamond) + list([p for p in found if len(p) == 13][1][1:])
    w = env.world
    w.live[0, gone] = False
    w.group[0, gone] = -1
    for _ in range(5):
        out = env.step_tensors(noop(env).to(device))  # nobody moves, so nobody eats
    first, second = sorted(out.episodes, key=lambda e: e["env"])
    assert first["patches"] == second["patches"] == 6
    assert first["patch_deaths"] == 2 and second["patch_deaths"] == 0
    assert first["apples_min"] == 64 - len(gone) and not first["depleted"]
    # the next episodes start afresh
    assert not env.tracker.patch_dead.any()


def test_greedy_players_kill_every_patch(device):
    # seven greedy players empty the open map in about 35 steps, patch after patch
    env = FastBatchedEnv(resolve("open"), 2, seed=1, max_episode_steps=80, device=device)
    env.reset()
    scripted = fs.Scripted(env.world)
    table = torch.from_numpy(fs.move_actions(env.action_names)).to(device)
    dead = []
    for _ in range(80):
        out = env.step_tensors(table[scripted.moves("greedy")].view(-1))
        dead.append(env.tracker.patch_dead.sum(1).tolist())
    assert len(out.episodes) == 2
    assert any(0 < d < 6 for row in dead for d in row)  # some patches dead before the map is
    for e in out.episodes:
        assert e["depleted"] and e["patches"] == 6 and e["patch_deaths"] == 6


def test_a_patch_that_comes_back_still_counts_as_dead():
    # both engines' trackers, one world: patch 1 reaches 0 at step 2 and has an apple again at
    # step 3 (the lag: regrowth at step 3 reads the count of step 1); patch 2 dies at step 4
    counts = [[3, 2, 5], [3, 0, 5], [3, 1, 5], [2, 1, 0], [2, 1, 0]]
    mp = EpisodeTracker(1, series_every=10)
    mp.reset(10.0, [3, 2, 5])
    fast = BatchTracker(1, 1, "cpu", series_every=10, patches=3)
    fast.reset(torch.ones(1, dtype=torch.bool), torch.tensor([10.0]), torch.tensor([[3.0, 2, 5]]))
    zero = torch.zeros(1, 1)
    for row in counts:
        mp.update(np.zeros(1), [], [], None, float(sum(row)), patch_apples=row)
        fast.update(zero, zero, torch.full((1, 1, 3), -1), None, torch.tensor([float(sum(row))]),
                    patch_apples=torch.tensor([row], dtype=torch.float32))
    a, (_, b) = mp.summary(), fast.summaries(torch.ones(1, dtype=torch.bool))[0]
    assert a["patches"] == b["patches"] == 3
    assert a["patch_deaths"] == b["patch_deaths"] == 2
    # a patch with no apple at the start is dead from the start; no counts: None, as `depleted`
    mp.reset(5.0, [0, 5])
    assert mp.summary()["patch_deaths"] == 1
    mp.reset(None)
    assert mp.summary()["patches"] is None and mp.summary()["patch_deaths"] is None
    none = BatchTracker(1, 1, "cpu")
    none.reset(torch.ones(1, dtype=torch.bool), torch.tensor([10.0]))
    _, c = none.summaries(torch.ones(1, dtype=torch.bool))[0]
    assert c["patches"] is None and c["patch_deaths"] is None
