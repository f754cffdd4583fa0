"""FastBatchedEnv: BatchedEnv's interface and metrics, resets, regrowth and episode statistics
(the interface, metrics and resets on every device of the `device` fixture)."""

import numpy as np
import pytest
import torch

from popbased.env.fast import stat_checks
from popbased.env.fast.env import FastBatchedEnv
from popbased.env.instance import FAST_COMPONENTS
from popbased.env.metrics import EpisodeTracker
from popbased.env.pool import BatchedEnv
from popbased.errors import BadInput
from popbased.play import random_play
from popbased.substrates import resolve
from popbased.substrates.params import CommonsParams


@pytest.mark.parametrize("name", ["farmer", "no_zap"])
def test_same_interface_as_batched_env(name, device):
    spec = resolve(name)
    real = BatchedEnv(spec, 1, seed=0, backend="inline", max_episode_steps=30)
    fast = FastBatchedEnv(spec, 3, seed=0, max_episode_steps=30, device=device)
    # the fast env also counts what Melting Pot's events cannot (last_apples), after the rest
    assert fast.components == real.components + FAST_COMPONENTS
    assert fast.action_names == real.action_names
    assert fast.num_actions == real.num_actions and fast.players == real.players
    if name == "no_zap":
        assert "FIRE_ZAP" not in fast.action_names
    o_real, o_fast = real.reset(), fast.reset()
    for field in ("rgb", "ready_to_shoot", "action_mask"):
        a, b = getattr(o_real, field), getattr(o_fast, field)
        assert a.dtype == b.dtype and a.shape[1:] == b.shape[1:] and b.shape[0] == fast.num_seats
    rng = np.random.default_rng(0)
    ends_real, ends_fast = [], []
    for _ in range(30):
        r = real.step(rng.integers(0, real.num_actions, real.num_seats))
        f = fast.step(rng.integers(0, fast.num_actions, fast.num_seats))
        assert r.rewards.dtype == f.rewards.dtype
        assert r.rewards.shape[1] + len(FAST_COMPONENTS) == f.rewards.shape[1]
        assert r.done.dtype == f.done.dtype and f.done.shape == (fast.num_seats,)
        ends_real += r.episodes
        ends_fast += f.episodes
    real.close()
    assert len(ends_real) == 1 and len(ends_fast) == 3
    assert set(ends_real[0]) == set(ends_fast[0])
    for key, value in ends_real[0].items():
        assert type(value) is type(ends_fast[0][key]) or value is None or ends_fast[0][key] is None, key
    assert ends_fast[0]["truncated"] and ends_fast[0]["steps"] == 30
    with pytest.raises(BadInput):
        fast.step(np.zeros(5, dtype=np.int64))


def test_metrics_match_episode_tracker(device):
    """The batched tracker and popbased.env.metrics.EpisodeTracker on the same steps."""
    spec = resolve("farmer")
    env = FastBatchedEnv(spec, 2, seed=3, max_episode_steps=250, series_every=50, device=device)
    env.reset()
    trackers = [EpisodeTracker(spec.num_players, series_every=50) for _ in range(2)]
    start = env.patch_apples().cpu().numpy()
    for b, t in enumerate(trackers):
        t.reset(64.0, start[b])
    # each step's per-patch counts as the env hands them to its tracker (the last step's are
    # gone with the worlds reset at its end)
    seen, update = [], env.tracker.update
    env.tracker.update = lambda *a, **k: (seen.append(a[6].cpu().numpy()), update(*a, **k))[1]
    gen = torch.Generator().manual_seed(0)
    col = env.column
    for step in range(250):
        out = env.step_tensors(torch.randint(0, env.num_actions, (env.num_seats,), generator=gen)
                               .to(device))
        ev = env.last_events
        rewards = out.rewards.view(2, spec.num_players, -1).double().cpu().numpy()
        for b, tracker in enumerate(trackers):
            eaten = [p for p in range(spec.num_players) for _ in range(int(ev.eaten[b, p]))]
            zaps = [(p, int(x)) for p in range(spec.num_players) for x in ev.hits[b, p] if x >= 0]
            apples = float(env.world.apples()[b]) if not out.done[b * spec.num_players] else None
            if apples is None:  # the world was reset this step: its final apples went with it
                apples = out.episodes[[e["env"] for e in out.episodes].index(b)]["apples_final"]
            tracker.update(rewards[b, :, col["reward"]], eaten, zaps, rewards[b, :, col["zaps_fired"]],
                           apples, {"farmer": spec.farmer_weight * rewards[b, :, col["apples_in_view"]]},
                           seen[-1][b])
    assert len(out.episodes) == 2
    for e in out.episodes:
        assert e["patches"] == 6 and e["patch_deaths"] is not None
        expected = {**trackers[e["env"]].summary(), "truncated": True, "env": e["env"]}
        assert e == expected


def test_resets_are_in_the_same_step(device):
    env = FastBatchedEnv(resolve("open"), 4, seed=1, max_episode_steps=7, device=device)
    env.reset()
    for step in range(7):
        out = env.step_tensors(torch.full((env.num_seats,), 7, device=device))
    assert out.done.all() and len(out.episodes) == 4
    assert (env.world.t == 0).all() and env.world.alive.all() and (env.world.apples() == 64).all()
    assert (out.ready_to_shoot == 1).all() and (env.tracker.step_count == 0).all()
    assert (env.world.timer == 0).all() and not env.world.beam.any()


@pytest.mark.slow  # statistics over recorded Melting Pot play, three times over
@pytest.mark.parametrize("factor", [0.1, 1.0, 100.0])
def test_regrowth_frequency_per_group(factor):
    result = stat_checks.regrowth(CommonsParams(regrowth=factor), 300, [31], fast_worlds=32)
    tested = 0
    for row in result["groups"]:
        for side in ("melting_pot", "fast"):
            if side in row:
                assert row[side]["p_value"] > 1e-4, (side, row)
                tested += row[side]["eligible"]
    assert tested > 1000


@pytest.mark.slow
def test_short_random_play_statistics_agree():
    real = random_play("open", episodes=6, max_steps=300, seed=2, num_envs=2)["episodes"]
    fast = stat_checks.fast_random_play(resolve("open"), 24, 300, seed=2)
    result = stat_checks.compare_episodes(real, fast)
    for name in ("per_capita_return", "zaps_fired_per_capita", "zap_hits_per_capita", "apples_final"):
        assert result["metrics"][name]["welch_t_p_value"] > 1e-3, (name, result["metrics"][name])
