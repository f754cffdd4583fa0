"""Evaluations where no env plays a second episode start no spare env processes (which only hide
resets): each env's first episode is the one counted, with spares or without. (Melting Pot's
episodes themselves differ run to run, Lab2d's Lua table order, so they are not compared.)"""

from popbased.play import episodes


def test_no_spares_where_each_env_plays_one_episode(monkeypatch):
    made = []
    real = episodes.make_env

    def spy(*args, **kwargs):
        env = real(*args, **kwargs)
        made.append((kwargs.get("spares"), env.num_workers))
        return env

    monkeypatch.setattr(episodes, "make_env", spy)
    play = dict(max_steps=40, seed=3, num_envs=2, backend="process")
    two = episodes.random_play("open", episodes=2, **play)
    three = episodes.random_play("open", episodes=3, **play)
    assert made == [(0, 2), (None, 3)]  # 2 episodes on 2 envs: no spare; 3 on 2: the pool's one
    assert sorted(e["env"] for e in two["episodes"]) == [0, 1]
    assert sorted(e["env"] for e in three["episodes"]) == [0, 0, 1]
    assert all(e["steps"] == 40 for e in two["episodes"] + three["episodes"])
