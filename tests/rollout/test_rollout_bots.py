"""Melting Pot's bots in rollout workers' seats (popbased.rollout.bots): bots of our own in
DeepMind's format, played by Melting Pot's bot code on full-resolution views, beside a member
that reads its usual 11x11 views (workers are Ray actors: TensorFlow stays in them)."""

import pytest

from popbased.errors import BadInput


@pytest.mark.slow  # a Ray actor with TensorFlow and a Melting Pot env
def test_bots_take_seats_beside_a_member(ray_local, open_bots):
    from popbased.ppo.learner import Learner
    from popbased.rollout.collector import Collector
    from popbased.substrates import resolve

    arena = resolve("open")
    member = Learner("open/m0", 11, arena.action_names, device="cpu", seed=1)
    seats = ["open/m0"] * 5 + ["bot:commons_harvest__open__free_0", "bot:commons_harvest__open__pacifist_0"]
    collector = Collector(arena, workers=1, envs_per_worker=1, max_episode_steps=60, env_backend="inline",
                          bots=(str(open_bots), "commons_harvest__open"))  # free_* zap, pacifist_* walk
    try:
        fragment = collector.collect(collector.publish([member.publication()]), [seats], 60)
    finally:
        collector.close()
    assert list(fragment.batches) == ["open/m0"]  # the member learns from its 5 seats; bots need no weights
    assert fragment.batches["open/m0"].obs.shape == (60, 5, 11, 11, 3)
    episode, = fragment.episodes
    assert episode["members"] == seats and episode["steps"] == 60
    assert episode["zaps_fired"][5] > 0 and episode["zaps_fired"][6] == 0  # the zapper zaps
    plain = Collector(arena, workers=1, envs_per_worker=1, max_episode_steps=60, env_backend="inline")
    try:
        with pytest.raises(BadInput, match="without a bots root"):
            plain.collect(plain.publish([member.publication()]), [seats], 5)
    finally:
        plain.close()
