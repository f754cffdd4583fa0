"""Melting Pot's bots as a league background source (popbased.league.bots): league files name
bots or scenarios, each checked (a bot, fit for the arena, its saved model present); matchmaking
seats them (`bot:NAME` per background seat); a league with bots plays on Melting Pot."""

import pytest

from popbased.errors import BadInput
from popbased.league.spec import load

from conftest import league_text, write_league


def _root(tmp_path, *models):
    root = tmp_path / "bots"
    for model in models:
        (root / model).mkdir(parents=True)
        (root / model / "saved_model.pb").write_bytes(b"")
    return root


def _league(tmp_path, bots, root=None, sources='"populations", "bots"'):
    extra = f"[background]\nsources = [{sources}]\nbots = {bots}\n"
    if root is not None:
        extra += f'bots_root = "{root}"\n'
    return write_league(tmp_path, league_text(extra=extra))


@pytest.mark.parametrize("bots, message", [
    ('["commons_harvest__open__free_9"]', "did you mean commons_harvest__open__free_"),
    ('["clean_up_0"]', "trained on clean_up, not on the arena 'open'"),
    ('"commons_harvest__open_0"', "expected a list"),
    ('["commons_harvest__open_0"]', "needs commons_harvest__open/free_1 under"),
])
def test_bot_sources_are_checked(tmp_path, bots, message):
    root = _root(tmp_path, "commons_harvest__open/free_0")
    with pytest.raises(BadInput, match=message):
        load(_league(tmp_path, bots, root))


def test_bot_sources_become_backgrounds_drawn_per_seat_on_melting_pot(tmp_path):
    import numpy as np

    from popbased.league.matchmaking import Matchmaker, sources
    from popbased.league.run import train_config

    root = _root(tmp_path, "commons_harvest__open/free_0", "commons_harvest__open/free_1",
                 "commons_harvest__open/pacifist_0")
    spec = load(_league(tmp_path, '["commons_harvest__open_0", "commons_harvest__open__pacifist_0"]', root))
    assert [(b.label, b.bots) for b in spec.bots] == [
        ("bots:commons_harvest__open_0", ("commons_harvest__open__free_0", "commons_harvest__open__free_1")),
        ("bots:commons_harvest__open__pacifist_0", ("commons_harvest__open__pacifist_0",))]
    assert spec.bots_root == str(root)
    assert sources(spec, "open", []) == ["no_zap", "bots:commons_harvest__open_0",
                                         "bots:commons_harvest__open__pacifist_0"]
    maker = Matchmaker(spec, {"open": ["open/m0", "open/m1"], "no_zap": ["no_zap/m0", "no_zap/m1"]}, 7)
    rng = np.random.default_rng(0)
    drawn = set()
    for _ in range(40):
        match = maker.match(rng, "uniform", "train", 1)
        seats = maker.seats(rng, match)
        others = [seats[s] for s in range(7) if s not in match.focal_seats]
        if match.background == "bots:commons_harvest__open_0":
            assert set(others) <= {"bot:commons_harvest__open__free_0", "bot:commons_harvest__open__free_1"}
            drawn |= set(others)
        elif match.background == "bots:commons_harvest__open__pacifist_0":
            assert set(others) == {"bot:commons_harvest__open__pacifist_0"}
    assert len(drawn) == 2  # each seat draws its own bot
    assert train_config(spec, 1, rollout_length=50).env == "meltingpot"  # env "auto" with bots: Melting Pot
    with pytest.raises(BadInput, match="--env fast"):
        train_config(spec, 1, env="fast", rollout_length=50)
    with pytest.raises(BadInput, match="'bots' is not among the sources"):
        load(_league(tmp_path, '["commons_harvest__open_0"]', root, sources='"populations"'))
    text = league_text(league='env = "fast"', extra=f'[background]\nsources = ["bots"]\n'
                       f'bots = ["commons_harvest__open_0"]\nbots_root = "{root}"\n')
    with pytest.raises(BadInput, match="not the fast env"):
        load(write_league(tmp_path, text))
    text = league_text(league='arena_params = {no_zap = true}', extra=f'[background]\nsources = ["bots"]\n'
                       f'bots = ["commons_harvest__open_0"]\nbots_root = "{root}"\n')
    with pytest.raises(BadInput, match="other actions than commons_harvest__open"):
        load(write_league(tmp_path, text))
