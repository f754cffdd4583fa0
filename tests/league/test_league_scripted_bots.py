"""Scripted players as a league background (`[background] bots = ["scripted:NAME", ...]`,
popbased.league.bots): checked against the arena, no models needed, seated as `scripted:NAME`,
and a tiny league with them trains on both engines (the device collector on the fast env, Ray
rollout workers on Melting Pot), across two arenas, with their matches in the payoff table."""

import json

import numpy as np
import pytest

from popbased.errors import BadInput
from popbased.league.matchmaking import Matchmaker
from popbased.league.spec import load

from conftest import league_text, write_league

BOTS = '["scripted:greedy_zapper", "scripted:chaser"]'


def _league(tmp_path, bots=BOTS, league="", populations=("open",)):
    extra = f'[background]\nsources = ["bots"]\nbots = {bots}\n[evaluation]\nepisodes = 1\n'
    return write_league(tmp_path, league_text(populations, extra=extra, league=league))


def test_scripted_bots_are_sources_on_both_engines_seated_by_their_own_name(tmp_path):
    from popbased.league.run import train_config

    spec = load(_league(tmp_path))
    assert [(b.label, b.bots, b.scripted) for b in spec.bots] == [
        ("bots:scripted:greedy_zapper", ("scripted:greedy_zapper",), True),
        ("bots:scripted:chaser", ("scripted:chaser",), True)]
    assert spec.melting_pot_bots == () and spec.scripted_bots and spec.bots_root is None
    assert train_config(spec, 1, rollout_length=50).env == "fast"  # auto: no Melting Pot bots
    assert train_config(spec, 1, env="meltingpot", rollout_length=50).env == "meltingpot"
    maker = Matchmaker(spec, {"open": ["open/m0", "open/m1"]}, 7)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(30):
        match = maker.match(rng, "uniform", "train", 1)
        seats = maker.seats(rng, match)
        if match.background.startswith("bots:"):
            others = {seats[s] for s in range(7) if s not in match.focal_seats}
            assert others == {match.background[len("bots:"):]}
            seen |= others
    assert seen == {"scripted:greedy_zapper", "scripted:chaser"}


@pytest.mark.parametrize("bots, league, message", [
    ('["scripted:zapper"]', "", "no such scripted policy; allowed: scripted:sustainable"),
    ('["scripted:chaser"]', "arena_params = {no_zap = true}", "scripted:chaser needs the actions FIRE_ZAP"),
])
def test_scripted_bots_are_checked_in_one_line(tmp_path, bots, league, message):
    with pytest.raises(BadInput, match=message) as err:
        load(_league(tmp_path, bots, league))
    assert "\n" not in str(err.value) and "[background] bots" in str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize("env", ["fast", "meltingpot"])
def test_a_tiny_league_across_two_arenas_against_scripted_bots_on_both_engines(tmp_path, env, ray_local):
    """The issue's tiny league: scripted-bot background and two arenas (open, closed), on both
    engines (fast: one batch per arena; Melting Pot: one arena per rollout worker); every round
    records the episodes that ended in each arena, and the generation the sum of its training
    rounds', in generations.jsonl and in MLflow (`arenas/NAME`)."""
    from conftest import mlflow_client
    from popbased.league.run import make_loop, train_config
    from popbased.tracking.league import LeagueTracking

    path = _league(tmp_path)
    path.write_text(path.read_text().replace("steps_per_generation = 1500", "steps_per_generation = 2800")
                    + '[arenas.open]\nsubstrate = "open"\n[arenas.closed]\nsubstrate = "commons_harvest__closed"\n')
    spec = load(path)
    assert [a.name for a in spec.arenas] == ["open", "closed"]
    out = tmp_path / "run"
    config = train_config(spec, 1, workers=2, envs_per_worker=2, rollout_length=50, env=env, out=str(out))
    out.mkdir()
    tracking = LeagueTracking(f"sqlite:///{tmp_path / 'mlflow.db'}", out, spec, {})
    assert make_loop(spec, config, 1, on_generation=tracking.generation).run()["generation"] == 1
    tracking.close()
    rounds = [json.loads(line) for line in (out / "rounds.jsonl").read_text().splitlines()]
    seen, trained = {}, {}
    for r in rounds:
        for arena, n in (r.get("arenas") or {}).items():
            seen[arena] = seen.get(arena, 0) + n
            if r["phase"] == "train":
                trained[arena] = trained.get(arena, 0) + n
    assert set(seen) == {"open", "closed"} and seen["open"] == seen["closed"]  # 2 worlds each
    assert 0 < trained["open"] < seen["open"]  # the evaluation rounds also ended episodes
    [generation] = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert generation["arenas"] == trained  # the draws trained on
    client = mlflow_client(tmp_path)
    [run] = [r for r in client.search_runs([client.get_experiment_by_name(f"league-{spec.name}").experiment_id])
             if r.data.tags.get("popbased.kind") == "league"]
    assert {k: v for k, v in run.data.metrics.items() if k.startswith("arenas/")} == \
        {f"arenas/{a}": float(n) for a, n in trained.items()}
    [payoff] = [json.loads(line) for line in (out / "payoff.jsonl").read_text().splitlines()]
    backgrounds = {cell.split("|")[1] for cell in payoff["cells"]}
    assert {"bots:scripted:greedy_zapper", "bots:scripted:chaser"} <= backgrounds
    zapper = [c for k, c in payoff["cells"].items() if "greedy_zapper" in k]
    assert sum(sum(c["background"]) for c in zapper) > 0  # the greedy zappers harvested
